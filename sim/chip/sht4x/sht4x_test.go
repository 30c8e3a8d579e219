package sht4x_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/chip/internal/sensirion/sensiriontest"
	"github.com/tributary-iot/tributary/sim/chip/sht4x"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

var _ i2csim.Chip = (*sht4x.Chip)(nil)

func newChip(in sht4x.Input) (*sht4x.Chip, *sensorstest.Clock) {
	clk := &sensorstest.Clock{}
	return sht4x.New(sht4x.Options{Input: in, Now: clk.Now}), clk
}

// TestCRCExample makes the chip send the word 0xBEEF: its CRC must be
// the datasheet's example, 0x92.
func TestCRCExample(t *testing.T) {
	c, clk := newChip(sht4x.Fixed(-45+175*float64(0xBEEF)/65535, -6+125*float64(0xBEEF)/65535))
	r := sensiriontest.Measure(t, c, clk, []byte{sht4x.CmdMeasureLow}, sht4x.MeasureLowTime)
	want := []byte{0xBE, 0xEF, 0x92, 0xBE, 0xEF, 0x92}
	if string(r) != string(want) {
		t.Errorf("sent % x, want % x", r, want)
	}
}

// TestMeasurementTiming: the read header is not acknowledged until the
// measurement time has passed (the SHT4x cannot stretch the clock), then
// the data is there once. The heater commands end in a measurement too.
func TestMeasurementTiming(t *testing.T) {
	for _, tc := range []struct {
		cmd byte
		d   time.Duration
	}{
		{sht4x.CmdMeasureHigh, sht4x.MeasureHighTime},
		{sht4x.CmdMeasureMedium, sht4x.MeasureMediumTime},
		{sht4x.CmdMeasureLow, sht4x.MeasureLowTime},
		{sht4x.CmdHeater200mW1s, sht4x.HeaterLongTime},
		{sht4x.CmdHeater200mW100ms, sht4x.HeaterShortTime},
		{sht4x.CmdHeater110mW1s, sht4x.HeaterLongTime},
		{sht4x.CmdHeater110mW100ms, sht4x.HeaterShortTime},
		{sht4x.CmdHeater20mW1s, sht4x.HeaterLongTime},
		{sht4x.CmdHeater20mW100ms, sht4x.HeaterShortTime},
	} {
		c, clk := newChip(sht4x.Fixed(21.5, 40))
		if err := c.Tx([]byte{tc.cmd}, nil); err != nil {
			t.Fatal(err)
		}
		r := make([]byte, 6)
		if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
			t.Fatalf("%#02x: read at once: %v, want a NACK", tc.cmd, err)
		}
		clk.Advance(tc.d - time.Microsecond)
		if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
			t.Fatalf("%#02x: read 1 µs early: %v, want a NACK", tc.cmd, err)
		}
		clk.Advance(time.Microsecond)
		if err := c.Tx(nil, r); err != nil {
			t.Fatalf("%#02x: read when ready: %v", tc.cmd, err)
		}
		w := sensiriontest.Words(t, r)
		if w[0] != sht4x.RawTemperature(21.5) || w[1] != sht4x.RawHumidity(40) {
			t.Errorf("%#02x: words %#x", tc.cmd, w)
		}
		if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
			t.Errorf("%#02x: second read: %v, want a NACK (data is read once)", tc.cmd, err)
		}
		if n := c.Commands(tc.cmd); n != 1 {
			t.Errorf("Commands(%#02x) = %d, want 1", tc.cmd, n)
		}
	}
}

func TestRawConversions(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		t, h uint16
	}{
		{-45, 0, 0},
		{-6, 14605, 0},      // 39*65535/175 = 14604.9
		{0, 16852, 3146},    // 6*65535/125 = 3145.7
		{100, 54300, 55574}, // 106*65535/125 = 55573.7
		{119, 61416, 0xFFFF},
		{130, 0xFFFF, 0xFFFF},
		{-100, 0, 0},
		{math.NaN(), 0, 0},
	} {
		if got := sht4x.RawTemperature(tc.in); got != tc.t {
			t.Errorf("RawTemperature(%v) = %d, want %d", tc.in, got, tc.t)
		}
		if got := sht4x.RawHumidity(tc.in); got != tc.h {
			t.Errorf("RawHumidity(%v) = %d, want %d", tc.in, got, tc.h)
		}
	}
}

