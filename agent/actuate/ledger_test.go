package actuate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
)

const recSize = 512 // the ledger's record size (see ledger.go)

func ledgerFile(dir string) string { return filepath.Join(dir, device+".commands") }

func TestRepeatIsReReportedNotReApplied(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r.barrier()
	on := r.submit(r.cmd("valve", 1))
	acc := r.status(on.ID, command.Accepted)
	app := r.status(on.ID, command.Applied)
	refused := r.submit(r.cmd("valve", 7))
	ref := r.outcome(refused.ID, command.Refused, command.ReasonOutOfRange)
	off := r.apply("valve", 0)

	r.clk.Advance(10 * time.Second)
	r.submit(on) // redelivered: the valve must not open again
	if s := r.status(on.ID, command.Accepted); s != acc {
		t.Errorf("re-reported %+v, want %+v", s, acc)
	}
	if s := r.status(on.ID, command.Applied); s != app {
		t.Errorf("re-reported %+v, want %+v", s, app)
	}
	r.submit(refused)
	if s := r.outcome(refused.ID, command.Refused, command.ReasonOutOfRange); s != ref {
		t.Errorf("re-reported %+v, want %+v", s, ref)
	}
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0, 1, 0}) {
		t.Fatalf("valve Set calls %v", got)
	}

	// Across a restart.
	r.stop()
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{})
	r2.clk.Advance(10 * time.Second)
	r2.start()
	r2.submit(on)
	if s := r2.status(on.ID, command.Accepted); s != acc {
		t.Errorf("after a restart: %+v, want %+v", s, acc)
	}
	if s := r2.status(on.ID, command.Applied); s != app {
		t.Errorf("after a restart: %+v, want %+v", s, app)
	}
	r2.submit(off)
	r2.outcome(off.ID, command.Applied, "")
	r2.barrier()
	if got := r2.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("valve Set calls after the restart %v, want only the boot's", got)
	}
	r2.metrics(`
# HELP tributary_edge_commands_total Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.
# TYPE tributary_edge_commands_total counter
tributary_edge_commands_total{outcome="refused",reason="unknown_actuator"} 1
`, "tributary_edge_commands_total")
}

func TestUnfinishedAtACrashIsReportedInterrupted(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	r.outs["valve"].Before = func(ctx context.Context, v float64) error {
		if v == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	r.start()
	c := r.submit(r.cmd("valve", 1))
	acc := r.status(c.ID, command.Accepted)
	<-entered
	// The power fails while the valve opens: what is on disk now is what
	// the next start finds.
	crash := t.TempDir()
	b, err := os.ReadFile(ledgerFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ledgerFile(crash), b, 0o600); err != nil {
		t.Fatal(err)
	}
	close(release)
	r.status(c.ID, command.Applied)

	r2 := newRig(t, testConfig(crash), nil, actuate.Options{})
	r2.clk.Advance(10 * time.Second)
	r2.start()
	s := r2.status(c.ID, command.Refused)
	if s.Reason != command.ReasonInterrupted || s.Value != 1 || s.Actuator != "valve" || !s.Time.Equal(r2.clk.Now()) {
		t.Errorf("status %+v", s)
	}
	r2.submit(c) // redelivered: its recorded outcome, now interrupted
	if got := r2.status(c.ID, command.Accepted); got != acc {
		t.Errorf("re-reported %+v, want %+v", got, acc)
	}
	if got := r2.status(c.ID, command.Refused); got != s {
		t.Errorf("re-reported %+v, want %+v", got, s)
	}
	r2.barrier()
	if got := r2.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("valve Set calls %v", got)
	}
	if !strings.Contains(r2.logs.String(), "command accepted before a stop and never finished: refused interrupted") {
		t.Errorf("no log line:\n%s", r2.logs.String())
	}
	// The outcome is recorded: a third start reports nothing.
	r2.stop()
	r3 := newRig(t, testConfig(crash), nil, actuate.Options{}).start()
	r3.barrier()
}

func TestTornLastRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	on := r.apply("valve", 1)
	r.stop()
	f, err := os.OpenFile(ledgerFile(dir), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("TRCM\x01\x00\x05\x05half a record")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r2.submit(on)
	r2.outcome(on.ID, command.Applied, "")
	r2.apply("valve", 1)
	if logs := r2.logs.String(); !strings.Contains(logs, "last record was torn") || strings.Contains(logs, "damaged") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestDamagedLedgerRefusesOnlyCommandsRecordedBefore(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	first := r.apply("valve", 1)
	r.apply("valve", 0)
	r.stop()
	b, err := os.ReadFile(ledgerFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0xff // the first record's id
	if err := os.WriteFile(ledgerFile(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{})
	r2.clk.Advance(10 * time.Second)
	r2.start()
	if logs := r2.logs.String(); !strings.Contains(logs, "the command ledger is damaged") || !strings.Contains(logs, "damaged_records=1") {
		t.Errorf("logs:\n%s", logs)
	}
	r2.submit(first) // its record is gone: it cannot be checked
	if s := r2.outcome(first.ID, command.Refused, command.ReasonInterrupted); !strings.Contains(s.Detail, "ledger was damaged") {
		t.Errorf("detail %q", s.Detail)
	}
	r2.submit(first) // and now it is recorded again, refused
	r2.outcome(first.ID, command.Refused, command.ReasonInterrupted)
	old := r2.cmd("valve", 1)
	old.At = old.At.Add(40 * time.Second) // within a minute of the damage (the first trusted time after it: 18:00:10)
	old.Deadline = old.At.Add(time.Minute)
	r2.submit(old)
	r2.outcome(old.ID, command.Refused, command.ReasonInterrupted)
	r2.clk.Advance(time.Minute)
	r2.apply("valve", 1) // recorded after the damage: checked as ever
	if got := r2.values("valve"); !reflect.DeepEqual(got, []float64{0, 1}) {
		t.Errorf("valve Set calls %v", got)
	}
}

func TestLedgerForgetsPastDeadlinesAndStaysBounded(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{MaxIDs: 100})
	r.start()
	var cs []command.Command
	for i := 0; i < 100; i++ {
		c := r.submit(r.cmd("pump", 1))
		r.outcome(c.ID, command.Refused, command.ReasonUnknownActuator)
		cs = append(cs, c)
	}
	c := r.submit(r.cmd("valve", 1))
	if s := r.status(c.ID, command.Refused); s.Reason != command.ReasonBusy || !strings.Contains(s.Detail, "100 command ids") {
		t.Errorf("status %+v, want refused busy", s)
	}
	r.submit(cs[0]) // remembered
	r.outcome(cs[0].ID, command.Refused, command.ReasonUnknownActuator)
	if fi, err := os.Stat(ledgerFile(dir)); err != nil || fi.Size() != 100*recSize {
		t.Fatalf("ledger: %v, %d bytes, want 100 records", err, fi.Size())
	}

	r.clk.Advance(30 * time.Second) // every deadline passed: forgotten
	on := r.apply("valve", 1)
	late := r.submit(cs[0])
	r.outcome(late.ID, command.Expired, command.ReasonDeadline)
	fi, err := os.Stat(ledgerFile(dir))
	if err != nil || fi.Size() != 2*recSize {
		t.Errorf("ledger after compaction: %v, %d bytes, want 2 records", err, fi.Size())
	}
	r.stop()
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r2.submit(on)
	r2.outcome(on.ID, command.Applied, "")
	r2.barrier()
	if got := r2.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("valve Set calls after the restart %v", got)
	}
}

func TestQueueFullRefusesBusy(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{QueueLen: 2})
	entered, release := make(chan struct{}), make(chan struct{})
	r.outs["fan"].Before = func(ctx context.Context, v float64) error {
		if v == 50 {
			close(entered)
			<-release
		}
		return nil
	}
	r.start()
	slow := r.submit(r.cmd("fan", 50))
	<-entered
	a, b := r.submit(r.cmd("valve", 1)), r.submit(r.cmd("lamp", 1))
	c := r.cmd("valve", 0)
	err := r.c.Submit(c)
	var re *actuate.RefusedError
	if !errors.As(err, &re) || re.Reason != command.ReasonBusy {
		t.Fatalf("Submit to a full queue: %v, want refused busy", err)
	}
	close(release)
	r.outcome(slow.ID, command.Applied, "")
	r.outcome(a.ID, command.Applied, "")
	r.outcome(b.ID, command.Applied, "")
	if s := r.status(c.ID, command.Refused); s.Reason != command.ReasonBusy {
		t.Errorf("status %+v", s)
	}
	r.submit(c) // not recorded: a redelivery is decided afresh
	r.outcome(c.ID, command.Applied, "")
}

