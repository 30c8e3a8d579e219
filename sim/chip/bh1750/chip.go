package bh1750

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

// Opcodes (datasheet, "Instruction Set Architecture").
const (
	OpPowerDown  = 0x00
	OpPowerOn    = 0x01
	OpReset      = 0x07 // clears the data register; ignored while powered down
	OpContHigh   = 0x10 // continuous, 1 lx resolution
	OpContHigh2  = 0x11 // continuous, 0.5 lx
	OpContLow    = 0x13 // continuous, 4 lx
	OpOnceHigh   = 0x20 // one measurement, then power down
	OpOnceHigh2  = 0x21
	OpOnceLow    = 0x23
	OpMTregHigh  = 0x40 // 0x40..0x47: MTreg bits 7..5 from the opcode's bits 2..0
	OpMTregLow   = 0x60 // 0x60..0x7F: MTreg bits 4..0 from the opcode's bits 4..0
	DefaultMTreg = 69   // the measurement-time register at power-on
)

// Fault is a failure of the chip itself. Bus-level failures (no
// acknowledge, a bus error) are the i2csim.Bus's: see i2csim.Bus.SetFault.
type Fault int

const (
	// OK: measurements count the source's light.
	OK Fault = iota
	// Stuck: measurements leave the data register as it was, so the chip
	// keeps serving the same counts.
	Stuck
	// OutOfRange: measurements saturate: the data register reads 0xFFFF,
	// as in more light than the chip can count at its sensitivity.
	OutOfRange
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case Stuck:
		return "stuck"
	case OutOfRange:
		return "out-of-range"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Source gives the illuminance on the chip, in lx, at the moment of a
// measurement. It is called with the chip's lock held: it must not call the
// chip's methods.
type Source func() float64

// Fixed returns a Source that always gives lx.
func Fixed(lx float64) Source { return func() float64 { return lx } }

// FromLight returns a Source that asks light for the illuminance at the time
// now returns (nil: time.Now).
func FromLight(light *sim.Light, now func() time.Time) Source {
	if now == nil {
		now = time.Now
	}
	return func() float64 { return light.At(now()) }
}

// Chip emulates a BH1750 on I²C: each written byte is an opcode; a read
// returns the 16-bit data register, most significant byte first (bytes
// read beyond two are 0xFF, the released bus). It implements i2csim.Chip.
//
// A one-time opcode measures the source once and powers the chip down; a
// continuous opcode measures now and at every later read, until power
// down. Measurements complete instantly (the driver waits the datasheet's
// measurement time anyway). The count is lx × 1.2 × MTreg/69, twice that in
// H-resolution mode 2, truncated to a multiple of 4 in L-resolution mode,
// rounded, and saturating at 65535.
//
// It is safe for concurrent use: faults and light can be changed while a
// driver reads it.
type Chip struct {
	mu       sync.Mutex
	src      Source
	fault    Fault
	powered  bool
	cont     byte // the continuous opcode in effect, 0 if none
	mtreg    byte
	data     uint16
	measured int
}

// New returns a chip, powered down, measuring src (nil: a fixed 300 lx, an
// office desk).
func New(src Source) *Chip {
	if src == nil {
		src = Fixed(300)
	}
	c := &Chip{src: src}
	c.reset()
	return c
}

// NewLight returns a chip measuring light at the time now returns (nil:
// time.Now).
func NewLight(light *sim.Light, now func() time.Time) *Chip {
	return New(FromLight(light, now))
}

// SetLux makes the chip measure lx from now on, a fixed value.
func (c *Chip) SetLux(lx float64) { c.SetSource(Fixed(lx)) }

// SetSource makes the chip measure src from now on.
func (c *Chip) SetSource(src Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = src
}

// SetFault injects f (OK clears it). It applies from the next measurement.
func (c *Chip) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
}

// Fault returns the fault in effect.
func (c *Chip) Fault() Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fault
}

// PowerCycle puts the chip back in its power-on state, as after its supply
// was cut and restored: powered down, MTreg 69, data register 0.
func (c *Chip) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

func (c *Chip) reset() {
	c.powered, c.cont, c.mtreg, c.data = false, 0, DefaultMTreg, 0
}

// Powered reports whether the chip is powered on (waiting for or taking
// measurements).
func (c *Chip) Powered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.powered
}

// MTreg returns the measurement-time register.
func (c *Chip) MTreg() byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mtreg
}

// Counts returns the data register.
func (c *Chip) Counts() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data
}

// Measurements returns how many measurements the chip has taken.
func (c *Chip) Measurements() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.measured
}

// Tx implements i2csim.Chip.
func (c *Chip) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range w {
		c.command(op)
	}
	if len(r) == 0 {
		return nil
	}
	if c.cont != 0 {
		c.measure(c.cont)
	}
	for i := range r {
		switch i {
		case 0:
			r[i] = byte(c.data >> 8)
		case 1:
			r[i] = byte(c.data)
		default:
			r[i] = 0xFF
		}
	}
	return nil
}

func (c *Chip) command(op byte) {
	switch {
	case op == OpPowerDown:
		c.powered, c.cont = false, 0
	case op == OpPowerOn:
		c.powered = true
	case op == OpReset:
		if c.powered {
			c.data = 0
		}
	case op == OpContHigh || op == OpContHigh2 || op == OpContLow:
		c.powered, c.cont = true, op
		c.measure(op)
	case op == OpOnceHigh || op == OpOnceHigh2 || op == OpOnceLow:
		c.measure(op)
		c.powered, c.cont = false, 0
	case op&0xF8 == OpMTregHigh:
		c.mtreg = c.mtreg&0x1F | (op&0x07)<<5
	case op&0xE0 == OpMTregLow:
		c.mtreg = c.mtreg&0xE0 | op&0x1F
	}
	// Other opcodes are not in the instruction set: ignored.
}

// measure takes one measurement in the mode of opcode op.
func (c *Chip) measure(op byte) {
	c.measured++
	switch c.fault {
	case Stuck:
		return
	case OutOfRange:
		c.data = 0xFFFF
		return
	}
	counts := max(c.src(), 0) * 1.2 * float64(c.mtreg) / DefaultMTreg
	switch op {
	case OpContHigh2, OpOnceHigh2:
		counts *= 2
	case OpContLow, OpOnceLow:
		counts = 4 * math.Floor(counts/4)
	}
	c.data = uint16(min(math.Round(counts), 0xFFFF))
}
