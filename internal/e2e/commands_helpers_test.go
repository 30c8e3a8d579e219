package e2e

// What the command tests share: a cloud with an operator and a viewer
// account, its command routes, a WebSocket watcher of a device's command
// frames, and the actuators' state readings in history.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// The cloud's accounts in the command tests: an operator (--operator) and
// a viewer.
const (
	operator, operatorPW = "olive", "olive-password-0123"
	viewer, viewerPW     = "victor", "victor-password-0123"
)

var passwords = map[string]string{operator: operatorPW, viewer: viewerPW}

// cmdCloud is a cloud process taking commands from its operator.
type cmdCloud struct {
	base string // http://127.0.0.1:port
}

// startCommandCloud runs the cloud on redisURL with an htpasswd file (bcrypt)
// of the operator and the viewer.
func startCommandCloud(t *testing.T, redisURL string) *cmdCloud {
	t.Helper()
	var b strings.Builder
	for _, u := range []string{operator, viewer} {
		h, err := bcrypt.GenerateFromPassword([]byte(passwords[u]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := startCloud(t, "--redis", redisURL, "--auth-users", users, "--operator", operator)
	return &cmdCloud{base: base}
}

// do sends a request as user and returns the status and body.
func (c *cmdCloud) do(t *testing.T, method, path, user, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, passwords[user])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, path, user, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, path, user, err)
	}
	return resp.StatusCode, b
}

// post sends body as a command to dev as user.
func (c *cmdCloud) post(t *testing.T, user, dev, body string) (int, []byte) {
	t.Helper()
	return c.do(t, http.MethodPost, "/api/devices/"+dev+"/commands", user, body)
}

// send posts a command as the operator, failing unless it is recorded
// (202), and returns it as recorded.
func (c *cmdCloud) send(t *testing.T, dev, id, actuator string, value float64, timeout string) command.Command {
	t.Helper()
	code, body := c.post(t, operator, dev, fmt.Sprintf(`{"id":%q,"actuator":%q,"value":%v,"timeout":%q}`, id, actuator, value, timeout))
	if code != http.StatusAccepted {
		t.Fatalf("POST command %s: %d %s, want 202", id, code, body)
	}
	cmd, err := command.Decode(body)
	if err != nil || cmd.ID != id || cmd.By != operator {
		t.Fatalf("POST command %s: answered %s (%v), want the command by %s", id, body, err, operator)
	}
	return cmd
}

// audit is dev's command log (GET .../commands), read as the viewer.
func (c *cmdCloud) audit(t *testing.T, dev string) []command.Record {
	t.Helper()
	code, body := c.do(t, http.MethodGet, "/api/devices/"+dev+"/commands?limit=100", viewer, "")
	var log struct {
		Device   string           `json:"device"`
		Commands []command.Record `json:"commands"`
	}
	if code != http.StatusOK {
		t.Fatalf("audit of %s: %d %s", dev, code, body)
	}
	if err := json.Unmarshal(body, &log); err != nil || log.Device != dev {
		t.Fatalf("audit of %s: %s (%v)", dev, body, err)
	}
	return log.Commands
}

// record returns id's record in dev's audit, once it has a final state
// (a minute at most).
func (c *cmdCloud) record(t *testing.T, dev, id string) command.Record {
	t.Helper()
	var rec command.Record
	eventually(t, fmt.Sprintf("command %s of %s decided in the audit", id, dev), time.Minute, func() bool {
		for _, r := range c.audit(t, dev) {
			if r.Command.ID == id {
				rec = r
				return r.State().Final()
			}
		}
		return false
	})
	return rec
}

