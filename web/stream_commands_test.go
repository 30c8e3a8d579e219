package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
)

// wsFrame is any frame of the stream, as a client decodes it.
type wsFrame struct {
	Type          string          `json:"type"`
	Error         string          `json:"error"`
	ID            string          `json:"id"`
	Command       json.RawMessage `json:"command"`
	CommandStatus json.RawMessage `json:"command_status"`
}

// dialAs opens /api/stream?query as cred and reads its first frame (the
// status: the hub has registered it); the test reads on with next.
func (f *fixture) dialAs(t testing.TB, cred [2]string, query string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	(&http.Request{Header: h}).SetBasicAuth(cred[0], cred[1])
	c := fanouttest.Dialer{Header: h}.DialRaw(t, f.wsURL(query))
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, data, err := c.ReadMessage(); err != nil || !strings.Contains(string(data), `"type":"status"`) {
		t.Fatalf("first frame %s, %v; want the status", data, err)
	}
	return c
}

// next returns the next frame on c that is not a status or readings frame.
func next(t testing.TB, c *websocket.Conn) wsFrame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		if f.Type != "status" && f.Type != "readings" {
			return f
		}
	}
}

func send(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestStreamCommands: an operator's command on the WebSocket is recorded
// with its name and answered to it; every client watching the device sees
// it; a viewer's is answered with an error frame and the connection stays;
// a connection is rate limited; an unknown message type closes it.
func TestStreamCommands(t *testing.T) {
	f := newCmdFixture(t, nil)
	op := f.dialAs(t, alice, "?device=gh-2") // does not watch gh-1: gets its answer anyway
	viewer := f.dialAs(t, bob, "?device=gh-1")

	send(t, op, `{"type":"command","id":"w-1","device":"gh-1","actuator":"fan","value":40,"timeout":"1m"}`)
	fr := next(t, op)
	c, err := command.Decode(fr.Command)
	if fr.Type != "command" || err != nil || c.ID != "w-1" || c.By != "alice" || c.Value != 40 || c.Deadline.Sub(c.At) != time.Minute {
		t.Fatalf("answer %+v (%v), want alice's command w-1", fr, err)
	}
	if sent := f.cmds.sentCommands(); len(sent) != 1 || sent[0] != c {
		t.Errorf("recorded %+v, want %+v", sent, c)
	}
	// The viewer watches gh-1: it sees the command recorded.
	if fr := next(t, viewer); fr.Type != "command" || !strings.Contains(string(fr.Command), `"id":"w-1"`) {
		t.Errorf("watcher got %+v, want the command", fr)
	}
	// Progress published for gh-1 reaches the watcher.
	f.cmds.status(command.Status{ID: "w-1", Device: "gh-1", Actuator: "fan", State: command.Applied, Value: 40, Time: time.Now()})
	if fr := next(t, viewer); fr.Type != "command" || !strings.Contains(string(fr.CommandStatus), `"state":"applied"`) {
		t.Errorf("watcher got %+v, want the status", fr)
	}

	// A viewer: refused, connection kept.
	send(t, viewer, `{"type":"command","id":"v-1","device":"gh-1","actuator":"heater","value":1}`)
	if fr := next(t, viewer); fr.Type != "error" || fr.ID != "v-1" || !strings.Contains(fr.Error, `user "bob" may view but not send`) {
		t.Errorf("viewer's command answered %+v", fr)
	}
	// Refusals name the reason and the id.
	for _, c := range []struct{ msg, id, want string }{
		{`{"type":"command","id":"e-1","device":"gh-1","actuator":"pump","value":1}`, "e-1", `no actuator "pump"`},
		{`{"type":"command","id":"e-2","device":"gh-1","actuator":"heater"}`, "e-2", "value missing"},
		{`{"type":"command","id":"e-3","device":"gh-1","actuator":"heater","value":1,"by":"root"}`, "e-3", `unknown field "by"`},
		{`{"type":"command","device":"../x","actuator":"heater","value":1}`, "", "invalid device id"},
		{`{"type":"command","id":"e-4","device":"gh-1","actuator":"heater","value":1,"pad":"` + strings.Repeat("x", 1024) + `"}`, "e-4", "at most 1024 bytes"},
	} {
		send(t, op, c.msg)
		if fr := next(t, op); fr.Type != "error" || fr.ID != c.id || !strings.Contains(fr.Error, c.want) {
			t.Errorf("%s answered %+v, want an error with %q", c.msg, fr, c.want)
		}
	}
	if n := len(f.cmds.sentCommands()); n != 1 {
		t.Errorf("%d commands recorded, want 1", n)
	}

	// The rest of the burst, then refused; the viewer's connection was not
	// charged for the operator's.
	op2 := f.dialAs(t, alice, "?device=gh-2") // answers only
	for i := range CommandBurst {
		send(t, op2, `{"type":"command","device":"gh-1","actuator":"heater","value":1}`)
		if fr := next(t, op2); fr.Type != "command" {
			t.Fatalf("command %d of the burst answered %+v", i+1, fr)
		}
	}
	send(t, op2, `{"type":"command","id":"r-1","device":"gh-1","actuator":"heater","value":1}`)
	if fr := next(t, op2); fr.Type != "error" || fr.ID != "r-1" || !strings.Contains(fr.Error, "too many commands") {
		t.Errorf("a command beyond the burst answered %+v", fr)
	}
	f.skew.Add(int64(CommandEvery)) // the handler's clock
	send(t, op2, `{"type":"command","id":"r-2","device":"gh-1","actuator":"heater","value":1}`)
	if fr := next(t, op2); fr.Type != "command" {
		t.Errorf("a command after %v answered %+v", CommandEvery, fr)
	}

	send(t, viewer, `{"type":"reboot"}`)
	viewer.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, _, err := viewer.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, `type "reboot"`) {
			t.Errorf("unknown type: closed with %v, want 1008", err)
		}
		break
	}
}
