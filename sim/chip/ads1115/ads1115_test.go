package ads1115_test

import (
	"math"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/chip/ads1115"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

var _ i2csim.Chip = (*ads1115.Chip)(nil)

func newChip(opt ads1115.Options) (*ads1115.Chip, *sensorstest.Clock) {
	clk := &sensorstest.Clock{}
	opt.Now = clk.Now
	return ads1115.New(opt), clk
}

func read(t *testing.T, c *ads1115.Chip, reg byte) uint16 {
	t.Helper()
	r := make([]byte, 2)
	if err := c.Tx([]byte{reg}, r); err != nil {
		t.Fatal(err)
	}
	return uint16(r[0])<<8 | uint16(r[1])
}

func write(t *testing.T, c *ads1115.Chip, reg byte, v uint16) {
	t.Helper()
	if err := c.Tx([]byte{reg, byte(v >> 8), byte(v)}, nil); err != nil {
		t.Fatal(err)
	}
}

// config is a single-shot start with the given mux, PGA and DR fields,
// comparator disabled.
func config(mux, pga, dr uint16) uint16 {
	return 1<<15 | mux<<12 | pga<<9 | 1<<8 | dr<<5 | 3
}

func TestResetValues(t *testing.T) {
	c, _ := newChip(ads1115.Options{})
	for _, tc := range []struct {
		reg  byte
		want uint16
	}{
		{ads1115.RegConversion, 0},
		{ads1115.RegConfig, 0x8583},
		{ads1115.RegLoThresh, 0x8000},
		{ads1115.RegHiThresh, 0x7FFF},
	} {
		if got := read(t, c, tc.reg); got != tc.want {
			t.Errorf("register %d = %#04x, want %#04x", tc.reg, got, tc.want)
		}
	}
	write(t, c, ads1115.RegLoThresh, 0x1234)
	write(t, c, ads1115.RegConversion, 0x5555) // read-only
	if read(t, c, ads1115.RegLoThresh) != 0x1234 || read(t, c, ads1115.RegConversion) != 0 {
		t.Error("threshold not written, or conversion register written")
	}
	// A longer read repeats the register.
	r := make([]byte, 4)
	c.Tx([]byte{ads1115.RegHiThresh}, r)
	if string(r) != "\x7f\xff\x7f\xff" {
		t.Errorf("4-byte read % x", r)
	}
}

// TestSingleShot: the conversion takes 1/DR; until then OS reads 0 and the
// conversion register holds the previous result.
func TestSingleShot(t *testing.T) {
	for _, tc := range []struct {
		dr        uint16
		rate      int
		rateError float64
	}{
		{4, 128, 0}, {7, 860, 0}, {0, 8, 0}, {4, 128, 0.1},
	} {
		c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{ads1115.Volts(1), ads1115.Volts(2)}, RateError: tc.rateError})
		d := time.Duration(float64(time.Second) * (1 + tc.rateError) / float64(tc.rate))
		write(t, c, ads1115.RegConfig, config(4, 1, tc.dr)) // AIN0, ±4.096 V
		if got := read(t, c, ads1115.RegConfig); got&0x8000 != 0 || got != config(4, 1, tc.dr)&^0x8000 {
			t.Errorf("DR %d: config during conversion %#04x", tc.rate, got)
		}
		clk.Advance(d - time.Microsecond)
		if got := read(t, c, ads1115.RegConversion); got != 0 {
			t.Errorf("DR %d: conversion register %#04x 1 µs early, want the previous 0", tc.rate, got)
		}
		clk.Advance(time.Microsecond)
		if got := read(t, c, ads1115.RegConfig); got&0x8000 == 0 {
			t.Errorf("DR %d: OS still 0 after %s", tc.rate, d)
		}
		if got := read(t, c, ads1115.RegConversion); got != 8000 {
			t.Errorf("DR %d: 1 V at ±4.096 V = %d, want 8000", tc.rate, got)
		}
		if c.Conversions() != 1 {
			t.Errorf("%d conversions", c.Conversions())
		}
	}
}