// awaitActuators waits until dev has announced its actuators (the cloud
// refuses commands before) and checks their names.
func (c *cmdCloud) awaitActuators(t *testing.T, dev string, names ...string) {
	t.Helper()
	var got struct {
		Actuators []command.Actuator `json:"actuators"`
	}
	eventually(t, dev+" announcing its actuators", time.Minute, func() bool {
		code, body := c.do(t, http.MethodGet, "/api/devices/"+dev+"/actuators", viewer, "")
		return code == http.StatusOK && json.Unmarshal(body, &got) == nil && len(got.Actuators) > 0
	})
	var have []string
	for _, a := range got.Actuators {
		have = append(have, a.Name)
	}
	if strings.Join(have, ",") != strings.Join(names, ",") {
		t.Fatalf("%s announced actuators %v, want %v", dev, have, names)
	}
}

// switchOn switches dev's heater on as the operator and returns the
// applied command's id. The simulated heater's min_off (10 s) counts from
// the edge's boot, so a command refused min_off_time is sent again, under
// a new id, every 2 s, until one is applied.
func (c *cmdCloud) switchOn(t *testing.T, dev string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for i := 1; ; i++ {
		id := fmt.Sprintf("%s-on-%d", dev, i)
		c.send(t, dev, id, "heater", 1, "1m")
		rec := c.record(t, dev, id)
		st := rec.Statuses[len(rec.Statuses)-1]
		switch {
		case st.State == command.Applied:
			return id
		case st.State == command.Refused && st.Reason == command.ReasonMinOffTime && time.Now().Before(deadline):
			// Paced as the cloud allows a user (one command every 2 s
			// beyond a burst of 10): a retry, not a wait for an event.
			time.Sleep(2 * time.Second)
			continue
		default:
			t.Fatalf("heater on (%s): %+v, want applied", id, rec.Statuses)
		}
	}
}

// wsFrame is a frame of the cloud's WebSocket, as much as the command
// tests read of it.
type wsFrame struct {
	Type          string          `json:"type"`
	Status        *reading.Status `json:"status"`
	Command       json.RawMessage `json:"command"`
	CommandStatus json.RawMessage `json:"command_status"`
	Error         string          `json:"error"`
	ID            string          `json:"id"`
}

// cmdWatcher is a WebSocket client of the cloud selecting one device; a
// goroutine reads every frame and keeps all but the readings.
type cmdWatcher struct {
	conn   *websocket.Conn
	frames chan wsFrame
	ended  chan struct{}
	err    error // why the connection ended; set before ended is closed
}

