package sht4x_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sensors/sht3x"
	"github.com/tributary-iot/tributary/sensors/sht4x"
	sht3xchip "github.com/tributary-iot/tributary/sim/chip/sht3x"
	sht4xchip "github.com/tributary-iot/tributary/sim/chip/sht4x"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

// testSerial is the serial number of the test rigs' chips.
const testSerial = 0x12345678

// rig is an emulated SHT4x on a registered emulated bus, on a fake clock
// that the driver's waits move.
type rig struct {
	bus  *i2csim.Bus
	open i2c.BusCloser
	chip *sht4xchip.Chip
	clk  *sensorstest.Clock
}

// newRig registers a bus of its own with an emulated SHT4x at addr on a
// fake clock, at 20 °C and 50 %RH.
func newRig(t testing.TB, addr uint16) *rig {
	t.Helper()
	clk := &sensorstest.Clock{}
	c := sht4xchip.New(sht4xchip.Options{Input: sht4xchip.Fixed(20, 50), Now: clk.Now, Serial: testSerial})
	b, open := i2csimtest.Open(t)
	b.Attach(addr, c)
	return &rig{bus: b, open: open, chip: c, clk: clk}
}

// set makes the chip measure t °C and h %RH from the next measurement on.
func (r *rig) set(t, h float64) { r.chip.SetInput(sht4xchip.Fixed(t, h)) }

func (r *rig) sensor(t testing.TB, opt sht4x.Options) *sht4x.Sensor {
	t.Helper()
	s, err := sht4x.NewWithWait(r.open, opt, r.clk.Sleep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (r *rig) tick() { r.clk.Advance(time.Second) }

func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		raw  uint16
		t, h float64
	}{
		{0, -45, 0},           // -6 %RH cropped
		{0xFFFF, 130, 100},    // 119 %RH cropped
		{3145, -36.60, 0},     // -0.0013 %RH cropped
		{0x8000, 42.50, 56.5}, // -6 + 125*32768/65535
	} {
		if got := sht4x.Temperature(tc.raw); math.Abs(got-tc.t) > 0.01 {
			t.Errorf("Temperature(%#x) = %v, want %v", tc.raw, got, tc.t)
		}
		if got := sht4x.Humidity(tc.raw); math.Abs(got-tc.h) > 0.01 {
			t.Errorf("Humidity(%#x) = %v, want %v", tc.raw, got, tc.h)
		}
	}
}

func TestReadRoundTrip(t *testing.T) {
	for _, addr := range sht4x.Addresses {
		r := newRig(t, addr)
		s := r.sensor(t, sht4x.Options{Name: "air", Addr: addr})
		for _, tc := range []struct{ t, h float64 }{
			{-40, 0}, {-5.25, 10}, {0, 50}, {22.22, 33.33}, {60, 99.9}, {125, 100},
		} {
			r.set(tc.t, tc.h)
			got, err := s.Read(context.Background())
			if err != nil {
				t.Fatalf("%#x: %v °C %v %%RH: %v", addr, tc.t, tc.h, err)
			}
			if got[0].Metric != sensors.MetricTemperature || got[1].Metric != sensors.MetricHumidity {
				t.Fatalf("samples %+v", got)
			}
			if d := math.Abs(got[0].Value - tc.t); d > 175.0/65535+0.005 {
				t.Errorf("%#x: temperature %v, want %v", addr, got[0].Value, tc.t)
			}
			if d := math.Abs(got[1].Value - tc.h); d > 125.0/65535+0.005 {
				t.Errorf("%#x: humidity %v, want %v", addr, got[1].Value, tc.h)
			}
			r.tick()
		}
	}
}

func TestFaults(t *testing.T) {
	const stuckAfter = 3
	for _, tc := range []struct {
		name    string
		bus     i2csim.Fault
		chip    sht4xchip.Fault
		kind    string
		okReads int
	}{
		{name: "no-ack", bus: i2csim.NoAck, kind: "no_device"},
		{name: "bus-error", bus: i2csim.BusError, kind: "bus"},
		{name: "crc", chip: sht4xchip.CRC, kind: "crc"},
		{name: "out-of-range", chip: sht4xchip.OutOfRange, kind: "out_of_range"},
		{name: "stuck", chip: sht4xchip.Stuck, kind: "stuck", okReads: stuckAfter - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0x44)
			s := r.sensor(t, sht4x.Options{StuckAfter: stuckAfter})
			temp := 20.0
			next := func() { temp += 0.1; r.set(temp, 50) }
			next()
			var resets int
			err := sensorstest.FaultCheck{
				Set: func() { r.bus.SetFault(0x44, tc.bus); r.chip.SetFault(tc.chip) },
				Clear: func() {
					resets = r.chip.Commands(sht4xchip.CmdSoftReset)
					r.bus.SetFault(0x44, i2csim.OK)
					r.chip.SetFault(sht4xchip.OK)
				},
				Kind:  tc.kind,
				After: tc.okReads,
				Tick:  func() { r.tick(); next() },
				Recovered: func(got []sensors.Sample) {
					if math.Abs(got[0].Value-temp) > 0.01 {
						t.Errorf("after the fault cleared: %+v, want %v °C", got, temp)
					}
				},
			}.Run(t, s)
			if !strings.HasPrefix(err.Error(), "sht4x ") {
				t.Errorf("error %q does not start with the driver's name", err)
			}
			if r.chip.Commands(sht4xchip.CmdSoftReset) != resets+1 {
				t.Error("no soft reset after the failed read")
			}
		})
	}
}

