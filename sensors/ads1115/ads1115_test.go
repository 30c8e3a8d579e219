package ads1115_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/ads1115"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	chip "github.com/tributary-iot/tributary/sim/chip/ads1115"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

// rig is an emulated ADS1115 on a registered emulated bus, opened by name
// through i2creg as production code opens /dev/i2c-1. The chip's clock is
// the driver's wait, so that a conversion's wait passes instantly and
// exactly.
type rig struct {
	bus  *i2csim.Bus
	open i2c.BusCloser
	chip *chip.Chip
	clk  *sensorstest.Clock
}

// creeping is an input that rises 1 mV a second from v, back to v every
// 1000 s, so that it never looks stuck.
func creeping(v float64, clk *sensorstest.Clock) chip.Input {
	start := clk.Now()
	return func(t time.Time) float64 { return v + float64(int(t.Sub(start).Seconds())%1000)/1000 }
}

// newRig attaches a chip at addr whose inputs are opt.Inputs (AIN0 nil:
// creeping from 1 V).
func newRig(t testing.TB, addr uint16, opt chip.Options) *rig {
	t.Helper()
	clk := &sensorstest.Clock{}
	if opt.Inputs[0] == nil {
		opt.Inputs[0] = creeping(1, clk)
	}
	opt.Now = clk.Now
	c := chip.New(opt)
	b, open := i2csimtest.Open(t)
	b.Attach(addr, c)
	return &rig{bus: b, open: open, chip: c, clk: clk}
}

func (r *rig) sensor(t testing.TB, opt ads1115.Options) *ads1115.Sensor {
	t.Helper()
	s, err := ads1115.New(r.open, opt)
	if err != nil {
		t.Fatal(err)
	}
	ads1115.SetWait(s, r.clk.Sleep)
	t.Cleanup(func() { s.Close() })
	return s
}

// tick moves the clock a second, as between two reads of the agent.
func (r *rig) tick() { r.clk.Advance(time.Second) }

func read1(t *testing.T, s *ads1115.Sensor) sensors.Sample {
	t.Helper()
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d samples, want 1", len(got))
	}
	if err := got[0].Validate(); err != nil {
		t.Error(err)
	}
	return got[0]
}

// TestReadRoundTrip reads a table of voltages on every channel, range and
// a few data rates: each comes back within one step (FS/32768) plus the
// rounding.
func TestReadRoundTrip(t *testing.T) {
	in := [4]float64{}
	var inputs [4]chip.Input
	for i := range inputs {
		inputs[i] = func(time.Time) float64 { return in[i] }
	}
	r := newRig(t, 0x49, chip.Options{Inputs: inputs})
	for _, tc := range []struct {
		ch   ads1115.Channel
		fs   float64
		dr   int
		in   [4]float64
		want float64
	}{
		{ads1115.AIN0, 4.096, 0, [4]float64{1.2345}, 1.2345},
		{ads1115.AIN1, 4.096, 860, [4]float64{0, 3.3}, 3.3},
		{ads1115.AIN2, 2.048, 8, [4]float64{0, 0, 0.5}, 0.5},
		{ads1115.AIN3, 6.144, 475, [4]float64{0, 0, 0, 5.0}, 5.0},
		{ads1115.AIN0AIN1, 0.256, 128, [4]float64{1.1, 1.0}, 0.1},
		{ads1115.AIN0AIN1, 1.024, 128, [4]float64{1.0, 1.5}, -0.5},
		{ads1115.AIN0AIN3, 0.512, 16, [4]float64{0.3, 0, 0, 0.1}, 0.2},
		{ads1115.AIN1AIN3, 4.096, 250, [4]float64{0, 2, 0, 3}, -1},
		{ads1115.AIN2AIN3, 2.048, 64, [4]float64{0, 0, 1.5, 0.25}, 1.25},
		{ads1115.AIN0, 4.096, 32, [4]float64{0}, 0},
	} {
		in = tc.in
		s := r.sensor(t, ads1115.Options{Addr: 0x49, Channel: tc.ch, FullScale: tc.fs, DataRate: tc.dr})
		got := read1(t, s)
		step := tc.fs / 32768
		if got.Metric != sensors.MetricVoltage || got.Unit != sensors.UnitVolt {
			t.Errorf("%s: %s in %s, want voltage in V", tc.ch, got.Metric, got.Unit)
		}
		if d := math.Abs(got.Value - tc.want); d > step+0.00005 {
			t.Errorf("%s ±%v V at %d/s: %v V, want %v (off by %.6f, step %.6f)", tc.ch, tc.fs, tc.dr, got.Value, tc.want, d, step)
		}
		r.tick()
	}
}

