package sht3x_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sensors/sht3x"
	chip "github.com/tributary-iot/tributary/sim/chip/sht3x"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

// rig is an emulated SHT3x on a registered emulated bus, opened by name
// through i2creg as production code opens /dev/i2c-1. The chip's clock is
// the driver's wait, so that a read's 15.5 ms wait passes instantly and
// exactly.
type rig struct {
	bus  *i2csim.Bus // the emulated bus, to inject bus faults
	open i2c.BusCloser
	chip *chip.Chip
	clk  *sensorstest.Clock
}

// newRig attaches a chip reading in (nil: one whose temperature creeps up
// 0.01 °C a second from 20 °C, back to 20 every 1000 s, so that it never
// looks stuck) at addr.
func newRig(t testing.TB, addr uint16, in chip.Input) *rig {
	t.Helper()
	clk := &sensorstest.Clock{}
	if in == nil {
		start := clk.Now()
		in = func(t time.Time) (float64, float64) { return 20 + float64(int(t.Sub(start).Seconds())%1000)/100, 50 }
	}
	c := chip.New(chip.Options{Input: in, Now: clk.Now})
	b, open := i2csimtest.Open(t)
	b.Attach(addr, c)
	return &rig{bus: b, open: open, chip: c, clk: clk}
}

// sensor returns a driver for the rig's chip whose waits move the fake
// clock.
func (r *rig) sensor(t testing.TB, opt sht3x.Options) *sht3x.Sensor {
	t.Helper()
	s, err := sht3x.NewWithWait(r.open, opt, r.clk.Sleep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tick moves the clock a second, as between two reads of the agent.
func (r *rig) tick() { r.clk.Advance(time.Second) }

func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		raw  uint16
		t, h float64
	}{
		{0, -45, 0},
		{0xFFFF, 130, 100},
		{0x8000, -45 + 175*32768.0/65535, 100 * 32768.0 / 65535},
	} {
		if got := sht3x.Temperature(tc.raw); math.Abs(got-tc.t) > 1e-9 {
			t.Errorf("Temperature(%#x) = %v, want %v", tc.raw, got, tc.t)
		}
		if got := sht3x.Humidity(tc.raw); math.Abs(got-tc.h) > 1e-9 {
			t.Errorf("Humidity(%#x) = %v, want %v", tc.raw, got, tc.h)
		}
	}
}

// TestReadRoundTrip reads a table of conditions through the emulated chip:
// each comes back within the chip's resolution (one raw step, 0.0027 °C or
// 0.0015 %RH, plus the rounding to 0.01).
func TestReadRoundTrip(t *testing.T) {
	for _, addr := range sht3x.Addresses {
		t.Run(fmt.Sprintf("%#x", addr), func(t *testing.T) {
			var temp, hum float64
			r := newRig(t, addr, func(time.Time) (float64, float64) { return temp, hum })
			s := r.sensor(t, sht3x.Options{Name: "air", Addr: addr})
			if s.Name() != "air" {
				t.Errorf("Name = %q", s.Name())
			}
			for _, tc := range []struct{ t, h float64 }{
				{-40, 0}, {-12.34, 5.5}, {0, 50}, {21.37, 45.55}, {36.6, 99.99}, {85, 100}, {125, 0.01},
			} {
				temp, hum = tc.t, tc.h
				got, err := s.Read(context.Background())
				if err != nil {
					t.Fatalf("%v °C %v %%RH: %v", tc.t, tc.h, err)
				}
				if len(got) != 2 || got[0].Metric != sensors.MetricTemperature || got[0].Unit != sensors.UnitCelsius ||
					got[1].Metric != sensors.MetricHumidity || got[1].Unit != sensors.UnitRelHumidity {
					t.Fatalf("samples %+v, want temperature Cel then humidity %%", got)
				}
				if d := math.Abs(got[0].Value - tc.t); d > 175.0/65535+0.005 {
					t.Errorf("temperature %v, want %v (off by %.4f)", got[0].Value, tc.t, d)
				}
				if d := math.Abs(got[1].Value - tc.h); d > 100.0/65535+0.005 {
					t.Errorf("humidity %v, want %v (off by %.4f)", got[1].Value, tc.h, d)
				}
				for _, smp := range got {
					if err := smp.Validate(); err != nil {
						t.Error(err)
					}
				}
				r.tick()
			}
		})
	}
}

