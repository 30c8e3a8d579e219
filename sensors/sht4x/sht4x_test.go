package sht4x_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sht3x"
	"github.com/tributary-iot/tributary/sensors/sht4x"
	sht3xchip "github.com/tributary-iot/tributary/sim/chip/sht3x"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

// sht4xChip emulates an SHT4x at the level of its one-byte commands:
// measurements in three precisions (not acknowledged for reading until
// their maximum time has passed), serial number, soft reset, CRCs; faults
// crc, stuck and out-of-range. Heater commands and anything else are not
// acknowledged. It is safe for concurrent use.
type sht4xChip struct {
	now func() time.Time

	mu       sync.Mutex
	temp     float64 // °C
	hum      float64 // %RH
	fault    string  // "", "crc", "stuck", "out-of-range"
	frozen   []uint16
	out      []byte
	readyAt  time.Time
	commands map[byte]int
}

const testSerial = 0x12345678

func newSHT4xChip(now func() time.Time, temp, hum float64) *sht4xChip {
	return &sht4xChip{now: now, temp: temp, hum: hum, commands: map[byte]int{}}
}

func (c *sht4xChip) set(temp, hum float64, fault string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.temp, c.hum = temp, hum
	if fault != c.fault {
		c.frozen = nil
	}
	c.fault = fault
}

func (c *sht4xChip) count(cmd byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands[cmd]
}

func (c *sht4xChip) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(w) > 0 {
		if len(w) != 1 {
			return fmt.Errorf("sysfs-i2c: %w (emulated SHT4x: %d-byte write)", syscall.EREMOTEIO, len(w))
		}
		switch w[0] {
		case 0xFD, 0xF6, 0xE0:
			d := map[byte]time.Duration{0xFD: 8300 * time.Microsecond, 0xF6: 4500 * time.Microsecond, 0xE0: 1600 * time.Microsecond}[w[0]]
			words := []uint16{raw((c.temp + 45) * 65535 / 175), raw((c.hum + 6) * 65535 / 125)}
			switch c.fault {
			case "stuck":
				if c.frozen == nil {
					c.frozen = words
				}
				words = c.frozen
			case "out-of-range":
				words[0] = 0xFFFF
			}
			c.send(now.Add(d), words...)
		case 0x89:
			c.send(now, testSerial>>16, testSerial&0xFFFF) // no documented delay
		case 0x94:
			c.out = nil
		default:
			return fmt.Errorf("sysfs-i2c: %w (emulated SHT4x: command %#02x)", syscall.EREMOTEIO, w[0])
		}
		c.commands[w[0]]++
	}
	if len(r) == 0 {
		return nil
	}
	if c.out == nil || now.Before(c.readyAt) {
		return fmt.Errorf("sysfs-i2c: %w (emulated SHT4x: no data)", syscall.EREMOTEIO)
	}
	copy(r, c.out)
	c.out = nil
	return nil
}

func (c *sht4xChip) send(ready time.Time, words ...uint16) {
	c.out = nil
	for _, w := range words {
		b := []byte{byte(w >> 8), byte(w)}
		crc := sht4x.CRC8(b)
		if c.fault == "crc" {
			crc ^= 0x01
		}
		c.out = append(c.out, b[0], b[1], crc)
	}
	c.readyAt = ready
}

func raw(v float64) uint16 { return uint16(math.Round(math.Max(0, math.Min(65535, v)))) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

type rig struct {
	bus  *i2csim.Bus
	open i2c.BusCloser
	chip *sht4xChip
	clk  *fakeClock
}

var busSeq struct {
	sync.Mutex
	n int
}

func newRig(t testing.TB, addr uint16) *rig {
	t.Helper()
	busSeq.Lock()
	busSeq.n++
	name := fmt.Sprintf("SHT4XTEST%d", busSeq.n)
	busSeq.Unlock()
	clk := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	c := newSHT4xChip(clk.Now, 20, 50)
	b := i2csim.NewBus(name)
	b.Attach(addr, c)
	if err := b.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Unregister(); err != nil {
			t.Error(err)
		}
	})
	open, err := i2creg.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { open.Close() })
	return &rig{bus: b, open: open, chip: c, clk: clk}
}