// TestCalibration maps volts to other quantities.
func TestCalibration(t *testing.T) {
	v := 0.0
	r := newRig(t, 0x48, chip.Options{Inputs: [4]chip.Input{func(time.Time) float64 { return v }}})
	soil := [2]ads1115.Point{{Volts: ads1115.SoilDryVolts, Value: 0}, {Volts: ads1115.SoilWetVolts, Value: 100}}
	moisture := r.sensor(t, ads1115.Options{Name: "bed", Metric: sensors.MetricMoisture, Unit: sensors.UnitPercent, Calibration: soil, Clamp: true})
	raw := r.sensor(t, ads1115.Options{Metric: sensors.MetricMoisture, Unit: sensors.UnitPercent, Calibration: soil})
	divider := r.sensor(t, ads1115.Options{Calibration: [2]ads1115.Point{{0, 0}, {1, 11}}})
	if moisture.Name() != "bed" || raw.Name() != "ads1115" {
		t.Errorf("names %q, %q", moisture.Name(), raw.Name())
	}
	for _, tc := range []struct {
		v                  float64
		clamped, unclamped float64
	}{
		{2.8, 0, 0}, {1.2, 100, 100}, {2.0, 50, 50}, {2.4, 25, 25}, {3.0, 0, -12.5}, {1.0, 100, 112.5},
	} {
		v = tc.v
		step := 100 / 1.6 * 4.096 / 32768 // %/step
		if got := read1(t, moisture); got.Metric != "moisture" || got.Unit != "%" || math.Abs(got.Value-tc.clamped) > step {
			t.Errorf("%v V: %+v, want %v %%", tc.v, got, tc.clamped)
		}
		if got := read1(t, raw); math.Abs(got.Value-tc.unclamped) > step {
			t.Errorf("%v V unclamped: %v %%, want %v", tc.v, got.Value, tc.unclamped)
		}
		if got := read1(t, divider); math.Abs(got.Value-11*tc.v) > 11*4.096/32768 {
			t.Errorf("%v V through 1:11: %v V, want %v", tc.v, got.Value, 11*tc.v)
		}
		r.tick()
	}
}

