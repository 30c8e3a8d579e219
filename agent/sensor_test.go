package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/bme280"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	chip "github.com/tributary-iot/tributary/sim/chip/bme280"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

func healthOf(a *Agent, sensor string) SensorHealth {
	for _, h := range a.Health() {
		if h.Sensor == sensor {
			return h
		}
	}
	return SensorHealth{}
}

func TestSensorHealthAndErrorKinds(t *testing.T) {
	up := &flakyUplink{}
	reg := prometheus.NewRegistry()
	chip := climate("bme")
	chip.SetErr(fmt.Errorf("bme280: read: %w: sysfs-i2c: remote I/O error", sensors.ErrNoDevice))
	a := start(t, Config{Device: "dev-h", Sensors: []SensorConfig{{Sensor: chip}, {Sensor: door("sim-door"), Simulated: true}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Registerer: reg, DownAfter: 3})
	await(t, "the chip to be down", func() bool { return healthOf(a.Agent, "bme").State == SensorDown })
	h := healthOf(a.Agent, "bme")
	if h.LastErrorKind != "no_device" || !strings.Contains(h.LastError, "remote I/O error") || h.Errors < 3 || !h.LastOK.IsZero() {
		t.Fatalf("health of the missing chip: %+v", h)
	}
	if n := testutil.ToFloat64(a.m.sensorErrors.WithLabelValues("bme", "no_device")); n < 3 {
		t.Fatalf(`sensor_errors_total{sensor="bme",kind="no_device"} = %v, want >= 3`, n)
	}
	if v := testutil.ToFloat64(a.m.sensorUp.WithLabelValues("bme")); v != 0 {
		t.Fatalf("sensor_up{bme} = %v while down", v)
	}
	if h := healthOf(a.Agent, "sim-door"); !h.Simulated || h.State != SensorOK {
		t.Fatalf("health of the simulated door: %+v", h)
	}
	if v := testutil.ToFloat64(a.m.simulated.WithLabelValues("sim-door")); v != 1 {
		t.Fatalf("sensor_simulated{sim-door} = %v, want 1", v)
	}

	chip.SetErr(fmt.Errorf("sht3x: %w", sensors.ErrCRC))
	await(t, "a CRC error to be counted", func() bool { return testutil.ToFloat64(a.m.sensorErrors.WithLabelValues("bme", "crc")) >= 1 })
	chip.SetErr(nil)
	await(t, "the chip to be back", func() bool { return healthOf(a.Agent, "bme").State == SensorOK })
	if h := healthOf(a.Agent, "bme"); h.Errors != 0 || h.LastOK.IsZero() || h.LastErrorKind != "crc" {
		t.Fatalf("health after recovery: %+v", h)
	}
	await(t, "readings of the recovered chip", func() bool {
		for _, r := range up.accepted() {
			if r.Sensor == "bme" {
				return true
			}
		}
		return false
	})
}

func TestSensorBackoff(t *testing.T) {
	a := &Agent{opt: Options{SensorBackoffMax: time.Minute}}
	for _, tc := range []struct {
		interval time.Duration
		n        int
		hi       time.Duration
	}{
		{time.Second, 0, 2 * time.Second},
		{time.Second, 2, 8 * time.Second},
		{time.Second, 10, time.Minute},
		{time.Second, 500, time.Minute},
		{5 * time.Minute, 3, 5 * time.Minute}, // never faster than the interval
	} {
		for range 100 {
			d := a.sensorBackoff(tc.interval, tc.n)
			if d > tc.hi || d < tc.interval {
				t.Fatalf("sensorBackoff(%v, %d) = %v, want in [%v, %v]", tc.interval, tc.n, d, tc.interval, tc.hi)
			}
		}
	}
}

// watcher is a sensor that reports changes through Watch when told to.
type watcher struct {
	name    string
	changes chan float64
	state   atomic.Value
}

func (w *watcher) Name() string { return w.name }
func (w *watcher) Read(ctx context.Context) ([]sensors.Sample, error) {
	v, _ := w.state.Load().(float64)
	return []sensors.Sample{{Metric: sensors.MetricDoor, Value: v, Unit: sensors.UnitOne}}, nil
}
func (w *watcher) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v := <-w.changes:
			w.state.Store(v)
			emit([]sensors.Sample{{Metric: sensors.MetricDoor, Value: v, Unit: sensors.UnitOne}})
		}
	}
}

