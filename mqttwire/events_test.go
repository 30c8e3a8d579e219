package mqttwire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
)

func TestCommandTopics(t *testing.T) {
	for topic, want := range map[string]string{CommandsTopic("gh-1"): KindCommands, EventsTopic("gh-1"): KindEvents} {
		dev, kind, ok := ParseTopic(topic)
		if !ok || dev != "gh-1" || kind != want {
			t.Errorf("ParseTopic(%q) = %q, %q, %v", topic, dev, kind, ok)
		}
	}
	if _, _, ok := ParseTopic("tributary/gh-1/other"); ok {
		t.Error("an unknown kind parsed")
	}
}

func TestEventsRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	c := command.Command{ID: "l1", Device: "gh-1", Actuator: "fan", Value: 40, Deadline: t0.Add(time.Minute), By: "tech", At: t0}
	evs := []command.Event{{Command: &c}, {Status: &command.Status{ID: "l1", Device: "gh-1", Actuator: "fan", State: command.Applied, Value: 40, Time: t0}}}
	b, err := EncodeEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEvents(b)
	if err != nil || !reflect.DeepEqual(got, evs) {
		t.Fatalf("DecodeEvents(%s) = %+v, %v", b, got, err)
	}
	for _, in := range []string{`[]`, `{}`, `[{}]`, "[" + strings.Repeat(string(b[1:len(b)-1])+",", 60) + string(b[1:]), strings.Repeat(" ", MaxEventsEncoded+1)} {
		if _, err := DecodeEvents([]byte(in)); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("DecodeEvents(%.50q) = %v, want ErrInvalid", in, err)
		}
	}
	if _, err := EncodeEvents(nil); err == nil {
		t.Error("no events encoded")
	}
}

func TestStatusActuators(t *testing.T) {
	as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	st := Status{Online: true, Boot: "b", FirstSeq: 1, Actuators: as}
	b, err := EncodeStatus(st)
	if err != nil || !strings.Contains(string(b), `"actuators":[{"name":"heater"`) {
		t.Fatalf("EncodeStatus: %s, %v", b, err)
	}
	got, err := DecodeStatus(b)
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("DecodeStatus: %+v, %v", got, err)
	}
	bad := strings.Replace(string(b), `"max":1`, `"max":7`, 1)
	if _, err := DecodeStatus([]byte(bad)); !errors.Is(err, ErrBadStatus) {
		t.Errorf("a bad actuator: %v", err)
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`[{"status":{"v":1,"id":"c","device":"d","actuator":"a","state":"applied","value":1,"ts":"2026-12-03T18:00:00.000Z"}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := DecodeEvents(b)
		if err != nil {
			return
		}
		again, err := EncodeEvents(evs)
		if err != nil {
			t.Fatalf("re-encoding %q: %v", b, err)
		}
		if _, err := DecodeEvents(again); err != nil {
			t.Fatalf("re-decoding %q: %v", again, err)
		}
	})
}