func TestDetachReattach(t *testing.T) {
	r := newRig(t, 0x45)
	s := r.sensor(t, sht4x.Options{Addr: 0x45})
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.bus.Detach(0x45)
	r.tick()
	if _, err := s.Read(context.Background()); !errors.Is(err, sensors.ErrNoDevice) {
		t.Fatalf("detached: %v, want no device", err)
	}
	r.bus.Attach(0x45, sht4xchip.New(sht4xchip.Options{Input: sht4xchip.Fixed(31.5, 22), Now: r.clk.Now}))
	r.tick()
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("re-attached: %v", err)
	}
	if got[0].Value != 31.5 || got[1].Value != 22 {
		t.Errorf("re-attached: %+v", got)
	}
}

func TestContext(t *testing.T) {
	r := newRig(t, 0x44)
	s := r.sensor(t, sht4x.Options{})
	sht4x.SetWait(s, sensors.Sleep) // the driver's own wait
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); sensors.ErrorKind(err) != "timeout" {
		t.Fatalf("read with a 1 ms deadline: %v, want a timeout", err)
	}
}

func TestNewSerialClose(t *testing.T) {
	r := newRig(t, 0x44)
	if _, err := sht4x.New(r.open, sht4x.Options{Addr: 0x46}); sensors.ErrorKind(err) != "no_device" {
		t.Errorf("New at an empty address: %v", err)
	}
	if _, err := sht4x.New(r.open, sht4x.Options{Addr: 0x47}); err == nil {
		t.Error("New at 0x47 accepted")
	}
	s := r.sensor(t, sht4x.Options{})
	if s.Name() != "sht4x" {
		t.Errorf("default name %q", s.Name())
	}
	if sn, err := s.Serial(context.Background()); err != nil || sn != testSerial {
		t.Errorf("Serial = %#x, %v", sn, err)
	}
	s.Close()
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
}

// TestIdentify tells an SHT4x from an SHT3x at the address both use, from
// either side.
func TestIdentify(t *testing.T) {
	bus, open := i2csimtest.Open(t) // chips on the real clock: Identify sleeps for real
	bus.Attach(0x44, sht4xchip.New(sht4xchip.Options{}))
	bus.Attach(0x45, sht3xchip.New(sht3xchip.Options{}))
	bus.Attach(0x46, sht4xchip.New(sht4xchip.Options{}))
	bus.SetFault(0x46, i2csim.BusError)
	for _, tc := range []struct {
		addr  uint16
		model string
		kind  string
	}{
		{0x44, "SHT4x", ""},
		{0x45, "", ""}, // an SHT3x
		{0x46, "", "bus"},
		{0x47, "", "no_device"},
	} {
		got, err := sht4x.Identify(open, tc.addr)
		if got != tc.model || sensors.ErrorKind(err) != tc.kind {
			t.Errorf("Identify(%#x) = %q, %v; want %q, kind %q", tc.addr, got, err, tc.model, tc.kind)
		}
	}
	if got, _ := sht3x.Identify(open, 0x44); got == "SHT3x" {
		t.Error("sht3x.Identify took the SHT4x for an SHT3x")
	}
	if got, err := sht3x.Identify(open, 0x45); got != "SHT3x" {
		t.Errorf("sht3x.Identify(SHT3x) = %q, %v", got, err)
	}
}

// BenchmarkRead is one full Read through the registered emulated bus; the
// wait moves the fake clock shared with the chip instead of sleeping
// 8.3 ms, so it measures the code, not the chip.
func BenchmarkRead(b *testing.B) {
	r := newRig(b, 0x44)
	s := r.sensor(b, sht4x.Options{})
	ctx := context.Background()
	temp := 0.0
	b.ReportAllocs()
	for b.Loop() {
		temp = math.Mod(temp+0.01, 50)
		r.set(temp, 50)
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
		r.tick()
	}
}