// TestSerialResetAndRefusals: the serial number, a soft reset (nothing
// acknowledged for ResetTime, pending data dropped), and what the chip
// refuses.
func TestSerialResetAndRefusals(t *testing.T) {
	c, clk := newChip(nil)
	if err := c.Tx([]byte{sht4x.CmdSerial}, nil); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 6)
	if err := c.Tx(nil, r); err != nil {
		t.Fatalf("serial read: %v", err)
	}
	if w := sensiriontest.Words(t, r); uint32(w[0])<<16|uint32(w[1]) != sht4x.DefaultSerial {
		t.Errorf("serial %#x, want %#x", w, sht4x.DefaultSerial)
	}
	other := sht4x.New(sht4x.Options{Serial: 0x12345678})
	if err := other.Tx([]byte{sht4x.CmdSerial}, r); err != nil {
		t.Fatal(err)
	}
	if w := sensiriontest.Words(t, r); uint32(w[0])<<16|uint32(w[1]) != 0x12345678 {
		t.Errorf("Options.Serial 0x12345678: serial %#x", w)
	}

	// Soft reset: pending data is dropped and nothing is acknowledged
	// until it is over.
	if err := c.Tx([]byte{sht4x.CmdMeasureHigh}, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(sht4x.MeasureHighTime)
	if err := c.Tx([]byte{sht4x.CmdSoftReset}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Tx([]byte{sht4x.CmdMeasureHigh}, nil); !i2csimtest.IsNack(err) {
		t.Errorf("command during the soft reset: %v, want a NACK", err)
	}
	clk.Advance(sht4x.ResetTime)
	if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
		t.Errorf("read after the reset: %v, want a NACK (the measurement was dropped)", err)
	}
	if n := c.Commands(sht4x.CmdSoftReset); n != 1 {
		t.Errorf("Commands(soft reset) = %d", n)
	}
	if n := c.Commands(sht4x.CmdMeasureHigh); n != 1 {
		t.Errorf("Commands(measure) = %d, want 1 (the one during the reset was refused)", n)
	}

	for _, tc := range []struct {
		name string
		w    []byte
	}{
		{"unknown command", []byte{0x42}},
		{"SHT3x serial-number command", []byte{0x36, 0x82}},
		{"SHT3x status command", []byte{0xF3, 0x2D}},
		{"a command with data", []byte{sht4x.CmdMeasureHigh, 0x00}},
	} {
		if err := c.Tx(tc.w, nil); !i2csimtest.IsNack(err) {
			t.Errorf("%s % x: %v, want a NACK", tc.name, tc.w, err)
		}
	}
	if err := c.Tx(nil, r); !i2csimtest.IsNack(err) {
		t.Errorf("read with no command: %v, want a NACK", err)
	}
}

func TestFaults(t *testing.T) {
	n := 0.0
	c, clk := newChip(func(time.Time) (float64, float64) { n++; return 20 + n, 50 })
	take := func() ([]byte, []uint16) {
		t.Helper()
		r := sensiriontest.Measure(t, c, clk, []byte{sht4x.CmdMeasureHigh}, sht4x.MeasureHighTime)
		return r, []uint16{uint16(r[0])<<8 | uint16(r[1]), uint16(r[3])<<8 | uint16(r[4])}
	}
	c.SetFault(sht4x.CRC)
	r, _ := take()
	if sensiriontest.GoodCRC(r[0:3]) || sensiriontest.GoodCRC(r[3:6]) {
		t.Errorf("CRC fault: % x has good CRCs", r)
	}
	c.Tx([]byte{sht4x.CmdSerial}, r)
	if sensiriontest.GoodCRC(r[0:3]) {
		t.Errorf("CRC fault: serial number % x has good CRCs", r)
	}
	c.SetFault(sht4x.Stuck)
	_, w1 := take()
	c.SetFault(sht4x.Stuck) // the same fault again: still stuck on w1
	_, w2 := take()
	if w1[0] != w2[0] || w1[1] != w2[1] {
		t.Errorf("Stuck fault: words changed %#x -> %#x", w1, w2)
	}
	c.SetFault(sht4x.OutOfRange)
	_, w := take()
	if w[0] != 0xFFFF {
		t.Errorf("OutOfRange fault: temperature word %#x", w[0])
	}
	c.SetFault(sht4x.OK)
	r, w = take()
	sensiriontest.Words(t, r)
	if w[0] == w1[0] || w[0] == 0xFFFF {
		t.Errorf("after clearing: temperature word %#x", w[0])
	}
	for f, s := range map[sht4x.Fault]string{sht4x.OK: "ok", sht4x.CRC: "crc", sht4x.Stuck: "stuck", sht4x.OutOfRange: "out-of-range", 9: "Fault(9)"} {
		if f.String() != s {
			t.Errorf("Fault(%d).String() = %q, want %q", int(f), f.String(), s)
		}
	}
}

// TestClimate: a chip on a Climate reports the climate's conditions at the
// command's time.
func TestClimate(t *testing.T) {
	clk := &sensorstest.Clock{Start: time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)}
	ref := sim.NewClimate(sim.ClimateOptions{Seed: 7})
	c := sht4x.NewClimate(sim.NewClimate(sim.ClimateOptions{Seed: 7}), clk.Now)
	for range 5 {
		want := ref.At(clk.Now())
		r := sensiriontest.Measure(t, c, clk, []byte{sht4x.CmdMeasureHigh}, sht4x.MeasureHighTime)
		w := sensiriontest.Words(t, r)
		if w[0] != sht4x.RawTemperature(want.Temperature) || w[1] != sht4x.RawHumidity(want.Humidity) {
			t.Errorf("words %#x, want those of %+v", w, want)
		}
		clk.Advance(time.Second)
	}
}

// TestConcurrent: faults and inputs change while a reader reads.
func TestConcurrent(t *testing.T) {
	c := sht4x.New(sht4x.Options{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			c.Tx([]byte{sht4x.CmdMeasureLow}, nil)
			c.Tx(nil, make([]byte, 6)) // not ready yet on the real clock: a NACK
			c.Tx([]byte{sht4x.CmdSerial}, make([]byte, 6))
		}
	})
	for i := range 200 {
		c.SetFault(sht4x.Fault(i % 4))
		c.SetInput(sht4x.Fixed(float64(i), 50))
	}
	wg.Wait()
	if m, s := c.Commands(sht4x.CmdMeasureLow), c.Commands(sht4x.CmdSerial); m != 200 || s != 200 {
		t.Errorf("%d measurements and %d serial-number commands, want 200 of each", m, s)
	}
}
