package sht3x

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/internal/sensirion"
)

// Addresses are the chip's two I²C addresses: 0x44 with ADDR low (the
// default of most breakout boards), 0x45 with ADDR high.
var Addresses = []uint16{0x44, 0x45}

// DefaultAddr is the address with the ADDR pin low.
const DefaultAddr uint16 = 0x44

// Commands (datasheet section 4; serial number: application note
// "SHT3x Electronic Identification Code").
const (
	cmdMeasureHigh = 0x2400 // single shot, high repeatability, no clock stretching
	cmdSoftReset   = 0x30A2
	cmdStatus      = 0xF32D
	cmdSerial      = 0x3682 // no clock stretching (0x3780 stretches)
)

// Timings (datasheet table 4, maxima over the whole 2.15-5.5 V supply range).
const (
	// MeasurementTime is the longest a high-repeatability measurement takes
	// (15 ms at 2.4-5.5 V, 15.5 ms below): Read waits this long between the
	// command and the read-out.
	MeasurementTime = 15500 * time.Microsecond
	// resetTime is the longest a soft reset takes.
	resetTime = 1500 * time.Microsecond
	// idleTime is the least time between a command and the next transfer.
	idleTime = time.Millisecond
)

// Measurement range the datasheet specifies; a value outside is
// ErrOutOfRange.
const (
	MinTemperature = sensirion.MinTemperature // -40 °C
	MaxTemperature = sensirion.MaxTemperature // 125 °C
)

// Options configure a Sensor. The zero value reads an SHT3x at 0x44 named
// "sht3x".
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "sht3x".
	Name string
	// Addr is the chip's I²C address: 0x44 (ADDR low) or 0x45 (ADDR high).
	// Default 0x44.
	Addr uint16
	// StuckAfter is how many identical raw readings in a row count as a
	// stuck chip (see sensors.NewStuckDetector). Default
	// sensors.DefaultStuckAfter; negative: never.
	StuckAfter int
}

// Sensor reads temperature (Cel) and relative humidity (%) from an
// SHT3x (SHT30, SHT31, SHT35) in single-shot mode. It borrows its bus and
// never closes it. It is safe for concurrent use; reads are serialised.
type Sensor struct {
	c *sensirion.Sensor
}

// model is the SHT3x as the shared Sensirion code drives it.
var model = sensirion.Model{
	Name:        "sht3x",
	CommandLen:  2,
	Measure:     cmdMeasureHigh,
	MeasureTime: MeasurementTime,
	SoftReset:   cmdSoftReset,
	ResetTime:   resetTime,
	Probe:       status,
	Temperature: Temperature,
	Humidity:    Humidity,
}

// The chip's queries: the status register and the serial number.
var (
	status = sensirion.Query{What: "status", Cmd: cmdStatus, Words: 1}
	serial = sensirion.Query{What: "serial number", Cmd: cmdSerial, Wait: idleTime, Words: 2}
)

// New returns a sensor for the SHT3x at opt.Addr on b. It checks that the
// chip is there: it soft-resets it and reads its status register, CRC
// checked; an error wraps sensors.ErrNoDevice when nothing answers,
// sensors.ErrBus or sensors.ErrCRC otherwise. New does not keep b beyond
// the Sensor's use of it and never closes it.
func New(b i2c.Bus, opt Options) (*Sensor, error) { return open(b, opt, sensors.Sleep) }

// open is New with wait as the way to wait for the chip.
func open(b i2c.Bus, opt Options, wait func(context.Context, time.Duration) error) (*Sensor, error) {
	if opt.Addr == 0 {
		opt.Addr = DefaultAddr
	}
	if opt.Addr != 0x44 && opt.Addr != 0x45 {
		return nil, fmt.Errorf("sht3x: address %#x: the chip answers only at 0x44 or 0x45", opt.Addr)
	}
	c, err := sensirion.New(&model, i2c.Dev{Bus: b, Addr: opt.Addr}, opt.Name, opt.StuckAfter, wait)
	if err != nil {
		return nil, err
	}
	return &Sensor{c: c}, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.c.Name() }

// Read takes one high-repeatability measurement: it sends the command,
// waits MeasurementTime (or until ctx ends) and reads both words, checking
// their CRCs. It returns two samples, temperature (Cel) then humidity
// (%), at the chip's resolution (0.01). Errors wrap a sensors kind:
// ErrNoDevice or ErrBus (the transfer), ErrCRC, ErrOutOfRange (beyond
// -40..125 °C), ErrStuck, or ctx's error. After a failed read the next one
// starts with a soft reset, so a chip that was unplugged, browned out or
// wedged is picked up again.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) { return s.c.Read(ctx) }

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error { return s.c.Close() }

// Temperature converts a raw temperature word to °C (datasheet 4.13).
func Temperature(raw uint16) float64 { return -45 + 175*float64(raw)/65535 }

// Humidity converts a raw humidity word to %RH (datasheet 4.13).
func Humidity(raw uint16) float64 { return 100 * float64(raw) / 65535 }

// Identify reports whether the chip at addr on b is an SHT3x: it reads
// the 32-bit serial number (command 0x3682) and checks both words' CRCs;
// a chip that refuses that command (datasheet revisions before the
// serial-number note) is recognised by its status register, CRC checked,
// instead. It returns "SHT3x"; or "" when something acknowledged a
// command but did not answer as an SHT3x does; or an error wrapping
// sensors.ErrNoDevice (nothing acknowledged either command) or
// sensors.ErrBus. It takes about 2 ms and leaves an SHT3x idle.
//
// An SHT3x never acknowledges a read with no command before it, so probe
// its addresses with Identify (a write), not with a bare read.
func Identify(b i2c.Bus, addr uint16) (string, error) {
	d := i2c.Dev{Bus: b, Addr: addr}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("sht3x: identify %s at %#x: %w", b, addr, err)
	}
	acked := false // something acknowledged a command
	err := model.Command(d, cmdSerial)
	switch sensors.ErrorKind(err) {
	case "":
		acked = true
		time.Sleep(idleTime)
		_, err = sensirion.ReadWords(d, 2)
		switch sensors.ErrorKind(err) {
		case "":
			return "SHT3x", nil
		case "bus":
			return fail(fmt.Errorf("serial number: %w", err))
		}
		time.Sleep(idleTime)
	case "bus":
		return fail(fmt.Errorf("serial number: %w", err))
	}
	_, err = model.Ask(context.Background(), d, status, sensors.Sleep)
	switch sensors.ErrorKind(err) {
	case "":
		return "SHT3x", nil
	case "bus":
		return fail(err)
	case "no_device":
		if !acked {
			return fail(err)
		}
	}
	return "", nil
}

// Serial reads the chip's 32-bit serial number (command 0x3682), waiting
// the 1 ms the chip needs before the read-out or until ctx ends.
func (s *Sensor) Serial(ctx context.Context) (uint32, error) { return s.c.Ask(ctx, serial) }

// Status reads the chip's 16-bit status register (command 0xF32D; bit 15
// alert pending, 13 heater on, 4 reset detected, 1 last command refused, 0
// last write's checksum failed).
func (s *Sensor) Status() (uint16, error) {
	st, err := s.c.Ask(context.Background(), status)
	return uint16(st), err
}

// CRC8 is the checksum the SHT3x (and SHT4x) append to every 16-bit word:
// CRC-8 with polynomial 0x31 (x⁸+x⁵+x⁴+1), initial value 0xFF, no
// reflection, no final XOR (datasheet 4.12). CRC8([]byte{0xBE, 0xEF}) is
// 0x92.
func CRC8(data []byte) byte { return sensirion.CRC8(data) }