// TestReadRealClock reads with the driver's own wait against a chip on the
// real clock: the wait is long enough for the chip's measurement time.
func TestReadRealClock(t *testing.T) {
	r := newRig(t, 0x44, chip.Fixed(23.45, 67.8))
	c := chip.New(chip.Options{Input: chip.Fixed(23.45, 67.8)}) // time.Now
	r.bus.Attach(0x44, c)
	s, err := sht3x.New(r.open, sht3x.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value != 23.45 || got[1].Value != 67.8 {
		t.Errorf("got %+v, want 23.45 Cel, 67.8 %%RH", got)
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
		kind     string
		okReads  int // reads that succeed under the fault before it shows
		contains string
	}{
		{name: "no-ack", bus: i2csim.NoAck, kind: "no_device", contains: "start measurement"},
		{name: "bus-error", bus: i2csim.BusError, kind: "bus", contains: "input/output error"},
		{name: "crc", chip: chip.CRC, kind: "crc", contains: "temperature"},
		{name: "out-of-range", chip: chip.OutOfRange, kind: "out_of_range", contains: "130.00 °C"},
		{name: "stuck", chip: chip.Stuck, kind: "stuck", okReads: stuckAfter - 1, contains: "unchanged for 3 reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0x44, nil)
			s := r.sensor(t, sht3x.Options{StuckAfter: stuckAfter})
			var resets int
			err := sensorstest.FaultCheck{
				Set: func() { r.bus.SetFault(0x44, tc.bus); r.chip.SetFault(tc.chip) },
				Clear: func() {
					resets = r.chip.Commands(chip.CmdSoftReset)
					r.bus.SetFault(0x44, i2csim.OK)
					r.chip.SetFault(chip.OK)
				},
				Kind:  tc.kind,
				Says:  tc.contains,
				After: tc.okReads,
				Tick:  r.tick,
				Recovered: func(got []sensors.Sample) {
					if got[0].Value < 20 || got[0].Value > 21 {
						t.Errorf("after the fault cleared: %+v", got)
					}
				},
			}.Run(t, s)
			if !strings.HasPrefix(err.Error(), "sht3x ") {
				t.Errorf("error %q does not start with the driver's name", err)
			}
			if n := r.chip.Commands(chip.CmdSoftReset); n != resets+1 {
				t.Errorf("soft resets after the failed read: %d, want 1", n-resets)
			}
		})
	}
}

// TestDetachReattach unplugs the chip and plugs in another: the same
// sensor reads the new chip.
func TestDetachReattach(t *testing.T) {
	r := newRig(t, 0x45, nil)
	s := r.sensor(t, sht3x.Options{Addr: 0x45})
	ctx := context.Background()
	if _, err := s.Read(ctx); err != nil {
		t.Fatal(err)
	}
	r.bus.Detach(0x45)
	for range 3 {
		r.tick()
		_, err := s.Read(ctx)
		if !errors.Is(err, sensors.ErrNoDevice) || !errors.Is(err, syscall.EREMOTEIO) {
			t.Fatalf("detached: %v, want no device (EREMOTEIO)", err)
		}
	}
	fresh := chip.New(chip.Options{Input: chip.Fixed(-5.5, 88), Now: r.clk.Now})
	r.bus.Attach(0x45, fresh)
	got, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("re-attached: %v", err)
	}
	if got[0].Value != -5.5 || got[1].Value != 88 {
		t.Errorf("re-attached: %+v, want -5.5 Cel, 88 %%RH", got)
	}
	if fresh.Commands(chip.CmdSoftReset) != 1 {
		t.Errorf("the new chip got %d soft resets, want 1", fresh.Commands(chip.CmdSoftReset))
	}
}

