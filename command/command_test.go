package command_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
)

var t0 = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

func validCommand() command.Command {
	return command.Command{ID: "c-1", Device: "gh-1", Actuator: "heater", Value: 1, Deadline: t0.Add(30 * time.Second), By: "alice", At: t0}
}

func TestCommandRoundTrip(t *testing.T) {
	c := validCommand()
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"id":"c-1","device":"gh-1","actuator":"heater","value":1,"deadline":"2026-12-03T18:00:30.000Z","by":"alice","at":"2026-12-03T18:00:00.000Z"}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	got, err := command.Decode(b)
	if err != nil || got != c {
		t.Fatalf("Decode: %+v, %v", got, err)
	}
}

func TestCommandRefusals(t *testing.T) {
	for name, mut := range map[string]func(*command.Command){
		"bad id":             func(c *command.Command) { c.ID = "a b" },
		"no actuator":        func(c *command.Command) { c.Actuator = "" },
		"deadline before":    func(c *command.Command) { c.Deadline = c.At },
		"deadline too far":   func(c *command.Command) { c.Deadline = c.At.Add(command.MaxLifetime + time.Second) },
		"control char in by": func(c *command.Command) { c.By = "al\nice" },
		"long by":            func(c *command.Command) { c.By = strings.Repeat("a", command.MaxByLen+1) },
	} {
		c := validCommand()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
	for _, in := range []string{
		`{"v":2,"id":"c","device":"d","actuator":"a","value":1,"deadline":"2026-12-03T18:00:30Z","at":"2026-12-03T18:00:00Z"}`,
		`{"id":"c","device":"d","actuator":"a","value":1,"deadline":"2026-12-03T18:00:30Z","at":"2026-12-03T18:00:00Z","extra":1}`,
		`{"id":"c","device":"d","actuator":"a","deadline":"2026-12-03T18:00:30Z","at":"2026-12-03T18:00:00Z"}`,
		`{"id":"c","device":"d","actuator":"a","value":1,"deadline":"2026-12-03T18:00:30Z","at":"2026-12-03T18:00:00Z"} {}`,
		strings.Repeat(" ", command.MaxEncoded+1),
	} {
		if _, err := command.Decode([]byte(in)); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("Decode(%.60q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestStatusAndEventRoundTrip(t *testing.T) {
	s := command.Status{ID: "c-1", Device: "gh-1", Actuator: "heater", State: command.Refused, Reason: command.ReasonInterlock, Detail: "fan is on", Value: 1, Time: t0}
	e := command.Event{Status: &s}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := command.DecodeEvent(b)
	if err != nil || got.Status == nil || *got.Status != s || got.Device() != "gh-1" {
		t.Fatalf("DecodeEvent(%s) = %+v, %v", b, got, err)
	}
	c := validCommand()
	b, _ = command.Event{Command: &c}.MarshalJSON()
	if got, err := command.DecodeEvent(b); err != nil || got.Command == nil || *got.Command != c {
		t.Fatalf("command event: %+v, %v", got, err)
	}
	for _, in := range []string{`{}`, `{"command":null,"status":null}`, `{"status":{"id":"c"}}`} {
		if _, err := command.DecodeEvent([]byte(in)); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("DecodeEvent(%s) = %v, want ErrInvalid", in, err)
		}
	}
	bad := s
	bad.Reason = ""
	if err := bad.Validate(); err == nil {
		t.Error("a refusal without a reason validated")
	}
	ok := s
	ok.State, ok.Reason, ok.Detail = command.Applied, "", ""
	if err := ok.Validate(); err != nil {
		t.Errorf("applied: %v", err)
	}
}

func TestActuators(t *testing.T) {
	as := []command.Actuator{
		{Name: "heater", Kind: command.KindSwitch, Min: 0, Max: 1, Safe: "off", Interlock: []string{"fan"}},
		{Name: "fan", Kind: command.KindLevel, Min: 0, Max: 100, Safe: "0"},
	}
	b, err := command.EncodeActuators(as)
	if err != nil {
		t.Fatal(err)
	}
	got, err := command.DecodeActuators(b)
	if err != nil || len(got) != 2 || got[1].Max != 100 {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, in := range []string{
		`[{"name":"a","kind":"switch","min":0,"max":2,"safe":"off"}]`,
		`[{"name":"a","kind":"dial","min":0,"max":1,"safe":"off"}]`,
		`[{"name":"a","kind":"level","min":0,"max":101,"safe":"0"}]`,
		`[{"name":"a","kind":"switch","min":0,"max":1,"safe":"off"},{"name":"a","kind":"switch","min":0,"max":1,"safe":"off"}]`,
	} {
		if _, err := command.DecodeActuators([]byte(in)); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("DecodeActuators(%s) = %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	c := validCommand()
	f.Add(c.AppendJSON(nil))
	f.Add([]byte(`{"status":{"v":1,"id":"c","device":"d","actuator":"a","state":"applied","value":1,"ts":"2026-12-03T18:00:00.000Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := command.Decode(b); err == nil {
			if again, err := command.Decode(c.AppendJSON(nil)); err != nil || again != c {
				t.Fatalf("re-decode of %q: %+v, %v", b, again, err)
			}
		}
		if e, err := command.DecodeEvent(b); err == nil {
			if _, err := command.DecodeEvent(e.AppendJSON(nil)); err != nil {
				t.Fatalf("re-decode event of %q: %v", b, err)
			}
		}
	})
}