func TestWatcherChangesArriveBetweenReads(t *testing.T) {
	up := &flakyUplink{}
	w := &watcher{name: "door", changes: make(chan float64)}
	// An hour between heartbeats: every reading after the first is a change.
	start(t, Config{Device: "dev-w", Sensors: []SensorConfig{{Sensor: w}}, Interval: time.Hour, StateDir: t.TempDir()}, up, Options{})
	await(t, "the first heartbeat", func() bool { return len(up.accepted()) == 1 })
	for _, v := range []float64{1, 0, 1} {
		w.changes <- v
	}
	await(t, "three changes", func() bool { return len(up.accepted()) == 4 })
	got := up.accepted()
	for i, want := range []float64{0, 1, 0, 1} {
		if got[i].Value != want || got[i].Seq != uint64(i+1) {
			t.Fatalf("reading %d: value %v seq %d, want %v seq %d", i, got[i].Value, got[i].Seq, want, i+1)
		}
	}
}

// clock is a settable wall clock and readiness flag.
type clock struct {
	sensorstest.Clock
	ready atomic.Bool
}

func newClock(now time.Time) *clock { return &clock{Clock: sensorstest.Clock{Start: now}} }

func (c *clock) Ready() bool { return c.ready.Load() }
func (c *clock) set(now time.Time, ready bool) {
	c.Set(now)
	c.ready.Store(ready)
}

func TestReadingsWaitForTheClock(t *testing.T) {
	up := &flakyUplink{}
	c := newClock(time.Unix(0, 0)) // a Pi without an RTC boots in 1970
	a := start(t, Config{Device: "dev-c", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Now: c.Now, ClockReady: c.Ready})
	await(t, "readings held", func() bool { return a.heldLen() >= 20 })
	if n := len(up.accepted()); n != 0 {
		t.Fatalf("%d readings sent before the clock was synchronised", n)
	}
	// Ready but still in 1970 is not trusted either.
	c.set(time.Unix(0, 0), true)
	n := a.heldLen()
	await(t, "more readings held", func() bool { return a.heldLen() > n })
	if n := len(up.accepted()); n != 0 {
		t.Fatalf("%d readings sent with a 1970 clock", n)
	}
	synced := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	c.set(synced, true)
	await(t, "held readings sent", func() bool { return len(up.accepted()) >= 30 && a.heldLen() == 0 })
	got := up.accepted()
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("reading %d has seq %d: held readings reordered", i, r.Seq)
		}
		if r.Time.Year() < 2026 || r.Time.After(synced) {
			t.Fatalf("reading %d (seq %d) stamped %v: want a time at or before the sync, %v", i, r.Seq, r.Time, synced)
		}
		if i > 0 && r.Time.Before(got[i-1].Time) {
			t.Fatalf("reading %d stamped %v, before reading %d at %v", i, r.Time, i-1, got[i-1].Time)
		}
	}
	if n := testutil.ToFloat64(a.m.restamped); n < 20 {
		t.Fatalf("clock_restamped_readings_total = %v, want >= 20", n)
	}
	// The clock is stepped back an hour: times stay put rather than go back.
	before := len(up.accepted())
	c.set(synced.Add(-time.Hour), true)
	await(t, "readings after the step back", func() bool { return len(up.accepted()) >= before+10 })
	for _, r := range up.accepted()[before:] {
		if r.Time.Before(synced) {
			t.Fatalf("reading seq %d stamped %v, before %v: time went backwards", r.Seq, r.Time, synced)
		}
	}
	if n := testutil.ToFloat64(a.m.clockBack); n < 5 {
		t.Fatalf("clock_backward_readings_total = %v, want >= 5", n)
	}
}

