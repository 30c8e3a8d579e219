package sht4x

import (
	"context"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/internal/sensirion"
)

// Addresses are the I²C addresses SHT4x parts are made with (the address
// is fixed by the part number, there is no ADDR pin): 0x44 (…-AD1B, the
// common one), 0x45 (…-BD1B), 0x46 (…-CD1B).
var Addresses = []uint16{0x44, 0x45, 0x46}

// DefaultAddr is the address of the common …-AD1B parts.
const DefaultAddr uint16 = 0x44

// Commands (datasheet section 4.5): one byte each.
const (
	cmdMeasureHigh = 0xFD // high precision (repeatability), heater off
	cmdSerial      = 0x89
	cmdSoftReset   = 0x94
)

// Timings (datasheet tables 4 and 5, maxima).
const (
	// MeasurementTime is the longest a high-precision measurement takes:
	// Read waits this long between the command and the read-out.
	MeasurementTime = 8300 * time.Microsecond
	// resetTime is the longest a soft reset takes.
	resetTime = time.Millisecond
	// serialTime is how long Sensirion's reference driver waits before
	// reading the serial number.
	serialTime = 10 * time.Millisecond
)

// Measurement range the datasheet specifies; a temperature outside is
// ErrOutOfRange. Humidity is cropped to 0..100 %RH as the datasheet says.
const (
	MinTemperature = sensirion.MinTemperature // -40 °C
	MaxTemperature = sensirion.MaxTemperature // 125 °C
)

// Options configure a Sensor. The zero value reads an SHT4x at 0x44 named
// "sht4x".
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "sht4x".
	Name string
	// Addr is the chip's I²C address: 0x44, 0x45 or 0x46 (by part
	// number). Default 0x44.
	Addr uint16
	// StuckAfter is how many identical raw readings in a row count as a
	// stuck chip (see sensors.NewStuckDetector). Default
	// sensors.DefaultStuckAfter; negative: never.
	StuckAfter int
}

// Sensor reads temperature (Cel) and relative humidity (%) from an
// SHT4x (SHT40, SHT41, SHT45). It borrows its bus and never closes it. It
// is safe for concurrent use; reads are serialised.
type Sensor struct {
	c *sensirion.Sensor
}

// model is the SHT4x as the shared Sensirion code drives it.
var model = sensirion.Model{
	Name:        "sht4x",
	CommandLen:  1,
	Measure:     cmdMeasureHigh,
	MeasureTime: MeasurementTime,
	SoftReset:   cmdSoftReset,
	ResetTime:   resetTime,
	Probe:       serial,
	Temperature: Temperature,
	Humidity:    Humidity,
}

// serial is the serial-number query.
var serial = sensirion.Query{What: "serial number", Cmd: cmdSerial, Wait: serialTime, Words: 2}

// New returns a sensor for the SHT4x at opt.Addr on b. It checks that the
// chip is there: it soft-resets it and reads its serial number, CRC
// checked; an error wraps sensors.ErrNoDevice when nothing answers,
// sensors.ErrBus or sensors.ErrCRC otherwise. New takes about 11 ms. It
// never closes b.
func New(b i2c.Bus, opt Options) (*Sensor, error) { return open(b, opt, sensors.Sleep) }

// open is New with wait as the way to wait for the chip.
func open(b i2c.Bus, opt Options, wait func(context.Context, time.Duration) error) (*Sensor, error) {
	if opt.Addr == 0 {
		opt.Addr = DefaultAddr
	}
	if opt.Addr < 0x44 || opt.Addr > 0x46 {
		return nil, fmt.Errorf("sht4x: address %#x: SHT4x parts answer only at 0x44, 0x45 or 0x46", opt.Addr)
	}
	c, err := sensirion.New(&model, i2c.Dev{Bus: b, Addr: opt.Addr}, opt.Name, opt.StuckAfter, wait)
	if err != nil {
		return nil, err
	}
	return &Sensor{c: c}, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.c.Name() }

// Read takes one high-precision measurement (command 0xFD, heater off):
// it sends the command, waits MeasurementTime (or until ctx ends) and reads
// both words, checking their CRCs. It returns two samples, temperature
// (Cel) then humidity (%), rounded to 0.01. Errors wrap a sensors kind:
// ErrNoDevice or ErrBus (the transfer), ErrCRC, ErrOutOfRange (beyond
// -40..125 °C), ErrStuck, or ctx's error. After a failed read the next one
// starts with a soft reset.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) { return s.c.Read(ctx) }

// Serial reads the chip's 32-bit serial number (command 0x89), waiting
// 10 ms for it or until ctx ends.
func (s *Sensor) Serial(ctx context.Context) (uint32, error) { return s.c.Ask(ctx, serial) }

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error { return s.c.Close() }

// Temperature converts a raw temperature word to °C (datasheet 4.6).
func Temperature(raw uint16) float64 { return -45 + 175*float64(raw)/65535 }

// Humidity converts a raw humidity word to %RH (datasheet 4.6), cropped
// to 0..100 as the datasheet prescribes (the formula spans -6..119).
func Humidity(raw uint16) float64 {
	return math.Max(0, math.Min(100, -6+125*float64(raw)/65535))
}

// Identify reports whether the chip at addr on b is an SHT4x: it reads
// the serial number (command 0x89) and checks both words' CRCs. It returns
// "SHT4x"; "" when something acknowledged the command but did not answer
// as an SHT4x does (an SHT3x at 0x44/0x45 acknowledges the byte, then has
// no data to send); or an error wrapping sensors.ErrNoDevice (nothing
// acknowledged the command) or sensors.ErrBus. It takes about 10 ms.
func Identify(b i2c.Bus, addr uint16) (string, error) {
	d := i2c.Dev{Bus: b, Addr: addr}
	if err := model.Command(d, cmdSerial); err != nil {
		return "", fmt.Errorf("sht4x: identify %s at %#x: %w", b, addr, err)
	}
	time.Sleep(serialTime)
	_, err := sensirion.ReadWords(d, 2)
	switch sensors.ErrorKind(err) {
	case "":
		return "SHT4x", nil
	case "bus":
		return "", fmt.Errorf("sht4x: identify %s at %#x: %w", b, addr, err)
	}
	return "", nil
}

// CRC8 is the checksum the SHT4x appends to every 16-bit word: CRC-8 with
// polynomial 0x31, initial value 0xFF, no reflection, no final XOR (the
// same as the SHT3x's). CRC8([]byte{0xBE, 0xEF}) is 0x92.
func CRC8(data []byte) byte { return sensirion.CRC8(data) }