// watch connects to the cloud's stream as user, selecting dev, and waits
// until it is live (subscribed: nothing published after is missed).
func (c *cmdCloud) watch(t *testing.T, user, dev string) *cmdWatcher {
	t.Helper()
	h := http.Header{}
	(&http.Request{Header: h}).SetBasicAuth(user, passwords[user])
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/stream?device=" + dev
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, resp, err := d.Dial(u, h)
	if err != nil {
		t.Fatalf("dial %s as %s: %v (%v)", u, user, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	w := &cmdWatcher{conn: conn, frames: make(chan wsFrame, 1<<12), ended: make(chan struct{})}
	go func() {
		defer close(w.ended)
		for {
			_, data, err := conn.ReadMessage()
			var f wsFrame
			if err == nil {
				err = json.Unmarshal(data, &f)
			}
			if err != nil {
				w.err = err
				return
			}
			if f.Type != reading.FrameReadings {
				w.frames <- f
			}
		}
	}()
	w.await(t, "the stream live", func(f wsFrame) bool { return f.Type == reading.FrameStatus && f.Status != nil && f.Status.Live })
	return w
}

// send writes a client message.
func (w *cmdWatcher) send(t *testing.T, msg string) {
	t.Helper()
	if err := w.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// await returns the first frame that match accepts, skipping the others,
// failing after a minute or when the connection ends.
func (w *cmdWatcher) await(t *testing.T, what string, match func(wsFrame) bool) wsFrame {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case f := <-w.frames:
			if match(f) {
				return f
			}
		case <-w.ended:
			if len(w.frames) > 0 {
				continue // the frames read before the end first
			}
			t.Fatalf("WebSocket ended awaiting %s: %v", what, w.err)
		case <-timeout:
			t.Fatalf("no %s on the WebSocket within a minute", what)
		}
	}
}

// progress reads command frames until id has a final state and returns
// what they said of id, in order: "command by <user>", then each status
// as "<state>" or "<state> <reason>".
func (w *cmdWatcher) progress(t *testing.T, id string) []string {
	t.Helper()
	var seen []string
	for {
		f := w.await(t, "the progress of command "+id, func(f wsFrame) bool { return f.Type == reading.FrameCommand })
		if f.Command != nil {
			c, err := command.Decode(f.Command)
			if err != nil {
				t.Fatalf("command frame %s: %v", f.Command, err)
			}
			if c.ID == id {
				seen = append(seen, "command by "+c.By)
			}
			continue
		}
		s, err := command.DecodeStatus(f.CommandStatus)
		if err != nil {
			t.Fatalf("status frame %s: %v", f.CommandStatus, err)
		}
		if s.ID != id {
			continue
		}
		seen = append(seen, strings.TrimSpace(string(s.State)+" "+s.Reason))
		if s.State.Final() {
			return seen
		}
	}
}

// stateValues are the values of dev's state readings of actuator (metric
// on or duty) in its history, in stream order.
func stateValues(t *testing.T, st *store.Store, dev, actuator, metric string) []float64 {
	t.Helper()
	var vs []float64
	err := st.HistoryPages(context.Background(), dev, store.Query{}, func(page [][]byte) error {
		for _, raw := range page {
			r, err := reading.Decode(raw)
			if err != nil {
				return fmt.Errorf("stream entry %s: %w", raw, err)
			}
			if r.Sensor == actuator && r.Metric == metric {
				vs = append(vs, r.Value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// changes drops the repeats of vs: each value where it changed.
func changes(vs []float64) []float64 {
	var out []float64
	for i, v := range vs {
		if i == 0 || v != vs[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// awaitState waits until the last of dev's state readings of actuator is
// want, and returns them all.
func awaitState(t *testing.T, st *store.Store, dev, actuator, metric string, want float64) []float64 {
	t.Helper()
	var vs []float64
	eventually(t, fmt.Sprintf("%s/%s of %s at %v in history", actuator, metric, dev, want), time.Minute, func() bool {
		vs = stateValues(t, st, dev, actuator, metric)
		return len(vs) > 0 && vs[len(vs)-1] == want
	})
	return vs
}

// actuatorConfig writes an edge configuration of a heater (relay, no
// min_off) and a fan (pwm) with more (YAML) after them, and returns its
// path. With --sim both are emulated and the sensors are the simulated set.
func actuatorConfig(t *testing.T, more string) string {
	t.Helper()
	cfg := `actuators:
  - name: heater
    driver: relay
    pin: GPIO23
    active_low: true
  - name: fan
    driver: pwm
    pin: GPIO18
` + more
	p := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// actuatorValue is the edge's tributary_edge_actuator_value of name.
func (e *edgeProc) actuatorValue(t *testing.T, name string) float64 {
	t.Helper()
	m := e.scrape(t)
	v, ok := m[`tributary_edge_actuator_value{actuator="`+name+`"}`]
	if !ok {
		t.Fatalf("%s: no tributary_edge_actuator_value of %s", e.device, name)
	}
	return v
}

// logCount fails the test unless e's output has want lines holding s: it
// waits (a minute at most) for them, since the output reaches the test
// through a pipe, later than what the edge sent to Redis after it, then
// checks there are no more.
func logCount(t *testing.T, e *edgeProc, s string, want int) {
	t.Helper()
	count := func() int { return strings.Count(e.Log.String(), s) }
	eventually(t, fmt.Sprintf("%d lines of %s in the output of %s", want, s, e.Name), time.Minute, func() bool { return count() >= want })
	if n := count(); n != want {
		t.Errorf("%s: %d lines of %s, want %d", e.Name, n, s, want)
	}
}
