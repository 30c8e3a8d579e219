package agent

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/bme280"
	chip "github.com/tributary-iot/tributary/sim/chip/bme280"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

// counter is the value of the counter name{labels...} gathered from reg
// (label pairs as name, value), or -1 if reg has no such series.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
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
	const metric = "tributary_edge_sensor_errors_total"
	if n := counter(t, reg, metric, "sensor", "wedged", "kind", "timeout"); n < 3 {
		t.Fatalf(`%s{sensor="wedged",kind="timeout"} = %v, want >= 3`, metric, n)
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
	timeouts := counter(t, reg, metric, "sensor", "wedged", "kind", "timeout")
	await(t, "the next timeout", func() bool { return counter(t, reg, metric, "sensor", "wedged", "kind", "timeout") > timeouts })
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
