package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// Commands to actuators when things go wrong: a command that outlives its
// deadline while the edge is away, one delivered twice, an interlock, and
// the uplink lost with a heater on. Real cloud and edge processes on a real
// redis-server; the edges run --sim (emulated pins).

// finalStatus is rec's last status, failing the test if it has none.
func finalStatus(t *testing.T, rec command.Record) command.Status {
	t.Helper()
	if len(rec.Statuses) == 0 {
		t.Fatalf("command %s: no status", rec.Command.ID)
	}
	return rec.Statuses[len(rec.Statuses)-1]
}

// expectApplied sends a command as the operator and fails unless the edge
// applies it.
func (c *cmdCloud) expectApplied(t *testing.T, dev, id, actuator string, value float64) {
	t.Helper()
	c.send(t, dev, id, actuator, value, "1m")
	if s := finalStatus(t, c.record(t, dev, id)); s.State != command.Applied || s.Value != value {
		t.Fatalf("%s (%s to %v): %+v, want applied", id, actuator, value, s)
	}
}

// stopFlushed stops e with SIGTERM and waits until its last reading is in
// Redis: then the history holds every reading it made.
func stopFlushed(t *testing.T, st *store.Store, e *edgeProc) {
	t.Helper()
	next := e.terminate(t)
	eventually(t, fmt.Sprintf("%s: seq %d stored", e.Name, next-1), time.Minute, func() bool {
		s, _ := st.LastSeq(t.Context(), e.device)
		return s >= next-1
	})
}

// TestCommandDeadlinePassed: a command sent (timeout 5 s) while its edge
// is stopped, and read by the edge only after its deadline, is reported
// expired, and the heater (no min_off: it would switch on at once) never
// goes on.
func TestCommandDeadlinePassed(t *testing.T) {
	t.Parallel()
	const dev = "cmd-late"
	rd := redistest.Start(t, redistest.Options{})
	st := storeOf(t, rd)
	c := startCommandCloud(t, rd.URL())
	cfg, dir := actuatorConfig(t, ""), t.TempDir()
	edge := func() *edgeProc {
		return startEdgeProc(t, dev, "--config", cfg, "--redis", rd.URL(), "--state-dir", dir)
	}
	e1 := edge()
	c.awaitActuators(t, dev, "heater", "fan")
	e1.terminate(t)

	cmd := c.send(t, dev, "late-1", "heater", 1, "5s")
	if d := cmd.Deadline.Sub(cmd.At); d != 5*time.Second {
		t.Fatalf("command recorded with a lifetime of %v, want 5s", d)
	}
	eventually(t, "the command's deadline past", time.Minute, func() bool { return time.Now().After(cmd.Deadline.Add(500 * time.Millisecond)) })
	if a := c.audit(t, dev); len(a) != 1 || len(a[0].Statuses) != 0 {
		t.Fatalf("audit while the edge is away: %+v, want late-1 without a status", a)
	}

	e2 := edge()
	rec := c.record(t, dev, "late-1")
	if s := finalStatus(t, rec); s.State != command.Expired || s.Reason != command.ReasonDeadline {
		t.Errorf("late-1: %+v, want expired (deadline)", rec.Statuses)
	}
	if v := e2.actuatorValue(t, "heater"); v != 0 {
		t.Errorf("the edge's heater at %v after an expired command, want 0", v)
	}
	m := e2.scrape(t)
	if m[`tributary_edge_commands_total{outcome="expired",reason="deadline"}`] != 1 || m.sum("tributary_edge_commands_total") != 1 {
		t.Errorf("the edge's command outcomes: %v expired of %v, want 1 of 1",
			m[`tributary_edge_commands_total{outcome="expired",reason="deadline"}`], m.sum("tributary_edge_commands_total"))
	}
	stopFlushed(t, st, e2)
	_, by := streamSeqs(t, st, dev)
	fromE2 := 0
	for seq, r := range by {
		if r.Sensor != "heater" {
			continue
		}
		if r.Value != 0 {
			t.Errorf("heater state reading seq %d: %v, want 0 only", seq, r.Value)
		}
		if seq >= e2.first {
			fromE2++
		}
	}
	if fromE2 == 0 {
		t.Errorf("no heater state reading from the edge that read late-1")
	}
	for _, e := range []*edgeProc{e1, e2} {
		if strings.Contains(e.Log.String(), `msg="command applied"`) {
			t.Errorf("%s applied a command", e.Name)
		}
	}
}

