package sht4x

import (
	"fmt"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/chip/internal/sensirion"
)

// Input gives the physical conditions the chip measures at t: air
// temperature in °C and relative humidity in %RH.
type Input = sensirion.Input

// Fixed returns an Input that is always temperature °C and humidity %RH.
func Fixed(temperature, humidity float64) Input { return sensirion.Fixed(temperature, humidity) }

// DefaultSerial is the serial number of a chip whose Options give none.
const DefaultSerial uint32 = 0x0F3A5C21

// Options configure a Chip. The zero value is a chip at 25 °C and 50 %RH
// on the real clock.
type Options struct {
	// Input is what the chip measures. Default Fixed(25, 50).
	Input Input
	// Now is the chip's clock: measurements are not ready, and a soft
	// reset not over, until their datasheet time has passed on it.
	// Default time.Now.
	Now func() time.Time
	// Serial is the 32-bit serial number the chip reports. Default
	// DefaultSerial.
	Serial uint32
}

// Fault is a failure of the chip itself (the bus's own faults, no
// acknowledge and bus error, are i2csim.Fault). Its String is "ok",
// "crc", "stuck" or "out-of-range".
type Fault = sensirion.Fault

// The chip's faults.
const (
	// OK: the chip works.
	OK = sensirion.OK
	// CRC: every word the chip sends carries a wrong CRC byte, as when
	// the line is noisy or the chip's output latch is upset.
	CRC = sensirion.CRC
	// Stuck: every measurement returns the words of the first measurement
	// taken under the fault, until the fault is changed.
	Stuck = sensirion.Stuck
	// OutOfRange: measurements return the temperature word 0xFFFF
	// (130 °C, beyond the chip's 125 °C), as a damaged sensing element
	// does.
	OutOfRange = sensirion.OutOfRange
)

// Commands the chip understands (datasheet section 4.5): one byte each.
const (
	CmdMeasureHigh   = 0xFD // high precision (repeatability), heater off
	CmdMeasureMedium = 0xF6
	CmdMeasureLow    = 0xE0
	// Heater commands: the heater on at a power for 1 s or 0.1 s, then a
	// high-precision measurement.
	CmdHeater200mW1s    = 0x39
	CmdHeater200mW100ms = 0x32
	CmdHeater110mW1s    = 0x2F
	CmdHeater110mW100ms = 0x24
	CmdHeater20mW1s     = 0x1E
	CmdHeater20mW100ms  = 0x15
	CmdSerial           = 0x89
	CmdSoftReset        = 0x94
)

// Durations: the datasheet's maxima (tables 4 and 5). A read before a
// measurement's time has passed is not acknowledged; nothing is
// acknowledged during a soft reset.
const (
	MeasureHighTime   = 8300 * time.Microsecond
	MeasureMediumTime = 4500 * time.Microsecond
	MeasureLowTime    = 1600 * time.Microsecond
	// HeaterLongTime and HeaterShortTime are the longest heater pulses of
	// the 1 s and 0.1 s heater commands, the measurement at their end
	// included.
	HeaterLongTime  = 1100 * time.Millisecond
	HeaterShortTime = 110 * time.Millisecond
	// ResetTime is the longest a soft reset takes.
	ResetTime = time.Millisecond
)

// measureTime is how long cmd's measurement takes; ok is false for a
// command that measures nothing.
func measureTime(cmd byte) (d time.Duration, ok bool) {
	switch cmd {
	case CmdMeasureHigh:
		return MeasureHighTime, true
	case CmdMeasureMedium:
		return MeasureMediumTime, true
	case CmdMeasureLow:
		return MeasureLowTime, true
	case CmdHeater200mW1s, CmdHeater110mW1s, CmdHeater20mW1s:
		return HeaterLongTime, true
	case CmdHeater200mW100ms, CmdHeater110mW100ms, CmdHeater20mW100ms:
		return HeaterShortTime, true
	}
	return 0, false
}

