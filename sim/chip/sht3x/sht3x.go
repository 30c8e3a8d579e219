package sht3x

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
const DefaultSerial uint32 = 0x0B5A1E3D

// Options configure a Chip. The zero value is a chip at 25 °C and 50 %RH
// on the real clock.
type Options struct {
	// Input is what the chip measures. Default Fixed(25, 50).
	Input Input
	// Now is the chip's clock: measurements are not ready until their
	// datasheet time has passed on it. Default time.Now.
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

// Commands the chip understands (datasheet section 4; serial number:
// application note "SHT3x Electronic Identification Code").
const (
	CmdMeasureHigh          = 0x2400 // single shot, no clock stretching
	CmdMeasureMedium        = 0x240B
	CmdMeasureLow           = 0x2416
	CmdMeasureHighStretch   = 0x2C06 // single shot, clock stretching
	CmdMeasureMediumStretch = 0x2C0D
	CmdMeasureLowStretch    = 0x2C10
	CmdSoftReset            = 0x30A2
	CmdBreak                = 0x3093
	CmdStatus               = 0xF32D
	CmdClearStatus          = 0x3041
	CmdHeaterOn             = 0x306D
	CmdHeaterOff            = 0x3066
	CmdSerial               = 0x3682 // no clock stretching
	CmdSerialStretch        = 0x3780
)

// Measurement durations without clock stretching: the datasheet's maxima
// at 2.4-5.5 V (table 4). A read before they have passed is not
// acknowledged.
const (
	MeasureHighTime   = 15 * time.Millisecond
	MeasureMediumTime = 6 * time.Millisecond
	MeasureLowTime    = 4 * time.Millisecond
	// SerialTime is how long after the serial-number command the chip
	// starts acknowledging the read (tIDLE in the application note).
	SerialTime = time.Millisecond
)

// Status register bits.
const (
	StatusAlert        = 1 << 15
	StatusHeater       = 1 << 13
	StatusRHAlert      = 1 << 11
	StatusTAlert       = 1 << 10
	StatusReset        = 1 << 4
	StatusCommandError = 1 << 1
	StatusWriteCRC     = 1 << 0
	// statusPowerOn is the register after power-on or a reset.
	statusPowerOn = StatusAlert | StatusReset
)

// Chip emulates a Sensirion SHT3x at the level of its I²C commands:
// single-shot measurements (no data until the measurement time has
// passed: the read header is not acknowledged), the status register,
// heater and clear-status commands, soft reset and the serial number,
// every word followed by its CRC-8. Periodic and ART modes and alert
// limits are not emulated: their commands are refused (not acknowledged,
// and the status register's command-error bit set). A one-byte write (half
// a command, such as an SHT4x command) is acknowledged and ignored. It implements
// i2csim.Chip and is safe for concurrent use.
type Chip struct {
	opt Options

	mu       sync.Mutex
	in       Input
	status   uint16
	out      sensirion.Output // what the next read returns
	commands map[uint16]int
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
	return &Chip{opt: opt, in: opt.Input, out: sensirion.Output{Model: "SHT3x"}, status: statusPowerOn, commands: map[uint16]int{}}
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
func (c *Chip) Commands(cmd uint16) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commands[cmd]
}

// Tx implements i2csim.Chip: w, if any, is one 16-bit command; r, if any,
// reads what the last command produced.
func (c *Chip) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Now()
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
	switch {
	case len(w) == 1:
		// Half a command: the chip acknowledged the byte, then the stop
		// ended the transfer. Nothing happens.
		c.status |= StatusCommandError
		c.out.Clear()
		return nil
	case len(w) > 2:
		c.status |= StatusCommandError
		return c.nack(fmt.Sprintf("%d-byte write: commands with data (alert limits) are not emulated", len(w)))
	}
	cmd := uint16(w[0])<<8 | uint16(w[1])
	switch cmd {
	case CmdMeasureHigh:
		c.measure(now, MeasureHighTime)
	case CmdMeasureMedium:
		c.measure(now, MeasureMediumTime)
	case CmdMeasureLow:
		c.measure(now, MeasureLowTime)
	case CmdMeasureHighStretch, CmdMeasureMediumStretch, CmdMeasureLowStretch:
		// The chip holds SCL low until done; to the master the data is
		// simply there.
		c.measure(now, 0)
	case CmdSoftReset:
		c.status = statusPowerOn
		c.out.Clear()
	case CmdBreak:
	case CmdStatus:
		c.out.Send(now, c.status)
	case CmdClearStatus:
		c.status &^= StatusAlert | StatusRHAlert | StatusTAlert | StatusReset
	case CmdHeaterOn:
		c.status |= StatusHeater
	case CmdHeaterOff:
		c.status &^= StatusHeater
	case CmdSerial:
		c.out.Send(now.Add(SerialTime), uint16(c.opt.Serial>>16), uint16(c.opt.Serial))
	case CmdSerialStretch:
		c.out.Send(now, uint16(c.opt.Serial>>16), uint16(c.opt.Serial))
	default:
		c.status |= StatusCommandError
		return c.nack(fmt.Sprintf("command %#04x not emulated", cmd))
	}
	c.status &^= StatusCommandError
	c.commands[cmd]++
	return nil
}

// measure starts a measurement that is ready after d.
func (c *Chip) measure(now time.Time, d time.Duration) {
	t, h := c.in(now)
	c.out.Measure(now.Add(d), RawTemperature(t), RawHumidity(h))
}

// RawTemperature is the word the chip sends for t °C (datasheet 4.13,
// inverted, rounded, and clamped to the word's range: -45..130 °C).
func RawTemperature(t float64) uint16 { return sensirion.Word((t + 45) * 65535 / 175) }

// RawHumidity is the word the chip sends for h %RH (datasheet 4.13,
// inverted, rounded, clamped to 0..100 %RH).
func RawHumidity(h float64) uint16 { return sensirion.Word(h * 65535 / 100) }

// nack is a transfer the chip did not acknowledge, for why.
func (c *Chip) nack(why string) error { return c.out.Nack(why) }