// TestCommandDeadlinePassedMQTT: the edge runs on while its broker is
// stopped; a command sent meanwhile (timeout 5 s) waits in the cloud's
// outbox, and the bridge relays it once the broker is back, after its
// deadline: the edge reports it expired and the heater never goes on.
func TestCommandDeadlinePassedMQTT(t *testing.T) {
	t.Parallel()
	const dev = "cmd-late-mqtt"
	r := newMQTTRig(t, dev)
	c := startCommandCloud(t, r.rd.URL())
	e := startEdgeProc(t, dev, "--config", actuatorConfig(t, ""), "--mqtt", r.mq.URL(), "--mqtt-password-file", r.pwFiles[dev], "--state-dir", t.TempDir())
	c.awaitActuators(t, dev, "heater", "fan")
	eventually(t, "the edge subscribed to its commands", time.Minute, func() bool {
		return regexpMatch(dev+` 1 tributary/`+dev+`/commands`, r.mq.Log())
	})

	r.mq.Stop()
	eventually(t, "the edge's uplink down", time.Minute, func() bool { return e.scrape(t)["tributary_edge_uplink_up"] == 0 })
	cmd := c.send(t, dev, "late-1", "heater", 1, "5s")
	eventually(t, "the command's deadline past", time.Minute, func() bool { return time.Now().After(cmd.Deadline.Add(500 * time.Millisecond)) })
	r.mq.Restart(t)

	rec := c.record(t, dev, "late-1")
	if s := finalStatus(t, rec); s.State != command.Expired || s.Reason != command.ReasonDeadline {
		t.Errorf("late-1: %+v, want expired (deadline)", rec.Statuses)
	}
	if v := e.actuatorValue(t, "heater"); v != 0 {
		t.Errorf("the edge's heater at %v after an expired command, want 0", v)
	}
	// The readings spooled during the outage go first (the agent's send
	// backoff may still be long): then the stop flushes the rest.
	e.awaitDrained(t, "the edge's backlog sent", time.Minute)
	stopFlushed(t, r.st, e)
	vs := stateValues(t, r.st, dev, "heater", command.MetricOn)
	if len(vs) == 0 || slices.Contains(vs, 1) {
		t.Errorf("heater state readings %v, want 0 only", vs)
	}
	if strings.Contains(e.Log.String(), `msg="command applied"`) {
		t.Errorf("the edge applied a command")
	}
}