func (r *rig) sensor(t testing.TB, opt sht4x.Options) *sht4x.Sensor {
	t.Helper()
	s, err := sht4x.New(r.open, opt)
	if err != nil {
		t.Fatal(err)
	}
	sht4x.SetWait(s, r.clk.wait)
	t.Cleanup(func() { s.Close() })
	return s
}

func (r *rig) tick() { r.clk.wait(context.Background(), time.Second) }

func TestCRC8(t *testing.T) {
	if got := sht4x.CRC8([]byte{0xBE, 0xEF}); got != 0x92 {
		t.Errorf("CRC8(be ef) = %#02x, want the datasheet's 0x92", got)
	}
}

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
			r.chip.set(tc.t, tc.h, "")
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
		chip    string
		kind    string
		okReads int
	}{
		{name: "no-ack", bus: i2csim.NoAck, kind: "no_device"},
		{name: "bus-error", bus: i2csim.BusError, kind: "bus"},
		{name: "crc", chip: "crc", kind: "crc"},
		{name: "out-of-range", chip: "out-of-range", kind: "out_of_range"},
		{name: "stuck", chip: "stuck", kind: "stuck", okReads: stuckAfter - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 0x44)
			s := r.sensor(t, sht4x.Options{StuckAfter: stuckAfter})
			ctx := context.Background()
			temp := 20.0
			next := func() float64 { temp += 0.1; return temp }
			r.chip.set(next(), 50, "")
			if _, err := s.Read(ctx); err != nil {
				t.Fatal(err)
			}
			r.bus.SetFault(0x44, tc.bus)
			for i := range tc.okReads + 1 {
				r.tick()
				r.chip.set(next(), 50, tc.chip)
				_, err := s.Read(ctx)
				if i < tc.okReads {
					if err != nil {
						t.Fatalf("read %d under the fault: %v", i+1, err)
					}
					continue
				}
				if got := sensors.ErrorKind(err); got != tc.kind || !strings.HasPrefix(err.Error(), "sht4x ") {
					t.Fatalf("error %v: kind %q, want %q", err, got, tc.kind)
				}
			}
			r.tick()
			resets := r.chip.count(0x94)
			r.bus.SetFault(0x44, i2csim.OK)
			r.chip.set(next(), 50, "")
			got, err := s.Read(ctx)
			if err != nil {
				t.Fatalf("after the fault cleared: %v", err)
			}
			if math.Abs(got[0].Value-temp) > 0.01 {
				t.Errorf("after the fault cleared: %+v, want %v °C", got, temp)
			}
			if r.chip.count(0x94) != resets+1 {
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
	r.bus.Attach(0x45, newSHT4xChip(r.clk.Now, 31.5, 22))
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
	s, err := sht4x.New(r.open, sht4x.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
	r := newRig(t, 0x44)
	r.chip.now = time.Now // Identify sleeps for real
	r.bus.Attach(0x45, sht3xchip.New(sht3xchip.Options{}))
	r.bus.Attach(0x46, newSHT4xChip(time.Now, 20, 50))
	r.bus.SetFault(0x46, i2csim.BusError)
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
		got, err := sht4x.Identify(r.open, tc.addr)
		if got != tc.model || sensors.ErrorKind(err) != tc.kind {
			t.Errorf("Identify(%#x) = %q, %v; want %q, kind %q", tc.addr, got, err, tc.model, tc.kind)
		}
	}
	if got, _ := sht3x.Identify(r.open, 0x44); got == "SHT3x" {
		t.Error("sht3x.Identify took the SHT4x for an SHT3x")
	}
	if got, err := sht3x.Identify(r.open, 0x45); got != "SHT3x" {
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
		r.chip.set(temp, 50, "")
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
		r.tick()
	}
}