func TestHoldLimit(t *testing.T) {
	up := &flakyUplink{}
	c := newClock(time.Unix(0, 0))
	a := start(t, Config{Device: "dev-l", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Now: c.Now, ClockReady: c.Ready, HoldLimit: 5})
	await(t, "drops beyond the hold limit", func() bool { return testutil.ToFloat64(a.m.dropped.WithLabelValues(DropClock)) >= 10 })
	if n := a.heldLen(); n > 5 {
		t.Fatalf("%d readings held, limit 5", n)
	}
}

func TestPacer(t *testing.T) {
	p := newPacer(1000)
	start := time.Now()
	if !p.wait(context.Background(), 500) {
		t.Fatal("first wait failed")
	}
	// The first batch goes at once; the next one's slot is half a second on.
	if d := p.next.Sub(start); d < 500*time.Millisecond || d > 600*time.Millisecond {
		t.Fatalf("slot after 500 readings at 1000/s: %v after start, want 0.5s", d)
	}
	if !p.owed() {
		t.Fatal("pacer not owed right after a paced batch")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p.wait(ctx, 500) {
		t.Fatal("wait with an ended context reported success")
	}
	if off := newPacer(-1); !off.wait(ctx, 1e9) || off.owed() {
		t.Fatal("an uncapped pacer waits")
	}
}

func TestNewBootCounts(t *testing.T) {
	dir := t.TempDir()
	var prev string
	for i := 1; i <= 3; i++ {
		id, err := NewBoot(dir, "pi-1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(id, fmt.Sprintf("%d-", i)) || id == prev {
			t.Fatalf("boot %d: id %q", i, id)
		}
		prev = id
	}
}

// bootUplink records boots, failing while down.
type bootUplink struct {
	flakyUplink
	mu    sync.Mutex
	down  bool
	boots []Boot
}

func (u *bootUplink) Boot(ctx context.Context, b Boot) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return fmt.Errorf("uplink down")
	}
	u.boots = append(u.boots, b)
	return nil
}

func (u *bootUplink) recorded() []Boot {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Boot(nil), u.boots...)
}