// TestCommandDeliveredTwice: a command XADDed again into the device's
// command stream (the same JSON), and the whole stream read again by a
// restarted edge that lost its position, is applied once: the fan set to
// 40 by it, then to 0 by the next command, stays at 0.
func TestCommandDeliveredTwice(t *testing.T) {
	t.Parallel()
	const dev = "cmd-twice"
	rd := redistest.Start(t, redistest.Options{})
	st := storeOf(t, rd)
	c := startCommandCloud(t, rd.URL())
	dir := t.TempDir()
	e1 := startEdgeProc(t, dev, "--redis", rd.URL(), "--state-dir", dir)
	c.awaitActuators(t, dev, "heater", "fan")
	c.expectApplied(t, dev, "twice-a", "fan", 40)
	c.expectApplied(t, dev, "twice-b", "fan", 0)

	// The same entry again, as an admin (the cloud's user) could.
	ctx := t.Context()
	entries, err := st.Client().XRange(ctx, st.CommandsKey(dev), "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("command stream: %+v (%v)", entries, err)
	}
	if err := st.Client().XAdd(ctx, &redis.XAddArgs{Stream: st.CommandsKey(dev), Values: entries[0].Values}).Err(); err != nil {
		t.Fatal(err)
	}
	// Redelivered or not, it is reported again: await its statuses.
	awaitApplied(t, st, dev, map[string]int{"twice-a": 2, "twice-b": 1})
	if v := e1.actuatorValue(t, "fan"); v != 0 {
		t.Errorf("the fan at %v after twice-a came again, want 0", v)
	}
	logCount(t, e1, `msg="command applied"`, 2)
	if m := e1.scrape(t); m[`tributary_edge_commands_total{outcome="applied",reason=""}`] != 2 {
		t.Errorf("the edge counts %v commands applied, want 2", m[`tributary_edge_commands_total{outcome="applied",reason=""}`])
	}

	// A restart whose stream position went back (a write of it lost in a
	// crash) reads all three again. (Without any position, it would start
	// with the commands recorded from then on.)
	e1.terminate(t)
	pos := filepath.Join(dir, dev+".cmdpos")
	if err := os.WriteFile(pos, []byte("0-0\n"), 0o600); err != nil {
		t.Fatalf("the edge's stream position: %v", err)
	}
	e2 := startEdgeProc(t, dev, "--redis", rd.URL(), "--state-dir", dir)
	applied := awaitApplied(t, st, dev, map[string]int{"twice-a": 4, "twice-b": 2})
	logCount(t, e2, `msg="command delivered again`, 3)
	if strings.Contains(e2.Log.String(), `msg="command applied"`) {
		t.Errorf("the restarted edge applied a command again")
	}
	if v := e2.actuatorValue(t, "fan"); v != 0 {
		t.Errorf("the fan at %v after the restart, want 0", v)
	}

	// Each command has one applied status: reported again identical, and
	// the audit shows it once.
	for id, sts := range applied {
		for _, s := range sts[1:] {
			if s != sts[0] {
				t.Errorf("%s: applied statuses %+v and %+v, want one, reported again", id, sts[0], s)
			}
		}
	}
	recs := c.audit(t, dev)
	if len(recs) != 2 {
		t.Errorf("audit: %d commands, want 2", len(recs))
	}
	for _, rec := range recs {
		var states []string
		for _, s := range rec.Statuses {
			states = append(states, string(s.State))
		}
		if !slices.Equal(states, []string{"accepted", "applied"}) {
			t.Errorf("audit of %s: %q, want accepted, applied", rec.Command.ID, states)
		}
	}
	stopFlushed(t, st, e2)
	if ch := changes(stateValues(t, st, dev, "fan", command.MetricDuty)); !slices.Equal(ch, []float64{0, 40, 0}) {
		t.Errorf("fan duty readings changed %v, want 0, 40, 0", ch)
	}
}

