package actuate_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
)

// A command reusing a recorded id for another value, actuator or deadline
// is refused duplicate_id and never applied: it is not told the first
// one's outcome ("applied") as its own. A true redelivery still gets the
// recorded outcome, and the refusals are not recorded.
func TestReusedIDForAnotherCommandRefused(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r.barrier()
	first := r.cmd("heater", 1)
	first.ID = "dup-2"
	first.Deadline = first.At.Add(time.Hour)
	r.submit(first)
	r.outcome("dup-2", command.Applied, "")

	other := func(f func(*command.Command)) command.Command {
		c := r.cmd("heater", 1)
		c.ID, c.By = "dup-2", "bob"
		c.Deadline = first.Deadline
		f(&c)
		return c
	}
	for _, c := range []command.Command{
		other(func(c *command.Command) { c.Value = 0 }),
		other(func(c *command.Command) { c.Actuator = "valve" }),
		other(func(c *command.Command) { c.Deadline = c.Deadline.Add(-time.Minute) }),
	} {
		r.submit(c)
		s := r.status("dup-2", command.Refused)
		if s.Reason != command.ReasonDuplicateID || s.Actuator != c.Actuator || s.Value != c.Value ||
			!strings.Contains(s.Detail, "heater -> 1") {
			t.Errorf("%s=%v under a used id: %+v, want refused duplicate_id naming heater -> 1", c.Actuator, c.Value, s)
		}
	}
	if got := r.values("heater"); !reflect.DeepEqual(got, []float64{0, 1}) {
		t.Errorf("heater Set calls %v, want [0 1] (boot, the first command)", got)
	}
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("valve Set calls %v, want [0] (boot)", got)
	}
	redelivered := first
	redelivered.By = "someone" // By is not part of what the id names
	r.submit(redelivered)
	r.outcome("dup-2", command.Applied, "")
	r.noEvent()
	// 2 records: the barrier, the first command; refusals not recorded.
	if fi, err := os.Stat(ledgerFile(dir)); err != nil || fi.Size() != 2*recSize {
		t.Errorf("ledger: %v, %d bytes, want 2 records", err, fi.Size())
	}
	r.metrics(`
# HELP tributary_edge_commands_total Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.
# TYPE tributary_edge_commands_total counter
tributary_edge_commands_total{outcome="applied",reason=""} 1
tributary_edge_commands_total{outcome="refused",reason="duplicate_id"} 3
tributary_edge_commands_total{outcome="refused",reason="unknown_actuator"} 1
`, "tributary_edge_commands_total")

	// After a restart the ledger still tells them apart.
	r.stop()
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r2.barrier()
	r2.submit(other(func(c *command.Command) { c.Value = 0 }))
	if s := r2.status("dup-2", command.Refused); s.Reason != command.ReasonDuplicateID {
		t.Errorf("after a restart: %+v, want refused duplicate_id", s)
	}
	if got := r2.values("heater"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("heater Set calls after the restart %v, want [0] (boot)", got)
	}
}

// A full ledger (ids live up to command.MaxLifetime, refused ones too)
// refuses busy what would switch something on, but never a switch-off or
// a move to the safe value: those are applied, unrecorded.
func TestFullLedgerStillSwitchesOff(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Actuators[1].Safe = 30 // fan: safe at 30 %, on with the heater
	cfg.Interlocks = nil
	r := newRig(t, cfg, nil, actuate.Options{MaxIDs: 20}).start()
	r.barrier() // one id
	r.apply("heater", 1)
	for i := 0; i < 18; i++ { // valve takes 3 a minute: most are refused, all recorded
		c := r.cmd("valve", 1)
		c.Deadline = c.At.Add(command.MaxLifetime)
		r.submit(c)
		r.status(c.ID, command.Accepted)
		r.next()
	}
	on := r.submit(r.cmd("valve", 1))
	if s := r.status(on.ID, command.Refused); s.Reason != command.ReasonBusy {
		t.Fatalf("switching on with a full ledger: %+v, want refused busy", s)
	}

	off := r.cmd("heater", 0)
	off.By = "local-operator"
	if err := r.c.Local(off); err != nil {
		t.Fatalf("Local(heater 0): %v", err)
	}
	if ev := r.next(); ev.Command == nil || ev.Command.ID != off.ID {
		t.Fatalf("got %+v, want the local command reported", ev)
	}
	r.outcome(off.ID, command.Applied, "")
	if got := r.values("heater"); got[len(got)-1] != 0 {
		t.Errorf("heater Set calls %v: not switched off", got)
	}
	// The fan to its safe value (from the cloud), and its out-of-range
	// values still refused (checked, not recorded).
	safe := r.submit(r.cmd("fan", 30))
	r.outcome(safe.ID, command.Applied, "")
	if got := r.values("fan"); !reflect.DeepEqual(got, []float64{30, 30}) {
		t.Errorf("fan Set calls %v, want [30 30] (boot, the command)", got)
	}
	if c := r.submit(r.cmd("fan", 50)); r.status(c.ID, command.Refused).Reason != command.ReasonBusy {
		t.Errorf("fan 50 (not its safe value) with a full ledger: not refused busy")
	}
	// Still checked: an off for no such actuator is refused (alone:
	// unrecorded, it is not reported accepted).
	if c := r.submit(r.cmd("nope", 0)); r.status(c.ID, command.Refused).Reason != command.ReasonUnknownActuator {
		t.Errorf("nope 0 with a full ledger: not refused unknown_actuator")
	}
	if fi, err := os.Stat(ledgerFile(dir)); err != nil || fi.Size() != 20*recSize {
		t.Errorf("ledger: %v, %d bytes, want the 20 records only", err, fi.Size())
	}
	// Unrecorded, a repeat of the switch-off is applied again: harmless.
	r.submit(off)
	r.outcome(off.ID, command.Applied, "")
	r.noEvent()
}
