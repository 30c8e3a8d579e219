package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// Commands to actuators end to end: the real cloud, edge and bridge
// processes, a real redis-server and mosquitto with the shipped ACL, an
// operator and a viewer signing in with passwords from an htpasswd file,
// and WebSocket clients watching.

// roundTrip switches dev's simulated heater on as the operator while a
// viewer watches dev on the WebSocket: the watcher sees the command by the
// operator, then accepted and applied, live; the audit says the same; the
// heater's state reading becomes 1 in history, and the edge says so.
func roundTrip(t *testing.T, c *cmdCloud, st *store.Store, e *edgeProc) {
	t.Helper()
	dev := e.device
	w := c.watch(t, viewer, dev)
	c.awaitActuators(t, dev, "heater", "fan")
	id := c.switchOn(t, dev)

	if got, want := w.progress(t, id), []string{"command by " + operator, "accepted", "applied"}; !slices.Equal(got, want) {
		t.Errorf("the watcher saw %s: %q, want %q", id, got, want)
	}
	rec := c.record(t, dev, id)
	var states []string
	for _, s := range rec.Statuses {
		states = append(states, string(s.State))
		if s.Device != dev || s.Actuator != "heater" || s.Value != 1 {
			t.Errorf("audit of %s: status %+v", id, s)
		}
	}
	if rec.Command.By != operator || rec.Local || rec.Command.Actuator != "heater" || rec.Command.Value != 1 ||
		!slices.Equal(states, []string{"accepted", "applied"}) {
		t.Errorf("audit of %s: %+v, want heater on by %s, accepted then applied", id, rec, operator)
	}
	vs := awaitState(t, st, dev, "heater", command.MetricOn, 1)
	if ch := changes(vs); !slices.Equal(ch, []float64{0, 1}) {
		t.Errorf("heater state readings changed %v, want off then on", ch)
	}
	if v := e.actuatorValue(t, "heater"); v != 1 {
		t.Errorf("the edge's heater at %v, want 1", v)
	}
	// The uplink handed the controller every command it was sent (the
	// heater's retries for its min_off included).
	if m := e.scrape(t); m["tributary_edge_commands_received_total"] < 1 || m["tributary_edge_commands_invalid_total"] != 0 {
		t.Errorf("the edge's command source counted %v received, %v invalid", m["tributary_edge_commands_received_total"], m["tributary_edge_commands_invalid_total"])
	}
	logCount(t, e, `msg="command applied"`, 1)
}

// TestCommandRoundTripRedis: cloud and edge --sim over a redis-server.
func TestCommandRoundTripRedis(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t, redistest.Options{})
	c := startCommandCloud(t, rd.URL())
	e := startEdgeProc(t, "cmd-rt-redis", "--redis", rd.URL(), "--state-dir", t.TempDir())
	roundTrip(t, c, storeOf(t, rd), e)
}

// TestCommandRoundTripMQTT: the edge on mosquitto as its device user, the
// bridge process relaying (both with the shipped ACL), the cloud on the
// bridge's Redis.
func TestCommandRoundTripMQTT(t *testing.T) {
	t.Parallel()
	const dev = "cmd-rt-mqtt"
	r := newMQTTRig(t, dev)
	c := startCommandCloud(t, r.rd.URL())
	e := startEdgeProc(t, dev, "--mqtt", r.mq.URL(), "--mqtt-password-file", r.pwFiles[dev], "--state-dir", t.TempDir())
	roundTrip(t, c, r.st, e)
	r.bridgeReport(t, "after the round trip")
}

// TestCommandViewerRefused: a viewer's command is refused, by POST (403)
// and on the WebSocket (an error frame naming it, the connection kept),
// and nothing reaches the device: its command stream stays empty and the
// edge decides nothing, until the operator's command, which arrives alone.
func TestCommandViewerRefused(t *testing.T) {
	t.Parallel()
	const dev = "cmd-viewer"
	rd := redistest.Start(t, redistest.Options{})
	st := storeOf(t, rd)
	c := startCommandCloud(t, rd.URL())
	e := startEdgeProc(t, dev, "--redis", rd.URL(), "--state-dir", t.TempDir())
	c.awaitActuators(t, dev, "heater", "fan")

	code, body := c.post(t, viewer, dev, `{"id":"viewer-post","actuator":"fan","value":50}`)
	if code != http.StatusForbidden || !strings.Contains(string(body), "may view but not send commands") {
		t.Errorf("the viewer's POST: %d %s, want 403", code, body)
	}
	w := c.watch(t, viewer, dev)
	w.send(t, fmt.Sprintf(`{"type":"command","id":"viewer-ws","device":%q,"actuator":"fan","value":50}`, dev))
	f := w.await(t, "an error frame", func(f wsFrame) bool { return f.Type == "error" || f.Type == "command" })
	if f.Type != "error" || f.ID != "viewer-ws" || !strings.Contains(f.Error, "may view but not send commands") {
		t.Errorf("answer to the viewer's command: %+v, want an error frame for viewer-ws", f)
	}
	if n, err := st.Client().XLen(t.Context(), st.CommandsKey(dev)).Result(); err != nil || n != 0 {
		t.Errorf("the device's command stream holds %d entries (%v), want none", n, err)
	}
	if a := c.audit(t, dev); len(a) != 0 {
		t.Errorf("audit after the viewer's commands: %+v, want none", a)
	}

	// The operator's command, after: the viewer's connection still
	// watches, and the edge decides it, the first and only command it saw.
	c.send(t, dev, "operator-1", "fan", 40, "1m")
	if got, want := w.progress(t, "operator-1"), []string{"command by " + operator, "accepted", "applied"}; !slices.Equal(got, want) {
		t.Errorf("the viewer's connection saw %q, want %q", got, want)
	}
	es, err := st.ReadCommands(t.Context(), dev, "", 0)
	if err != nil || len(es) != 1 || es[0].Command.ID != "operator-1" {
		t.Errorf("the device's command stream: %+v (%v), want operator-1 alone", es, err)
	}
	if m := e.scrape(t); m.sum("tributary_edge_commands_total") != 1 || m[`tributary_edge_commands_total{outcome="applied",reason=""}`] != 1 {
		t.Errorf("the edge decided %v commands, want 1 applied", m.sum("tributary_edge_commands_total"))
	}
	if strings.Contains(e.Log.String(), "viewer-") {
		t.Errorf("the edge heard of a viewer's command:\n%s", e.Log.String())
	}
}