// Chip emulates a Sensirion SHT4x at the level of its one-byte I²C
// commands: measurements in three precisions and with the heater (no data
// until the measurement time has passed: the read header is not
// acknowledged), the serial number and soft reset (nothing acknowledged
// until it is over), every word followed by its CRC-8. Unknown commands
// and writes longer than one byte are not acknowledged. It implements
// i2csim.Chip and is safe for concurrent use.
type Chip struct {
	opt Options

	mu       sync.Mutex
	in       Input
	out      sensirion.Output // what the next read returns
	resetEnd time.Time        // nothing is acknowledged before
	commands map[byte]int
}

// New returns a chip with the options applied, as after power-on.
func New(opt Options) *Chip {
	if opt.Input == nil {
		opt.Input = Fixed(25, 50)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Serial == 0 {
		opt.Serial = DefaultSerial
	}
	return &Chip{opt: opt, in: opt.Input, out: sensirion.Output{Model: "SHT4x"}, commands: map[byte]int{}}
}

// NewClimate returns a chip that measures c at the time now returns (nil:
// time.Now).
func NewClimate(c *sim.Climate, now func() time.Time) *Chip {
	return New(Options{Now: now, Input: func(t time.Time) (float64, float64) {
		k := c.At(t)
		return k.Temperature, k.Humidity
	}})
}

// SetInput replaces what the chip measures, from the next measurement on.
func (c *Chip) SetInput(in Input) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = in
}

// SetFault makes the chip fail with f from the next command on, or work
// again with OK. Setting the fault it already has changes nothing (a Stuck
// chip keeps repeating the same words).
func (c *Chip) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.SetFault(f)
}

// Commands returns how many times the chip has accepted command cmd.
func (c *Chip) Commands(cmd byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands[cmd]
}

// Tx implements i2csim.Chip: w, if any, is one one-byte command; r, if
// any, reads what the last command produced.
func (c *Chip) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Now()
	if now.Before(c.resetEnd) {
		return c.nack(fmt.Sprintf("soft reset for another %s", c.resetEnd.Sub(now)))
	}
	if len(w) > 0 {
		if err := c.command(w, now); err != nil {
			return err
		}
	}
	if len(r) == 0 {
		return nil
	}
	return c.out.Read(now, r)
}

// command runs one command.
func (c *Chip) command(w []byte, now time.Time) error {
	if len(w) > 1 {
		// The SHT4x takes no data after its command byte: it does not
		// acknowledge the second byte.
		return c.nack(fmt.Sprintf("%d-byte write: SHT4x commands are one byte", len(w)))
	}
	cmd := w[0]
	if d, ok := measureTime(cmd); ok {
		c.measure(now, d)
	} else {
		switch cmd {
		case CmdSerial:
			c.out.Send(now, uint16(c.opt.Serial>>16), uint16(c.opt.Serial))
		case CmdSoftReset:
			c.out.Clear()
			c.resetEnd = now.Add(ResetTime)
		default:
			return c.nack(fmt.Sprintf("command %#02x not an SHT4x command", cmd))
		}
	}
	c.commands[cmd]++
	return nil
}

// measure starts a measurement that is ready after d.
func (c *Chip) measure(now time.Time, d time.Duration) {
	t, h := c.in(now)
	c.out.Measure(now.Add(d), RawTemperature(t), RawHumidity(h))
}

// RawTemperature is the word the chip sends for t °C (datasheet 4.6,
// inverted, rounded, and clamped to the word's range: -45..130 °C).
func RawTemperature(t float64) uint16 { return sensirion.Word((t + 45) * 65535 / 175) }

// RawHumidity is the word the chip sends for h %RH (datasheet 4.6,
// inverted, rounded, clamped to the word's range: -6..119 %RH).
func RawHumidity(h float64) uint16 { return sensirion.Word((h + 6) * 65535 / 125) }

// nack is a transfer the chip did not acknowledge, for why.
func (c *Chip) nack(why string) error { return c.out.Nack(why) }