func TestStopReportsQueuedCommandsInterrupted(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{})
	r.outs["fan"].Before = func(ctx context.Context, v float64) error {
		if v == 50 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	r.start()
	slow := r.submit(r.cmd("fan", 50))
	r.status(slow.ID, command.Accepted)
	queued := r.submit(r.cmd("valve", 1))
	r.stop()
	if s := r.status(slow.ID, command.Refused); s.Reason != command.ReasonInterrupted {
		t.Errorf("status %+v", s)
	}
	r.outcome(queued.ID, command.Refused, command.ReasonInterrupted)
	r2 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r2.submit(queued)
	r2.outcome(queued.ID, command.Refused, command.ReasonInterrupted)
}

func TestLedgerDamageOutlivesCompactionAndRestartsUntilItIsPast(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r.apply("valve", 1)
	r.stop()
	b, err := os.ReadFile(ledgerFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0xff
	if err := os.WriteFile(ledgerFile(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}

	r2 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	for i := 0; i < 70; i++ { // recorded, refused: commands from before the damage
		c := r2.submit(r2.cmd("pump", 1))
		r2.outcome(c.ID, command.Refused, command.ReasonInterrupted)
	}
	r2.clk.Advance(2 * time.Minute)
	r2.apply("valve", 0) // forgets the 70, compacts
	r2.barrier()         // after the compaction
	if fi, err := os.Stat(ledgerFile(dir)); err != nil || fi.Size() != 3*recSize {
		t.Fatalf("ledger after compaction: %v, %d bytes, want the damaged record, the valve's and the barrier's", err, fi.Size())
	}
	r2.stop()

	r3 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	if !strings.Contains(r3.logs.String(), "damaged_records=1") {
		t.Fatalf("the damage was not found again after a compaction:\n%s", r3.logs.String())
	}
	c := r3.submit(r3.cmd("valve", 1))
	r3.outcome(c.ID, command.Refused, command.ReasonInterrupted)
	r3.clk.Advance(command.MaxLifetime + 2*time.Minute)
	r3.apply("valve", 1)
	r3.barrier() // after the apply's tidying of the ledger
	if !strings.Contains(r3.logs.String(), "the command ledger's damage is past") {
		t.Errorf("logs:\n%s", r3.logs.String())
	}
	r3.stop()
	r4 := newRig(t, testConfig(dir), nil, actuate.Options{}).start()
	r4.barrier()
	if strings.Contains(r4.logs.String(), "damaged") {
		t.Errorf("still damaged after its window:\n%s", r4.logs.String())
	}
}

func TestRefusalsWaitingToBeReportedAreBounded(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{QueueLen: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	r.outs["fan"].Before = func(ctx context.Context, v float64) error {
		if v == 50 {
			close(entered)
			<-release
		}
		return nil
	}
	r.start()
	slow := r.submit(r.cmd("fan", 50))
	<-entered
	queued := r.submit(r.cmd("valve", 1))
	const refusals = 1024 // actuate's bound, beyond the queue's length
	for i := 0; i < refusals+10; i++ {
		var re *actuate.RefusedError
		if err := r.c.Submit(r.cmd("valve", 0)); !errors.As(err, &re) || re.Reason != command.ReasonBusy {
			t.Fatalf("Submit %d to a full queue: %v", i, err)
		}
	}
	close(release)
	r.outcome(slow.ID, command.Applied, "")
	r.outcome(queued.ID, command.Applied, "")
	for i := 0; i < refusals; i++ {
		if s := r.next().Status; s == nil || s.Reason != command.ReasonBusy {
			t.Fatalf("refusal %d: %+v", i, s)
		}
	}
	r.barrier() // the 10 beyond the bound were not reported
	r.metrics(`
# HELP tributary_edge_commands_total Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.
# TYPE tributary_edge_commands_total counter
tributary_edge_commands_total{outcome="applied",reason=""} 2
tributary_edge_commands_total{outcome="refused",reason="busy"} 1034
tributary_edge_commands_total{outcome="refused",reason="unknown_actuator"} 1
`, "tributary_edge_commands_total")
}