// awaitApplied waits until dev's command events hold at least want[id]
// applied statuses of each id, and returns them all by id.
func awaitApplied(t *testing.T, st *store.Store, dev string, want map[string]int) map[string][]command.Status {
	t.Helper()
	applied := map[string][]command.Status{}
	eventually(t, fmt.Sprintf("applied statuses %v", want), time.Minute, func() bool {
		evs, err := st.Client().XRange(t.Context(), st.CommandEventsKey(dev), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		clear(applied)
		for _, m := range evs {
			raw, _ := m.Values["e"].(string)
			ev, err := command.DecodeEvent([]byte(raw))
			if err != nil {
				t.Fatalf("event %s: %v", raw, err)
			}
			if ev.Status != nil && ev.Status.State == command.Applied {
				applied[ev.Status.ID] = append(applied[ev.Status.ID], *ev.Status)
			}
		}
		for id, n := range want {
			if len(applied[id]) < n {
				return false
			}
		}
		return true
	})
	return applied
}

// TestCommandInterlock: with interlocks [[heater, fan]], the fan is
// refused while the heater is on (the status names the heater) and
// applied once it is off.
func TestCommandInterlock(t *testing.T) {
	t.Parallel()
	const dev = "cmd-interlock"
	rd := redistest.Start(t, redistest.Options{})
	c := startCommandCloud(t, rd.URL())
	e := startEdgeProc(t, dev, "--config", actuatorConfig(t, "interlocks:\n  - [heater, fan]\n"), "--redis", rd.URL(), "--state-dir", t.TempDir())
	c.awaitActuators(t, dev, "heater", "fan")
	w := c.watch(t, viewer, dev)
	c.expectApplied(t, dev, "il-heater-on", "heater", 1)

	c.send(t, dev, "il-fan", "fan", 50, "1m")
	if got, want := w.progress(t, "il-fan"), []string{"command by " + operator, "accepted", "refused interlock"}; !slices.Equal(got, want) {
		t.Errorf("the watcher saw %q, want %q", got, want)
	}
	s := finalStatus(t, c.record(t, dev, "il-fan"))
	if s.State != command.Refused || s.Reason != command.ReasonInterlock || !strings.HasPrefix(s.Detail, "heater is on") {
		t.Errorf("fan while the heater is on: %+v, want refused interlock naming the heater", s)
	}
	if v := e.actuatorValue(t, "fan"); v != 0 {
		t.Errorf("the fan at %v, want 0", v)
	}

	c.expectApplied(t, dev, "il-heater-off", "heater", 0)
	c.expectApplied(t, dev, "il-fan-2", "fan", 50)
	if h, f := e.actuatorValue(t, "heater"), e.actuatorValue(t, "fan"); h != 0 || f != 50 {
		t.Errorf("heater %v and fan %v, want 0 and 50", h, f)
	}
}

// TestCommandSafeStateAfterOutage: with safe_after 3s and the heater on,
// Redis killed (the uplink lost): the edge switches the heater off by
// itself, as its metrics say while Redis is down; once Redis is back, the
// heater's state readings show on, then off, and it stays off.
func TestCommandSafeStateAfterOutage(t *testing.T) {
	t.Parallel()
	const dev = "cmd-safe"
	rd := redistest.Start(t, durable)
	st := storeOf(t, rd)
	c := startCommandCloud(t, rd.URL())
	e := startEdgeProc(t, dev, "--config", actuatorConfig(t, "safe_after: 3s\n"), "--redis", rd.URL(), "--state-dir", t.TempDir())
	c.awaitActuators(t, dev, "heater", "fan")
	c.expectApplied(t, dev, "safe-on", "heater", 1)
	awaitState(t, st, dev, "heater", command.MetricOn, 1)

	rd.Stop()
	lost := `tributary_edge_actuator_safe_state_total{actuator="heater",cause="uplink_lost"}`
	eventually(t, "the edge putting the heater off with Redis down", time.Minute, func() bool {
		m := e.scrape(t)
		return m[`tributary_edge_actuator_value{actuator="heater"}`] == 0 && m[lost] == 1
	})
	e.Await(t, `msg="uplink lost too long: every actuator to its safe state"`, time.Minute)
	// The readings' sender notices on its next send, which may take a
	// while to fail; the command source's blocking read noticed first.
	eventually(t, "the edge saying its uplink is down", time.Minute, func() bool { return e.scrape(t)["tributary_edge_uplink_up"] == 0 })
	if v := e.actuatorValue(t, "heater"); v != 0 {
		t.Errorf("the heater at %v with Redis down, want 0", v)
	}

	rd.Restart(t)
	vs := awaitState(t, st, dev, "heater", command.MetricOn, 0)
	if ch := changes(vs); !slices.Equal(ch, []float64{0, 1, 0}) {
		t.Errorf("heater state readings changed %v, want off, on, off", ch)
	}
	e.awaitDrained(t, "the edge's backlog sent", time.Minute)
	if v := e.actuatorValue(t, "heater"); v != 0 {
		t.Errorf("the heater at %v after Redis came back, want 0", v)
	}
	if s := finalStatus(t, c.record(t, dev, "safe-on")); s.State != command.Applied {
		t.Errorf("safe-on: %+v, want still applied", s)
	}
	logCount(t, e, `msg="command applied"`, 1)
}
