package sht3x_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/chip/internal/sensirion/sensiriontest"
	"github.com/tributary-iot/tributary/sim/chip/sht3x"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

var _ i2csim.Chip = (*sht3x.Chip)(nil)

func newChip(in sht3x.Input) (*sht3x.Chip, *sensorstest.Clock) {
	clk := &sensorstest.Clock{}
	return sht3x.New(sht3x.Options{Input: in, Now: clk.Now}), clk
}

func cmd(c uint16) []byte { return []byte{byte(c >> 8), byte(c)} }

// TestCRCExample makes the chip send the word 0xBEEF: its CRC must be
// the datasheet's example, 0x92.
func TestCRCExample(t *testing.T) {
	c, _ := newChip(sht3x.Fixed(-45+175*float64(0xBEEF)/65535, 100*float64(0xBEEF)/65535))
	if err := c.Tx(cmd(sht3x.CmdMeasureHighStretch), nil); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 6)
	if err := c.Tx(nil, r); err != nil {
		t.Fatal(err)
	}
	want := []byte{0xBE, 0xEF, 0x92, 0xBE, 0xEF, 0x92}
	if string(r) != string(want) {
		t.Errorf("sent % x, want % x", r, want)
	}
}

// TestMeasurementTiming: the read header is not acknowledged until the
// measurement time has passed, then the data is there once.
func TestMeasurementTiming(t *testing.T) {
	for _, tc := range []struct {
		cmd uint16
		d   time.Duration
	}{
		{sht3x.CmdMeasureHigh, sht3x.MeasureHighTime},
		{sht3x.CmdMeasureMedium, sht3x.MeasureMediumTime},
		{sht3x.CmdMeasureLow, sht3x.MeasureLowTime},
		{sht3x.CmdMeasureHighStretch, 0},
	} {
		c, clk := newChip(sht3x.Fixed(21.5, 40))
		if err := c.Tx(cmd(tc.cmd), nil); err != nil {
			t.Fatal(err)
		}
		r := make([]byte, 6)
		if tc.d > 0 {
			if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
				t.Fatalf("%#04x: read at once: %v, want a NACK", tc.cmd, err)
			}
			clk.Advance(tc.d - time.Microsecond)
			if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
				t.Fatalf("%#04x: read 1 µs early: %v, want a NACK", tc.cmd, err)
			}
			clk.Advance(time.Microsecond)
		}
		if err := c.Tx(nil, r); err != nil {
			t.Fatalf("%#04x: read when ready: %v", tc.cmd, err)
		}
		w := sensiriontest.Words(t, r)
		if w[0] != sht3x.RawTemperature(21.5) || w[1] != sht3x.RawHumidity(40) {
			t.Errorf("%#04x: words %#x", tc.cmd, w)
		}
		if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
			t.Errorf("%#04x: second read: %v, want a NACK (data is read once)", tc.cmd, err)
		}
	}
}

func TestRawConversions(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		t, h uint16
	}{
		{-45, 0, 0},
		{0, 16852, 0},
		{100, 0xFFFF * 145 / 175, 0xFFFF},
		{130, 0xFFFF, 0xFFFF},
		{-100, 0, 0},
		{math.NaN(), 0, 0},
	} {
		if got := sht3x.RawTemperature(tc.in); got != tc.t {
			t.Errorf("RawTemperature(%v) = %d, want %d", tc.in, got, tc.t)
		}
		if got := sht3x.RawHumidity(tc.in); got != tc.h {
			t.Errorf("RawHumidity(%v) = %d, want %d", tc.in, got, tc.h)
		}
	}
}

