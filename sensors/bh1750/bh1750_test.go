package bh1750_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/bh1750"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	chip "github.com/tributary-iot/tributary/sim/chip/bh1750"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

// fast are options whose reads take 11 ms (Low resolution, MTreg 31)
// instead of High resolution's 180.
var fast = bh1750.Options{Resolution: bh1750.Low, MTreg: 31}

// ramp is a light source that changes at every measurement, as a real
// chip's noise does, so that the stuck detector stays quiet.
type ramp struct{ n atomic.Int64 }

func (r *ramp) source() float64 { return 300 + 10*float64(r.n.Add(1)%50) }

func lux(t *testing.T, ss []sensors.Sample) float64 {
	t.Helper()
	if len(ss) != 1 || ss[0].Metric != "illuminance" || ss[0].Unit != "lx" {
		t.Fatalf("samples %v, want one illuminance in lx", ss)
	}
	if err := ss[0].Validate(); err != nil {
		t.Fatal(err)
	}
	return ss[0].Value
}

// Light values survive the trip through the emulated chip and the driver,
// within the resolution of each mode and sensitivity.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		res    bh1750.Resolution
		mtreg  int
		values []float64
		below  float64 // the reading may be this much under (Low truncates)
		tol    float64
	}{
		{bh1750.High, 0, []float64{0, 0.9, 321.4, 54000}, 0, 0.42},
		{bh1750.High2, 254, []float64{0.2, 17.3, 7400}, 0, 0.06},
		{bh1750.Low, 31, []float64{0, 5, 1234.5, 100000, 121000}, 4 * 1.855, 0.93},
		{bh1750.Low, 138, []float64{50, 27000}, 4 * 0.417, 0.21},
	} {
		t.Run(fmt.Sprintf("%s-%d", tc.res, tc.mtreg), func(t *testing.T) {
			sb, b := i2csimtest.Open(t)
			c := chip.New(nil)
			sb.Attach(0x5C, c)
			s, err := bh1750.New(b, bh1750.Options{Name: "light", Addr: 0x5C, Resolution: tc.res, MTreg: tc.mtreg})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.values {
				c.SetLux(want)
				ss, err := s.Read(context.Background())
				if err != nil {
					t.Fatalf("%s MTreg %d, %v lx: %v", tc.res, tc.mtreg, want, err)
				}
				if got := lux(t, ss); got > want+tc.tol || got < want-tc.below-tc.tol {
					t.Errorf("%s MTreg %d: %v lx read as %v", tc.res, tc.mtreg, want, got)
				}
			}
			if tc.mtreg != 0 && int(c.MTreg()) != tc.mtreg {
				t.Errorf("chip MTreg %d, want %d", c.MTreg(), tc.mtreg)
			}
		})
	}
}

// foreign is another chip at a BH1750 address: a port expander that reads
// back the last byte written to it.
type foreign struct{ last byte }

func (f *foreign) Tx(w, r []byte) error {
	if len(w) > 0 {
		f.last = w[len(w)-1]
	}
	for i := range r {
		r[i] = f.last
	}
	return nil
}

func TestIdentify(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	c := chip.New(nil)
	tx := func(w ...byte) {
		if err := c.Tx(w, nil); err != nil {
			t.Fatal(err)
		}
	}
	tx(chip.OpOnceHigh) // data register holds 360 counts
	sb.Attach(0x23, c)
	sb.Attach(0x5C, &foreign{})
	if m, err := bh1750.Identify(b, 0x23); m != "BH1750" || err != nil {
		t.Errorf("Identify(0x23) = %q, %v; want BH1750", m, err)
	}
	if c.Powered() {
		t.Error("Identify left the chip powered on")
	}
	if m, err := bh1750.Identify(b, 0x5C); m != "" || err != nil {
		t.Errorf("Identify(foreign chip) = %q, %v; want \"\", nil", m, err)
	}
	sb.Detach(0x5C)
	if _, err := bh1750.Identify(b, 0x5C); sensors.ErrorKind(err) != "no_device" {
		t.Errorf("Identify(empty address): %v, want no_device", err)
	}
	sb.SetFault(0x23, i2csim.BusError)
	if _, err := bh1750.Identify(b, 0x23); sensors.ErrorKind(err) != "bus" {
		t.Errorf("Identify on a failing bus: %v, want bus", err)
	}
}

func TestNewErrors(t *testing.T) {
	_, b := i2csimtest.Open(t)
	for _, tc := range []struct {
		opt  bh1750.Options
		kind string
		text string
	}{
		{bh1750.Options{Addr: 0x76}, "other", "0x23 or 0x5c"},
		{bh1750.Options{MTreg: 30}, "other", "MTreg 30"},
		{bh1750.Options{MTreg: 255}, "other", "MTreg 255"},
		{bh1750.Options{Resolution: 7}, "other", "resolution 7"},
		{bh1750.Options{Name: "a/b"}, "other", "invalid sensor name"},
		{bh1750.Options{}, "no_device", "power on at 0x23: no device at address"},
	} {
		s, err := bh1750.New(b, tc.opt)
		if err == nil || s != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", tc.opt, s, err)
			continue
		}
		if k := sensors.ErrorKind(err); k != tc.kind || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("New(%+v): %v (kind %s), want kind %s and %q", tc.opt, err, k, tc.kind, tc.text)
		}
	}
}