func TestMuxAndGain(t *testing.T) {
	c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{ads1115.Volts(1.5), ads1115.Volts(0.5), ads1115.Volts(3), nil}})
	for _, tc := range []struct {
		mux, pga uint16
		want     int16
	}{
		{0, 2, ads1115.Code(1.0, 2.048)}, // AIN0-AIN1
		{1, 2, ads1115.Code(1.5, 2.048)}, // AIN0-AIN3 (AIN3 = 0 V)
		{2, 1, ads1115.Code(0.5, 4.096)}, // AIN1-AIN3
		{3, 0, ads1115.Code(3, 6.144)},   // AIN2-AIN3
		{5, 5, ads1115.Code(0.5, 0.256)}, // AIN1, ±0.256: saturates
		{6, 1, ads1115.Code(3, 4.096)},   // AIN2
		{7, 3, 0},                        // AIN3
		{4, 7, math.MaxInt16},            // PGA 111 is ±0.256 too
	} {
		write(t, c, ads1115.RegConfig, config(tc.mux, tc.pga, 7))
		clk.Advance(2 * time.Millisecond)
		if got := int16(read(t, c, ads1115.RegConversion)); got != tc.want {
			t.Errorf("mux %d pga %d: %d, want %d", tc.mux, tc.pga, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v, fs float64
		want  int16
	}{
		{4.096, 4.096, 32767}, {-4.096, 4.096, -32768}, {-10, 4.096, -32768}, {0.000125, 4.096, 1}, {math.NaN(), 1, 0},
	} {
		if got := ads1115.Code(tc.v, tc.fs); got != tc.want {
			t.Errorf("Code(%v, %v) = %d, want %d", tc.v, tc.fs, got, tc.want)
		}
	}
}

func TestContinuous(t *testing.T) {
	v := 1.0
	c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{func(time.Time) float64 { return v }}})
	write(t, c, ads1115.RegConfig, config(4, 1, 4)&^(1<<8|1<<15)) // continuous, 128 SPS
	clk.Advance(10 * time.Millisecond)
	if got := read(t, c, ads1115.RegConversion); got != 8000 {
		t.Errorf("continuous: %d, want 8000", got)
	}
	if read(t, c, ads1115.RegConfig)&0x8000 != 0 {
		t.Error("continuous: OS reads 1")
	}
	v = 2
	clk.Advance(10 * time.Millisecond)
	if got := read(t, c, ads1115.RegConversion); got != 16000 {
		t.Errorf("continuous after the input changed: %d, want 16000", got)
	}
}

func TestFaults(t *testing.T) {
	v := 1.0
	c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{func(time.Time) float64 { v += 0.01; return v }}})
	convert := func() int16 {
		write(t, c, ads1115.RegConfig, config(4, 1, 7))
		clk.Advance(2 * time.Millisecond)
		return int16(read(t, c, ads1115.RegConversion))
	}
	c.SetFault(ads1115.Stuck)
	a, b := convert(), convert()
	if a != b {
		t.Errorf("stuck: %d then %d", a, b)
	}
	c.SetFault(ads1115.OutOfRange)
	if got := convert(); got != math.MaxInt16 {
		t.Errorf("out of range: %d", got)
	}
	c.SetFault(ads1115.OK)
	if got := convert(); got == a || got == math.MaxInt16 {
		t.Errorf("after clearing: %d", got)
	}
	if ads1115.OutOfRange.String() != "out-of-range" {
		t.Error(ads1115.OutOfRange)
	}
}

func TestSoilProbe(t *testing.T) {
	soil := sim.NewSoil(sim.SoilOptions{Seed: 5})
	ref := sim.NewSoil(sim.SoilOptions{Seed: 5})
	c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{nil, ads1115.SoilProbe(soil)}})
	write(t, c, ads1115.RegConfig, config(5, 1, 4))
	clk.Advance(time.Second)
	want := ref.At(clk.Now().Add(-time.Second + time.Second/128)).Volts
	if got := int16(read(t, c, ads1115.RegConversion)); got != ads1115.Code(want, 4.096) {
		t.Errorf("soil probe: %d, want %d (%v V)", got, ads1115.Code(want, 4.096), want)
	}
}

// TestRestartDuringConversion: a start written during a conversion is
// ignored; the running conversion ends with the settings it started with.
func TestRestartDuringConversion(t *testing.T) {
	c, clk := newChip(ads1115.Options{Inputs: [4]ads1115.Input{ads1115.Volts(1), ads1115.Volts(2)}})
	write(t, c, ads1115.RegConfig, config(4, 1, 4)) // AIN0
	clk.Advance(time.Millisecond)
	write(t, c, ads1115.RegConfig, config(5, 1, 4)) // AIN1, ignored start
	clk.Advance(7 * time.Millisecond)
	if got := read(t, c, ads1115.RegConversion); got != 8000 {
		t.Errorf("conversion %d, want AIN0's 8000", got)
	}
	if c.Conversions() != 1 {
		t.Errorf("%d conversions, want 1", c.Conversions())
	}
	write(t, c, ads1115.RegConfig, config(5, 1, 4))
	clk.Advance(8 * time.Millisecond)
	if got := read(t, c, ads1115.RegConversion); got != 16000 {
		t.Errorf("next conversion %d, want AIN1's 16000", got)
	}
}