func TestStatusAndCommands(t *testing.T) {
	c, clk := newChip(nil)
	status := func() uint16 {
		t.Helper()
		if err := c.Tx(cmd(sht3x.CmdStatus), nil); err != nil {
			t.Fatal(err)
		}
		r := make([]byte, 3)
		if err := c.Tx(nil, r); err != nil {
			t.Fatal(err)
		}
		return sensiriontest.Words(t, r)[0]
	}
	if got := status(); got != 0x8010 {
		t.Errorf("status after power-on %#04x, want 0x8010", got)
	}
	c.Tx(cmd(sht3x.CmdClearStatus), nil)
	c.Tx(cmd(sht3x.CmdHeaterOn), nil)
	if got := status(); got != sht3x.StatusHeater {
		t.Errorf("status after clear and heater on %#04x, want %#04x", got, sht3x.StatusHeater)
	}
	if err := c.Tx(cmd(0x2032), nil); !i2csimtest.IsNack(err) { // periodic mode: not emulated
		t.Errorf("periodic command: %v, want a NACK", err)
	}
	if err := c.Tx([]byte{0x61, 0x1D, 0xCD, 0x33, 0x00}, nil); !i2csimtest.IsNack(err) {
		t.Errorf("alert-limit write: %v, want a NACK", err)
	}
	if err := c.Tx([]byte{0x89}, nil); err != nil {
		t.Errorf("one-byte write: %v, want it acknowledged", err)
	}
	if err := c.Tx(nil, make([]byte, 6)); !i2csimtest.IsNack(err) {
		t.Errorf("read after a one-byte write: %v, want a NACK", err)
	}
	if got := status(); got&sht3x.StatusCommandError == 0 {
		t.Errorf("status %#04x after a refused command: no command-error bit", got)
	}
	c.Tx(cmd(sht3x.CmdSoftReset), nil)
	if got := status(); got != 0x8010 {
		t.Errorf("status after soft reset %#04x, want 0x8010 (heater off)", got)
	}
	if err := c.Tx(nil, make([]byte, 6)); !i2csimtest.IsNack(err) {
		t.Errorf("read with no command: %v, want a NACK", err)
	}

	c.Tx(cmd(sht3x.CmdSerial), nil)
	r := make([]byte, 6)
	if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
		t.Errorf("serial read at once: %v, want a NACK until tIDLE", err)
	}
	clk.Advance(sht3x.SerialTime)
	if err := c.Tx(nil, r); err != nil {
		t.Fatal(err)
	}
	if w := sensiriontest.Words(t, r); uint32(w[0])<<16|uint32(w[1]) != sht3x.DefaultSerial {
		t.Errorf("serial %#x", w)
	}
	if n := c.Commands(sht3x.CmdSerial); n != 1 {
		t.Errorf("Commands(serial) = %d", n)
	}
}

func TestFaults(t *testing.T) {
	n := 0.0
	c, clk := newChip(func(time.Time) (float64, float64) { n++; return 20 + n, 50 })
	take := func() ([]byte, []uint16) {
		t.Helper()
		r := sensiriontest.Measure(t, c, clk, cmd(sht3x.CmdMeasureHigh), sht3x.MeasureHighTime)
		return r, []uint16{uint16(r[0])<<8 | uint16(r[1]), uint16(r[3])<<8 | uint16(r[4])}
	}
	c.SetFault(sht3x.CRC)
	r, _ := take()
	if sensiriontest.GoodCRC(r[0:3]) || sensiriontest.GoodCRC(r[3:6]) {
		t.Errorf("CRC fault: % x has good CRCs", r)
	}
	c.SetFault(sht3x.Stuck)
	_, w1 := take()
	_, w2 := take()
	if w1[0] != w2[0] || w1[1] != w2[1] {
		t.Errorf("Stuck fault: words changed %#x -> %#x", w1, w2)
	}
	c.SetFault(sht3x.OutOfRange)
	_, w := take()
	if w[0] != 0xFFFF {
		t.Errorf("OutOfRange fault: temperature word %#x", w[0])
	}
	c.SetFault(sht3x.OK)
	r, w = take()
	sensiriontest.Words(t, r)
	if w[0] == w1[0] || w[0] == 0xFFFF {
		t.Errorf("after clearing: temperature word %#x", w[0])
	}
	if sht3x.Stuck.String() != "stuck" {
		t.Error(sht3x.Stuck)
	}
}

// TestClimate: a chip on a Climate reports the climate's conditions at the
// command's time.
func TestClimate(t *testing.T) {
	clk := &sensorstest.Clock{Start: time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)}
	ref := sim.NewClimate(sim.ClimateOptions{Seed: 7})
	c := sht3x.NewClimate(sim.NewClimate(sim.ClimateOptions{Seed: 7}), clk.Now)
	for range 5 {
		want := ref.At(clk.Now())
		r := sensiriontest.Measure(t, c, clk, cmd(sht3x.CmdMeasureHigh), sht3x.MeasureHighTime)
		w := sensiriontest.Words(t, r)
		if w[0] != sht3x.RawTemperature(want.Temperature) || w[1] != sht3x.RawHumidity(want.Humidity) {
			t.Errorf("words %#x, want those of %+v", w, want)
		}
		clk.Advance(time.Second)
	}
}

// TestConcurrent: faults and inputs change while a reader reads.
func TestConcurrent(t *testing.T) {
	c := sht3x.New(sht3x.Options{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			c.Tx(cmd(sht3x.CmdMeasureHighStretch), nil)
			c.Tx(nil, make([]byte, 6))
		}
	})
	for i := range 200 {
		c.SetFault(sht3x.Fault(i % 4))
		c.SetInput(sht3x.Fixed(float64(i), 50))
	}
	wg.Wait()
	if c.Commands(sht3x.CmdMeasureHighStretch) != 200 {
		t.Errorf("%d measurements", c.Commands(sht3x.CmdMeasureHighStretch))
	}
}