// Each fault gives its kind of error, and the sensor reads again once the
// fault is gone, without being re-created.
func TestFaults(t *testing.T) {
	const stuckAfter = 4
	for _, tc := range []struct {
		name  string
		set   func(sb *i2csim.Bus, c *chip.Chip)
		clear func(sb *i2csim.Bus, c *chip.Chip)
		kind  string
		after int // reads that still succeed before the error
	}{
		{"no-ack", func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x23, i2csim.NoAck) },
			func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x23, i2csim.OK) }, "no_device", 0},
		{"bus-error", func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x23, i2csim.BusError) },
			func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x23, i2csim.OK) }, "bus", 0},
		{"stuck", func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.Stuck) },
			func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OK) }, "stuck", stuckAfter - 2},
		{"out-of-range", func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OutOfRange) },
			func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OK) }, "out_of_range", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, b := i2csimtest.Open(t)
			var r ramp
			c := chip.New(r.source)
			sb.Attach(0x23, c)
			opt := fast
			opt.StuckAfter = stuckAfter
			s, err := bh1750.New(b, opt)
			if err != nil {
				t.Fatal(err)
			}
			err = sensorstest.FaultCheck{
				Set:   func() { tc.set(sb, c) },
				Clear: func() { tc.clear(sb, c) },
				Kind:  tc.kind,
				After: tc.after,
				Recovered: func(ss []sensors.Sample) {
					if v := lux(t, ss); v < 295 || v > 800 {
						t.Errorf("after clearing the fault: %v lx, want 300..790", v)
					}
				},
			}.Run(t, s)
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// Darkness is not a stuck chip: 0 lx for many reads is no error.
func TestDarknessNotStuck(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	c := chip.New(chip.Fixed(0))
	sb.Attach(0x23, c)
	opt := fast
	opt.StuckAfter = 3
	s, err := bh1750.New(b, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		ss, err := s.Read(context.Background())
		if err != nil {
			t.Fatalf("dark read %d: %v", i, err)
		}
		if v := lux(t, ss); v != 0 {
			t.Fatalf("dark read %d: %v lx", i, v)
		}
	}
	// Then a constant light is counted from scratch.
	c.SetLux(100)
	for i := range 2 {
		if _, err := s.Read(context.Background()); err != nil {
			t.Fatalf("light read %d: %v", i, err)
		}
	}
	if _, err := s.Read(context.Background()); sensors.ErrorKind(err) != "stuck" {
		t.Fatalf("third identical light read: %v, want stuck", err)
	}
	// A negative StuckAfter turns the check off, for steady artificial light.
	opt.StuckAfter = -1
	off, err := bh1750.New(b, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := off.Read(context.Background()); err != nil {
			t.Fatalf("StuckAfter -1, read %d: %v", i+1, err)
		}
	}
}

// A chip unplugged and plugged back in (so power-cycled, MTreg back at 69)
// is read again, at the right scale, by the same sensor.
func TestDetachReattach(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	c := chip.New(chip.Fixed(1000))
	sb.Attach(0x23, c)
	s, err := bh1750.New(b, bh1750.Options{Resolution: bh1750.Low, MTreg: 40})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Read(ctx); err != nil {
		t.Fatal(err)
	}
	sb.Detach(0x23)
	if _, err := s.Read(ctx); sensors.ErrorKind(err) != "no_device" {
		t.Fatalf("detached: %v, want no_device", err)
	}
	c.PowerCycle()
	c.SetLux(2000)
	sb.Attach(0x23, c)
	ss, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("re-attached: %v", err)
	}
	if v := lux(t, ss); v < 1990 || v > 2001 {
		t.Errorf("re-attached: %v lx, want 2000 (MTreg set again)", v)
	}
}

func TestContext(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	sb.Attach(0x23, chip.New(nil))
	s, err := bh1750.New(b, bh1750.Options{}) // High: 180 ms
	if err != nil {
		t.Fatal(err)
	}
	if s.MeasurementTime() != 180*time.Millisecond {
		t.Errorf("MeasurementTime %v, want 180ms", s.MeasurementTime())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); sensors.ErrorKind(err) != "timeout" {
		t.Errorf("Read outliving its context: %v, want timeout", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v", err)
	}
}

// closeRecorder is a bus that records whether someone closed it.
type closeRecorder struct {
	i2c.Bus
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestClose(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	c := chip.New(nil)
	sb.Attach(0x23, c)
	rec := &closeRecorder{Bus: b}
	s, err := bh1750.New(rec, fast)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Powered() {
		t.Fatal("New did not power the chip on")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Powered() {
		t.Error("Close left the chip powered on")
	}
	if rec.closed {
		t.Error("the sensor closed the bus it borrowed")
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
}

// The bytes on the wire for New and one Read (Low resolution, MTreg 100:
// 0b011_00100), pinned with periph's i2ctest.Playback.
func TestTranscript(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x23, W: []byte{0x01}}, // power on
		{Addr: 0x23, W: []byte{0x43}}, // MTreg bits 7..5
		{Addr: 0x23, W: []byte{0x64}}, // MTreg bits 4..0
		// Read: MTreg again, one-time L, the counts
		{Addr: 0x23, W: []byte{0x43}},
		{Addr: 0x23, W: []byte{0x64}},
		{Addr: 0x23, W: []byte{0x23}},
		{Addr: 0x23, R: []byte{0x03, 0xE8}}, // 1000 counts
	}}
	s, err := bh1750.New(bus, bh1750.Options{Resolution: bh1750.Low, MTreg: 100})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// 1000 / 1.2 × 69/100 = 575 lx
	if v := lux(t, ss); math.Abs(v-575) > 0.005 {
		t.Errorf("%v lx, want 575", v)
	}
}

func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct {
		name string
		opt  bh1750.Options
	}{
		{"high", bh1750.Options{}},
		{"low-mtreg31", fast},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sb, bus := i2csimtest.Open(b)
			var r ramp
			sb.Attach(0x23, chip.New(r.source))
			s, err := bh1750.New(bus, tc.opt)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
