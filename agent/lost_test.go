package agent

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// droppedOn is tributary_edge_dropped_readings_total{reason} as reg exposes it.
func droppedOn(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tributary_edge_dropped_readings_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no tributary_edge_dropped_readings_total{reason=%q}", reason)
	return 0
}

// TestLossesSurviveRestarts: readings dropped while the clock was not
// trusted (beyond HoldLimit, then those still held at the stop) are counted
// in the state dir at once: an agent started on the same state dir, while
// the first still runs (as after a crash) or after it stopped, starts its
// metric at the count and says it in its log.
func TestLossesSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Device: "dev-lost", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: dir}
	c := newClock(time.Unix(0, 0)) // never trusted
	reg := prometheus.NewRegistry()
	a := start(t, cfg, &flakyUplink{}, Options{Now: c.Now, ClockReady: c.Ready, HoldLimit: 5, Registerer: reg})
	await(t, "drops beyond the hold limit", func() bool { return droppedOn(t, reg, DropClock) >= 10 })

	// A crash now: what was counted is already in the state dir.
	counted := droppedOn(t, reg, DropClock)
	reg2 := prometheus.NewRegistry()
	if _, err := New(cfg, &flakyUplink{}, Options{Registerer: reg2}); err != nil {
		t.Fatal(err)
	}
	if got := droppedOn(t, reg2, DropClock); got < counted {
		t.Fatalf("an agent started while the first runs reads dropped{clock} %v; the first had counted %v", got, counted)
	}

	// A clean stop adds the readings still held.
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	total := droppedOn(t, reg, DropClock)
	if want := float64(a.produced()); total != want {
		t.Fatalf("dropped{clock} = %v after the stop, want every reading produced (%v)", total, want)
	}
	var logs logBuffer
	reg3 := prometheus.NewRegistry()
	b := start(t, cfg, &flakyUplink{}, Options{Now: c.Now, ClockReady: c.Ready, HoldLimit: 5, Registerer: reg3, Logger: logs.logger()})
	if got := droppedOn(t, reg3, DropClock); got < total {
		t.Fatalf("after a restart dropped{clock} = %v, want at least %v", got, total)
	}
	await(t, "the start's log line", func() bool {
		return strings.Contains(logs.String(), "readings dropped before this start") &&
			strings.Contains(logs.String(), "clock="+strconv.Itoa(int(total)))
	})
	b.stop(t)
}

// TestInMemoryQueueLossAtShutdownCounted: readings still in a MemQueue when
// the agent stops (the uplink never took them) are lost, counted as
// shutdown, and the count survives the restart.
func TestInMemoryQueueLossAtShutdownCounted(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Device: "dev-shut", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: dir}
	reg := prometheus.NewRegistry()
	a := start(t, cfg, &flakyUplink{fails: 1 << 30}, Options{Registerer: reg, FlushTimeout: 10 * time.Millisecond})
	await(t, "readings queued", func() bool { return a.q.Len() >= 10 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	lost := droppedOn(t, reg, DropShutdown)
	if lost == 0 || lost != float64(a.produced()) {
		t.Fatalf("dropped{shutdown} = %v; want every reading produced (%d), none of which was sent", lost, a.produced())
	}
	reg2 := prometheus.NewRegistry()
	if _, err := New(cfg, &flakyUplink{}, Options{Registerer: reg2}); err != nil {
		t.Fatal(err)
	}
	if got := droppedOn(t, reg2, DropShutdown); got != lost {
		t.Fatalf("after a restart dropped{shutdown} = %v, want %v", got, lost)
	}
}

// TestDamagedLossFile: a loss file with no valid slot starts the counts
// at zero, with a warning, and is written again on the next loss.
func TestDamagedLossFile(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Device: "dev-dmg", Sensors: []SensorConfig{{Sensor: door("d")}}, StateDir: dir}
	if err := os.WriteFile(lossPath(dir, cfg.Device), []byte(strings.Repeat("garbage!", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	reg := prometheus.NewRegistry()
	a, err := New(cfg, &flakyUplink{}, Options{Registerer: reg, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if got := droppedOn(t, reg, DropClock); got != 0 || !strings.Contains(logs.String(), "damaged") {
		t.Fatalf("dropped{clock} %v, log %q; want 0 and a warning", got, logs.String())
	}
	a.lose(DropRejected, 3)
	l, damaged, err := openLossLedger(lossPath(dir, cfg.Device))
	if err != nil || damaged || l.count(DropRejected) != 3 {
		t.Fatalf("after a loss the file reads %v, damaged %v, %v; want 3 rejected", l, damaged, err)
	}
	if got := testutil.ToFloat64(a.m.dropped.WithLabelValues(DropRejected)); got != 3 {
		t.Fatalf("dropped{rejected} = %v, want 3", got)
	}
}