// TestBootsNeverGoUnrecorded: a run whose boot the uplink could not record
// (it was down the whole time) is announced by the next run, before that
// run's own boot, so that the seq gap between them reads as a restart.
func TestBootsNeverGoUnrecorded(t *testing.T) {
	dir := t.TempDir()
	down := &bootUplink{down: true}
	a := start(t, Config{Device: "dev-b", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: dir}, down, Options{})
	await(t, "readings", func() bool { return len(down.accepted()) >= 5 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	up := &bootUplink{}
	b := start(t, Config{Device: "dev-b", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: dir}, up, Options{})
	await(t, "both boots recorded", func() bool { return len(up.recorded()) == 2 })
	got := up.recorded()
	if got[0].ID != a.cfg.Boot || got[0].FirstSeq != 1 || got[1].ID != b.cfg.Boot || got[1].FirstSeq <= got[0].FirstSeq {
		t.Fatalf("recorded boots %+v; want %s from seq 1, then %s", got, a.cfg.Boot, b.cfg.Boot)
	}
	for _, bt := range got {
		if !bt.Time.Equal(t0.Truncate(time.Millisecond)) {
			t.Errorf("boot %s time %v, want the agent's clock %v", bt.ID, bt.Time, t0)
		}
	}
	await(t, "the pending boots file emptied", func() bool {
		boots, err := loadPendingBoots(dir, "dev-b")
		return err == nil && len(boots) == 0
	})
}

// TestBootWaitsForTheClock: a boot's time is its start by a trusted clock,
// taken from the monotonic clock once the wall clock is trusted.
func TestBootWaitsForTheClock(t *testing.T) {
	up := &bootUplink{}
	c := newClock(time.Unix(0, 0))
	a := start(t, Config{Device: "dev-bc", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Now: c.Now, ClockReady: c.Ready})
	await(t, "readings held", func() bool { return a.heldLen() >= 10 })
	if n := len(up.recorded()); n != 0 {
		t.Fatalf("%d boots recorded with an untrusted clock", n)
	}
	synced := time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)
	c.set(synced, true)
	await(t, "the boot recorded", func() bool { return len(up.recorded()) == 1 })
	if bt := up.recorded()[0]; bt.Time.After(synced) || bt.Time.Before(synced.Add(-time.Minute)) {
		t.Fatalf("boot time %v, want shortly before the sync at %v", bt.Time, synced)
	}
}

// TestHeldReadingsCountedAtStop: readings still waiting for the clock when
// the agent stops are counted as dropped, not lost silently.
func TestHeldReadingsCountedAtStop(t *testing.T) {
	up := &flakyUplink{}
	c := newClock(time.Unix(0, 0))
	a := start(t, Config{Device: "dev-hs", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Now: c.Now, ClockReady: c.Ready})
	await(t, "readings held", func() bool { return a.heldLen() >= 10 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if n, want := testutil.ToFloat64(a.m.dropped.WithLabelValues(DropClock)), float64(a.produced()); n != want || n == 0 {
		t.Fatalf("dropped{clock} = %v, want every reading produced (%v)", n, want)
	}
}

// TestWatchEndsBeforeRun: Run does not return while a Watch is still
// running, so nothing is emitted after the seq lease is closed.
func TestWatchEndsBeforeRun(t *testing.T) {
	up := &flakyUplink{}
	w := &lateWatcher{watcher: watcher{name: "door", changes: make(chan float64)}}
	a := start(t, Config{Device: "dev-we", Sensors: []SensorConfig{{Sensor: w}}, Interval: time.Hour, StateDir: t.TempDir()}, up, Options{})
	await(t, "the first heartbeat", func() bool { return len(up.accepted()) == 1 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if !w.returned.Load() {
		t.Fatal("Run returned while Watch was still running")
	}
}

// lateWatcher emits once more 50 ms after its context ends.
type lateWatcher struct {
	watcher
	returned atomic.Bool
}

func (w *lateWatcher) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	emit([]sensors.Sample{{Metric: sensors.MetricDoor, Value: 1, Unit: sensors.UnitOne}})
	w.returned.Store(true)
	return ctx.Err()
}

// panicky panics on every read.
type panicky struct{}

func (panicky) Name() string { return "buggy" }
func (panicky) Read(context.Context) ([]sensors.Sample, error) {
	panic("index out of range")
}

func TestPanickingSensorIsAFailure(t *testing.T) {
	up := &flakyUplink{}
	a := start(t, Config{Device: "dev-p", Sensors: []SensorConfig{{Sensor: panicky{}}, {Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()}, up, Options{})
	await(t, "the buggy sensor down and the other producing", func() bool {
		return healthOf(a.Agent, "buggy").State == SensorDown && len(up.accepted()) >= 10
	})
	if h := healthOf(a.Agent, "buggy"); !strings.Contains(h.LastError, "sensor panicked: index out of range") {
		t.Fatalf("health: %+v", h)
	}
}

// TestQueueDropsLogged: drops of a full queue are counted and logged, once
// a minute at most.
func TestQueueDropsLogged(t *testing.T) {
	var logs logBuffer
	up := &flakyUplink{fails: 1 << 30}
	a := start(t, Config{Device: "dev-q", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{QueueSize: 5, Logger: logs.logger()})
	await(t, "drops", func() bool { return testutil.ToFloat64(a.m.dropped.WithLabelValues(DropQueueFull)) >= 20 })
	if n := strings.Count(logs.String(), "the queue is full"); n != 1 {
		t.Fatalf("%d log lines about drops, want 1 (the clock stands still):\n%s", n, logs.String())
	}
}

// TestSeqFromClock: an agent whose state dir was lost, with an uplink that
// cannot say where it left off, starts its seqs from the clock, so its new
// readings are not taken for repeats of old ones.
func TestSeqFromClock(t *testing.T) {
	up := &flakyUplink{}
	a := start(t, Config{Device: "dev-sc", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{SeqFromClock: true})
	await(t, "readings", func() bool { return len(up.accepted()) >= 3 })
	want := uint64(t0.UnixMilli())*1000 + 1
	if got := up.accepted()[0].Seq; got != want {
		t.Fatalf("first seq %d, want %d (the clock's ms x 1000, plus 1)", got, want)
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	// Without the option, or with a clock not trusted, it starts at 1.
	c := newClock(time.Unix(0, 0))
	b := start(t, Config{Device: "dev-sc", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		&flakyUplink{}, Options{SeqFromClock: true, Now: c.Now, ClockReady: c.Ready})
	await(t, "readings held", func() bool { return b.heldLen() > 0 })
	b.mu.Lock()
	first := b.held[0].r.Seq
	b.mu.Unlock()
	if first != 1 {
		t.Fatalf("untrusted clock: first seq %d, want 1", first)
	}
}

// readingsOf counts the readings of sensor that up accepted.
func readingsOf(up *flakyUplink, sensor string) int {
	n := 0
	for _, r := range up.accepted() {
		if r.Sensor == sensor {
			n++
		}
	}
	return n
}

// A BME280 that never finishes a conversion, read by the real driver
// (periph's bmxx80 polls it without a limit) over the emulated bus, is
// reported as timing out while the chip beside it on the same bus keeps
// producing; it is read again once the chip recovers, and a wedge does not
// hold up Run.
func TestWedgedBME280(t *testing.T) {
	bus := i2csim.NewBus("agent-" + t.Name())
	wedged, good := chip.New(chip.BME280, nil), chip.New(chip.BME280, nil)
	bus.Attach(0x76, wedged)
	bus.Attach(0x77, good)
	sw, err := bme280.New(bus, bme280.Options{Name: "wedged", Addr: 0x76, StuckAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := bme280.New(bus, bme280.Options{Name: "good", Addr: 0x77, StuckAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sensors.Close(sw, sg); err != nil {
			t.Error(err)
		}
	})
	wedged.SetFault(chip.Wedged)

	up := &flakyUplink{}
	reg := prometheus.NewRegistry()
	a := start(t, Config{Device: "dev-wedge", Interval: 5 * time.Millisecond, StateDir: t.TempDir(), Sensors: []SensorConfig{
		{Sensor: sw, Timeout: 100 * time.Millisecond},
		{Sensor: sg},
	}}, up, Options{Registerer: reg})
	await(t, "the wedged chip to be down with timeouts", func() bool {
		h := healthOf(a.Agent, "wedged")
		return h.State == SensorDown && h.LastErrorKind == "timeout"
	})
	t.Logf("wedged: %+v", healthOf(a.Agent, "wedged"))
	timeouts := a.m.sensorErrors.WithLabelValues("wedged", "timeout")
	if n := testutil.ToFloat64(timeouts); n < 3 {
		t.Fatalf(`sensor_errors_total{sensor="wedged",kind="timeout"} = %v, want >= 3`, n)
	}
	if n, err := testutil.GatherAndCount(reg, "tributary_edge_sensor_errors_total"); err != nil || n == 0 {
		t.Fatalf("tributary_edge_sensor_errors_total: %d series, %v", n, err)
	}
	if n := readingsOf(up, "wedged"); n != 0 {
		t.Fatalf("%d readings of the wedged chip", n)
	}
	n := readingsOf(up, "good")
	await(t, "more readings of the good chip", func() bool { return readingsOf(up, "good") >= n+5 })
	if h := healthOf(a.Agent, "good"); h.LastErrorKind != "" {
		t.Fatalf("the good chip failed: %+v", h)
	}

	wedged.SetFault(chip.OK)
	await(t, "the chip to be read again", func() bool { return healthOf(a.Agent, "wedged").State == SensorOK })
	await(t, "readings of the recovered chip", func() bool { return readingsOf(up, "wedged") > 0 })

	// Wedged again, with a read in flight: Run returns (start's cleanup
	// awaits it for 30s at most).
	wedged.SetFault(chip.Wedged)
	n = int(testutil.ToFloat64(timeouts))
	await(t, "the next timeout", func() bool { return int(testutil.ToFloat64(timeouts)) > n })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
}

// hung is a sensor whose Read ignores its context and blocks until the
// gate is opened; it records whether a Read was ever entered twice.
type hung struct {
	name      string
	reads     atomic.Int32
	running   atomic.Int32
	reentered atomic.Bool

	mu   sync.Mutex
	gate chan struct{}
}

func newHung(name string) *hung { return &hung{name: name, gate: make(chan struct{})} }

func (h *hung) Name() string { return h.name }

func (h *hung) Read(context.Context) ([]sensors.Sample, error) {
	if h.running.Add(1) > 1 {
		h.reentered.Store(true)
	}
	defer h.running.Add(-1)
	h.reads.Add(1)
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	<-gate
	return []sensors.Sample{{Metric: sensors.MetricDoor, Value: 1, Unit: sensors.UnitOne}}, nil
}

// open lets every Read through, the one blocked included.
func (h *hung) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.gate:
	default:
		close(h.gate)
	}
}

// A Read that outlives its timeout, ignoring its context, is abandoned and
// counted, and never joined by a second one: the sensor stays down, saying
// so, until the first returns; then it is read as usual.
func TestStuckReadIsNotReentered(t *testing.T) {
	h := newHung("hung")
	t.Cleanup(h.open)
	up := &flakyUplink{}
	a := start(t, Config{Device: "dev-hung", Interval: time.Millisecond, StateDir: t.TempDir(), Sensors: []SensorConfig{
		{Sensor: h, Timeout: 20 * time.Millisecond},
		{Sensor: door("door")},
	}}, up, Options{})
	await(t, "ticks while the read hangs", func() bool {
		hh := healthOf(a.Agent, "hung")
		return hh.Errors >= 10 && strings.Contains(hh.LastError, "read still running after")
	})
	hh := healthOf(a.Agent, "hung")
	if hh.State != SensorDown || hh.LastErrorKind != "timeout" {
		t.Fatalf("health of the hung sensor: %+v", hh)
	}
	t.Logf("hung: %s", hh.LastError)
	if n := h.reads.Load(); n != 1 {
		t.Fatalf("%d Reads started while the first hung, want 1", n)
	}
	n := readingsOf(up, "door")
	await(t, "the other sensor's readings", func() bool { return readingsOf(up, "door") > n })

	h.open()
	await(t, "the sensor to be read again", func() bool { return healthOf(a.Agent, "hung").State == SensorOK })
	await(t, "its readings", func() bool { return readingsOf(up, "hung") > 0 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if h.reentered.Load() {
		t.Fatal("Read was entered while another was running")
	}
}

// Run returns when its context ends although Reads that ignore it never
// return: one abandoned at its timeout, one still within it.
func TestRunDoesNotWaitForAHungRead(t *testing.T) {
	abandoned, inFlight := newHung("abandoned"), newHung("in-flight")
	t.Cleanup(abandoned.open)
	t.Cleanup(inFlight.open)
	a := start(t, Config{Device: "dev-hung2", Interval: time.Millisecond, StateDir: t.TempDir(), Sensors: []SensorConfig{
		{Sensor: abandoned, Timeout: 10 * time.Millisecond},
		{Sensor: inFlight, Timeout: time.Hour},
	}}, &flakyUplink{}, Options{})
	await(t, "the first read abandoned", func() bool { return healthOf(a.Agent, "abandoned").LastErrorKind == "timeout" })
	await(t, "the other read started", func() bool { return inFlight.reads.Load() == 1 })
	// stop fails the test if Run has not returned within 30s.
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if n, m := abandoned.running.Load(), inFlight.running.Load(); n != 1 || m != 1 {
		t.Fatalf("%d and %d Reads running after Run returned, want 1 and 1 (hung)", n, m)
	}
	if h := healthOf(a.Agent, "in-flight"); h.State != SensorStarting || h.Errors != 0 {
		t.Fatalf("a read cut short by the stop was counted: %+v", h)
	}
}
