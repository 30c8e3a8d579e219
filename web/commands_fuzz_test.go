package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/reading"
)

// FuzzCommandMessage: whatever a client sends as a command message, the
// handler answers it with exactly one frame (a recorded command that
// decodes, or an error) or closes on a type it does not know; it records
// only valid commands, stamped with the connection's user.
func FuzzCommandMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"command","id":"c-1","device":"gh-1","actuator":"heater","value":1}`,
		`{"type":"command","device":"gh-1","actuator":"fan","value":55,"timeout":"90s"}`,
		`{"type":"command","device":"gh-1","actuator":"fan","value":55,"deadline":"2026-12-03T18:05:00Z"}`,
		`{"type":"command","device":"gh-1","actuator":"fan","value":1e309}`,
		`{"type":"command","device":"gh-1","actuator":"heater","value":1,"by":"root"}`,
		`{"type":"reboot"}`,
		`{"type":"command","id":7}`,
	} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	cmds := newMemCommander()
	cmds.acts["gh-1"] = testActuators
	s := &server{opt: Options{Commands: cmds, Hub: fanout.NewHub(fanout.Options{}), StoreTimeout: time.Second, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)},
		accounts: &accounts{}}
	f.Fuzz(func(t *testing.T, msg string) {
		handle := s.messages(identity{user: "alice", operator: true}) // a fresh rate limit each time
		before := len(cmds.sentCommands())
		var frames [][]byte
		err := handle(context.Background(), []byte(msg), func(b []byte) { frames = append(frames, b) })
		if err != nil {
			if len(frames) != 0 {
				t.Fatalf("closed after answering %q", frames)
			}
			return
		}
		if len(frames) != 1 {
			t.Fatalf("%d answers to %q", len(frames), msg)
		}
		var fr struct {
			V       int             `json:"v"`
			Type    string          `json:"type"`
			Error   string          `json:"error"`
			Command json.RawMessage `json:"command"`
		}
		if err := json.Unmarshal(frames[0], &fr); err != nil || fr.V != reading.Version {
			t.Fatalf("answer %q: %v", frames[0], err)
		}
		sent := cmds.sentCommands()
		switch fr.Type {
		case "error":
			if fr.Error == "" || len(sent) != before {
				t.Fatalf("error answer %q, %d commands recorded", frames[0], len(sent)-before)
			}
		case "command":
			c, err := command.Decode(fr.Command)
			if err != nil || len(sent) != before+1 || sent[len(sent)-1] != c || c.By != "alice" || !c.At.Equal(now) {
				t.Fatalf("answer %q (%v), recorded %+v", frames[0], err, sent[before:])
			}
		default:
			t.Fatalf("answer of type %q", fr.Type)
		}
	})
}

// TestCommandMessageStoreDown: the store failing is an error answer, not
// a closed connection.
func TestCommandMessageStoreDown(t *testing.T) {
	cmds := newMemCommander()
	cmds.fail = errors.New("redis: connection refused")
	s := &server{opt: Options{Commands: cmds, StoreTimeout: time.Second, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}, accounts: &accounts{}}
	var got []byte
	err := s.messages(identity{user: "alice", operator: true})(context.Background(),
		[]byte(`{"type":"command","id":"x","device":"gh-1","actuator":"heater","value":1}`), func(b []byte) { got = b })
	if err != nil || !strings.Contains(string(got), `"type":"error"`) || !strings.Contains(string(got), "connection refused") || !strings.Contains(string(got), `"id":"x"`) {
		t.Errorf("answer %s, %v", got, err)
	}
}