// TestContext: a read whose context ends during the measurement returns
// the context's error (kind "timeout"); the next read resets the chip and
// works.
func TestContext(t *testing.T) {
	r := newRig(t, 0x44, nil)
	s, err := sht3x.New(r.open, sht3x.Options{}) // the real wait
	if err != nil {
		t.Fatal(err)
	}
	r.chip.SetInput(chip.Fixed(30, 40))
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = s.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || sensors.ErrorKind(err) != "timeout" {
		t.Fatalf("read with a 1 ms deadline: %v, want deadline exceeded", err)
	}
	cctx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.Read(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
	sht3x.SetWait(s, r.clk.Sleep)
	resets := r.chip.Commands(chip.CmdSoftReset)
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value != 30 {
		t.Errorf("got %+v", got)
	}
	if r.chip.Commands(chip.CmdSoftReset) != resets+1 {
		t.Error("no soft reset after the failed read")
	}
}

func TestNew(t *testing.T) {
	r := newRig(t, 0x44, nil)
	if _, err := sht3x.New(r.open, sht3x.Options{Addr: 0x45}); sensors.ErrorKind(err) != "no_device" {
		t.Errorf("New at an empty address: %v, want no_device", err)
	}
	if _, err := sht3x.New(r.open, sht3x.Options{Addr: 0x46}); err == nil || !strings.Contains(err.Error(), "0x44 or 0x45") {
		t.Errorf("New at 0x46: %v, want an address error", err)
	}
	r.chip.SetFault(chip.CRC)
	if _, err := sht3x.New(r.open, sht3x.Options{}); sensors.ErrorKind(err) != "crc" {
		t.Errorf("New with bad CRCs: %v, want crc", err)
	}
	r.chip.SetFault(chip.OK)
	s, err := sht3x.New(r.open, sht3x.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "sht3x" {
		t.Errorf("default name %q", s.Name())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
	if r.bus.Transactions(0x44) == 0 {
		t.Error("no transactions reached the chip")
	}
	// The sensor borrowed the bus: it still works.
	if _, err := sht3x.Identify(r.open, 0x44); err != nil {
		t.Errorf("bus unusable after Close: %v", err)
	}
}

func TestSerialAndStatus(t *testing.T) {
	r := newRig(t, 0x44, nil)
	s := r.sensor(t, sht3x.Options{})
	sn, err := s.Serial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sn != chip.DefaultSerial {
		t.Errorf("serial %#x, want %#x", sn, chip.DefaultSerial)
	}
	st, err := s.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st&chip.StatusReset == 0 || st&chip.StatusHeater != 0 {
		t.Errorf("status %#04x after reset: want reset bit, heater off", st)
	}
}

// foreign is some other chip with registers: it acknowledges every write
// and reads back zeros (a TMP102, an INA219, ...).
type foreign struct{}

func (foreign) Tx(w, r []byte) error { clear(r); return nil }

// noSerial is an SHT3x of a revision without the serial-number command.
type noSerial struct{ *chip.Chip }

func (c noSerial) Tx(w, r []byte) error {
	if len(w) == 2 && w[0] == 0x36 && w[1] == 0x82 {
		return fmt.Errorf("sysfs-i2c: %w", syscall.EREMOTEIO)
	}
	return c.Chip.Tx(w, r)
}

func TestIdentify(t *testing.T) {
	r := newRig(t, 0x44, nil)
	modern := chip.New(chip.Options{}) // on the real clock: Identify sleeps for real
	old := chip.New(chip.Options{})
	r.bus.Attach(0x44, modern)
	r.bus.Attach(0x45, foreign{})
	r.bus.Attach(0x46, noSerial{old})
	r.bus.Attach(0x47, noSerial{chip.New(chip.Options{})})
	r.bus.SetFault(0x47, i2csim.BusError)
	for _, tc := range []struct {
		addr  uint16
		model string
		kind  string
	}{
		{0x44, "SHT3x", ""},
		{0x45, "", ""},
		{0x46, "SHT3x", ""},
		{0x47, "", "bus"},
		{0x48, "", "no_device"},
	} {
		got, err := sht3x.Identify(r.open, tc.addr)
		if got != tc.model || sensors.ErrorKind(err) != tc.kind {
			t.Errorf("Identify(%#x) = %q, %v; want %q, kind %q", tc.addr, got, err, tc.model, tc.kind)
		}
	}
	if modern.Commands(chip.CmdSerial) != 1 || modern.Commands(chip.CmdStatus) != 0 {
		t.Errorf("modern chip: %d serial, %d status commands; want it known by its serial number",
			modern.Commands(chip.CmdSerial), modern.Commands(chip.CmdStatus))
	}
	if old.Commands(chip.CmdStatus) != 1 {
		t.Errorf("old chip: %d status commands, want 1", old.Commands(chip.CmdStatus))
	}
}

// BenchmarkRead is one full Read through the registered emulated bus: the
// soft-reset-free path of command, wait, six-byte read, CRCs, conversion
// and stuck check. The wait moves the fake clock shared with the chip
// instead of sleeping 15.5 ms, so it measures the code, not the chip.
func BenchmarkRead(b *testing.B) {
	r := newRig(b, 0x44, nil)
	s := r.sensor(b, sht3x.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
		r.tick()
	}
}