// TestSharedChip: sensors on two channels of a chip whose oscillator runs
// 10 % slow, sharing one lock, read concurrently on the real clock: each
// gets its own channel. A driver that read after exactly 1/DR (as periph's
// ads1x15 does) would get the previous conversion, the other channel's.
func TestSharedChip(t *testing.T) {
	c := chip.New(chip.Options{Inputs: [4]chip.Input{chip.Volts(1), chip.Volts(2)}, RateError: 0.1}) // time.Now
	b := i2csim.NewBus("ADS1115SHARED")
	b.Attach(0x48, c)
	var lock sync.Mutex
	s0, err := ads1115.New(b, ads1115.Options{Channel: ads1115.AIN0, DataRate: 860, Lock: &lock, StuckAfter: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := ads1115.New(b, ads1115.Options{Channel: ads1115.AIN1, DataRate: 860, Lock: &lock, StuckAfter: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for want, s := range map[float64]*ads1115.Sensor{1: s0, 2: s1} {
		wg.Go(func() {
			for range 20 {
				got, err := s.Read(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if got[0].Value != want {
					t.Errorf("channel read %v V, want %v", got[0].Value, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Conversions() != 40 {
		t.Errorf("%d conversions, want 40", c.Conversions())
	}
}

// TestFaults injects each fault, checks the error's kind, then clears it
// and checks that the same sensor reads again.
func TestFaults(t *testing.T) {
	const stuckAfter = 3
	for _, tc := range []struct {
		name     string
		bus      i2csim.Fault
		chip     chip.Fault
		input    float64 // volts at AIN0 during the fault, if not 0
		kind     string
		okReads  int
		contains string
	}{
		{name: "no-ack", bus: i2csim.NoAck, kind: "no_device", contains: "start conversion"},
		{name: "bus-error", bus: i2csim.BusError, kind: "bus", contains: "input/output error"},
		{name: "saturated", chip: chip.OutOfRange, kind: "out_of_range", contains: "0x7fff"},
		{name: "over-range input", input: 5, kind: "out_of_range", contains: "0x7fff"},
		{name: "under-range input", input: -5, kind: "out_of_range", contains: "0x8000"},
		{name: "stuck", chip: chip.Stuck, kind: "stuck", okReads: stuckAfter - 1, contains: "unchanged for 3 reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0x48, chip.Options{})
			s := r.sensor(t, ads1115.Options{StuckAfter: stuckAfter})
			err := sensorstest.FaultCheck{
				Set: func() {
					r.bus.SetFault(0x48, tc.bus)
					r.chip.SetFault(tc.chip)
					if tc.input != 0 {
						r.chip.SetInput(0, chip.Volts(tc.input))
					}
				},
				Clear: func() {
					r.bus.SetFault(0x48, i2csim.OK)
					r.chip.SetFault(chip.OK)
					r.chip.SetInput(0, creeping(1.5, r.clk))
				},
				Kind:  tc.kind,
				Says:  tc.contains,
				After: tc.okReads,
				Tick:  r.tick,
				Recovered: func(got []sensors.Sample) {
					if len(got) != 1 || got[0].Value < 1 || got[0].Value > 2 {
						t.Errorf("after the fault cleared: %+v", got)
					}
				},
			}.Run(t, s)
			if !strings.HasPrefix(err.Error(), "ads1115 ") {
				t.Errorf("error %q does not start with the driver's name", err)
			}
		})
	}
}

// TestStuckDisabled: with StuckAfter negative a steady input is never
// reported stuck.
func TestStuckDisabled(t *testing.T) {
	r := newRig(t, 0x48, chip.Options{Inputs: [4]chip.Input{chip.Volts(2.5)}})
	s := r.sensor(t, ads1115.Options{StuckAfter: -1})
	for range sensors.DefaultStuckAfter + 10 {
		if got := read1(t, s); got.Value != 2.5 {
			t.Fatalf("%v V", got.Value)
		}
	}
	d := r.sensor(t, ads1115.Options{StuckAfter: 2})
	read1(t, d)
	if _, err := d.Read(context.Background()); !errors.Is(err, sensors.ErrStuck) {
		t.Errorf("StuckAfter 2, steady input: %v, want stuck", err)
	}
}

// neverDone is an ADS1115 whose conversions never end.
type neverDone struct{ *chip.Chip }

func (c neverDone) Tx(w, r []byte) error {
	err := c.Chip.Tx(w, r)
	if len(w) == 1 && w[0] == chip.RegConfig && len(r) == 2 {
		r[0] &^= 0x80
	}
	return err
}

func TestConversionNeverDone(t *testing.T) {
	r := newRig(t, 0x48, chip.Options{})
	s := r.sensor(t, ads1115.Options{})
	r.bus.Attach(0x48, neverDone{r.chip})
	start := r.clk.Now()
	_, err := s.Read(context.Background())
	if sensors.ErrorKind(err) != "bus" || !strings.Contains(err.Error(), "not done") {
		t.Fatalf("%v, want a bus error saying the conversion is not done", err)
	}
	if waited := r.clk.Now().Sub(start); waited != 2*time.Second/128 {
		t.Errorf("gave up after %s, want two conversion times", waited)
	}
}

// TestDetachReattach unplugs the chip and plugs in a fresh one: the same
// sensor reads it.
func TestDetachReattach(t *testing.T) {
	r := newRig(t, 0x4B, chip.Options{})
	s := r.sensor(t, ads1115.Options{Addr: 0x4B, Channel: ads1115.AIN2})
	read1(t, s)
	r.bus.Detach(0x4B)
	for range 3 {
		r.tick()
		_, err := s.Read(context.Background())
		if !errors.Is(err, sensors.ErrNoDevice) || !errors.Is(err, syscall.EREMOTEIO) {
			t.Fatalf("detached: %v, want no device (EREMOTEIO)", err)
		}
	}
	fresh := chip.New(chip.Options{Inputs: [4]chip.Input{nil, nil, chip.Volts(0.75)}, Now: r.clk.Now})
	r.bus.Attach(0x4B, fresh)
	if got := read1(t, s); got.Value != 0.75 {
		t.Errorf("re-attached: %v V, want 0.75", got.Value)
	}
}

func TestContext(t *testing.T) {
	r := newRig(t, 0x48, chip.Options{})
	s, err := ads1115.New(r.open, ads1115.Options{DataRate: 8}) // the real wait, 125 ms
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) || sensors.ErrorKind(err) != "timeout" {
		t.Fatalf("read with a 1 ms deadline: %v, want deadline exceeded", err)
	}
	ads1115.SetWait(s, r.clk.Sleep)
	if got := read1(t, s); got.Value != 1 {
		t.Errorf("next read: %v V", got.Value)
	}
}

func TestNew(t *testing.T) {
	r := newRig(t, 0x48, chip.Options{})
	for _, tc := range []struct {
		opt  ads1115.Options
		want string
	}{
		{ads1115.Options{Addr: 0x49}, "no device"},
		{ads1115.Options{Addr: 0x47}, "0x48..0x4B"},
		{ads1115.Options{Channel: 8}, "invalid channel"},
		{ads1115.Options{FullScale: 5}, "full scale"},
		{ads1115.Options{DataRate: 100}, "data rate"},
		{ads1115.Options{Metric: sensors.MetricMoisture, Unit: sensors.UnitPercent}, "needs a calibration"},
		{ads1115.Options{Calibration: [2]ads1115.Point{{1, 0}, {1, 100}}}, "share the voltage"},
		{ads1115.Options{Metric: "Bad Metric", Unit: "%", Calibration: [2]ads1115.Point{{0, 0}, {1, 1}}}, "metric"},
	} {
		if _, err := ads1115.New(r.open, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error saying %q", tc.opt, err, tc.want)
		}
	}
	s, err := ads1115.New(r.open, ads1115.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
	// The sensor borrowed the bus: it still works.
	if _, err := ads1115.Identify(r.open, 0x48); err != nil {
		t.Errorf("bus unusable after Close: %v", err)
	}
}

func TestParseChannel(t *testing.T) {
	for c := ads1115.AIN0; c <= ads1115.AIN2AIN3; c++ {
		got, err := ads1115.ParseChannel(c.String())
		if err != nil || got != c {
			t.Errorf("ParseChannel(%q) = %v, %v", c.String(), got, err)
		}
	}
	for in, want := range map[string]ads1115.Channel{"AIN2": ads1115.AIN2, "ain0-ain1": ads1115.AIN0AIN1, " 3 ": ads1115.AIN3} {
		if got, err := ads1115.ParseChannel(in); err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"4", "1-0", "", "0-2"} {
		if _, err := ads1115.ParseChannel(in); err == nil {
			t.Errorf("ParseChannel(%q) accepted", in)
		}
	}
	if ads1115.Channel(9).String() != "Channel(9)" {
		t.Error(ads1115.Channel(9))
	}
}

// foreign is some other chip with registers: it acknowledges every write
// and reads back zeros.
type foreign struct{}

func (foreign) Tx(w, r []byte) error { clear(r); return nil }

func TestIdentify(t *testing.T) {
	r := newRig(t, 0x48, chip.Options{})
	used := chip.New(chip.Options{Now: r.clk.Now})
	r.bus.Attach(0x49, used)
	programmed := chip.New(chip.Options{Now: r.clk.Now})
	programmed.Tx([]byte{0x02, 0x12, 0x34}, nil) // a low threshold
	r.bus.Attach(0x4A, programmed)
	r.bus.Attach(0x4B, foreign{})
	r.bus.Attach(0x4C, chip.New(chip.Options{}))
	r.bus.SetFault(0x4C, i2csim.BusError)
	read1(t, r.sensor(t, ads1115.Options{Addr: 0x49, Channel: ads1115.AIN3, FullScale: 0.256, DataRate: 860}))
	for _, tc := range []struct {
		addr  uint16
		model string
		kind  string
	}{
		{0x48, "ADS1115", ""}, // fresh: config 0x8583
		{0x49, "ADS1115", ""}, // used by this driver
		{0x4A, "", ""},
		{0x4B, "", ""},
		{0x4C, "", "bus"},
		{0x4D, "", "no_device"},
	} {
		got, err := ads1115.Identify(r.open, tc.addr)
		if got != tc.model || sensors.ErrorKind(err) != tc.kind {
			t.Errorf("Identify(%#x) = %q, %v; want %q, kind %q", tc.addr, got, err, tc.model, tc.kind)
		}
	}
}

// BenchmarkRead is one full Read through the registered emulated bus: the
// config write, one poll of the config register, the conversion read, the
// checks and the scaling. The wait moves the fake clock shared with the
// chip instead of sleeping 7.8 ms, so it measures the code, not the chip.
func BenchmarkRead(b *testing.B) {
	r := newRig(b, 0x48, chip.Options{})
	s := r.sensor(b, ads1115.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
		r.tick()
	}
}
