package sht4x

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
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
	MinTemperature = -40.0 // °C
	MaxTemperature = 125.0 // °C
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

// Sensor reads temperature (Cel) and relative humidity (%RH) from an
// SHT4x (SHT40, SHT41, SHT45). It borrows its bus and never closes it. It
// is safe for concurrent use; reads are serialised.
type Sensor struct {
	name string
	dev  i2c.Dev
	// wait blocks for d or until ctx ends; replaced in tests.
	wait func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	stuck  *sensors.StuckDetector
	failed bool // the last read failed: soft-reset before the next
	closed bool
}

// New returns a sensor for the SHT4x at opt.Addr on b. It checks that the
// chip is there: it soft-resets it and reads its serial number, CRC
// checked; an error wraps sensors.ErrNoDevice when nothing answers,
// sensors.ErrBus or sensors.ErrCRC otherwise. New takes about 11 ms. It
// never closes b.
func New(b i2c.Bus, opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "sht4x"
	}
	if opt.Addr == 0 {
		opt.Addr = DefaultAddr
	}
	if opt.Addr < 0x44 || opt.Addr > 0x46 {
		return nil, fmt.Errorf("sht4x: address %#x: SHT4x parts answer only at 0x44, 0x45 or 0x46", opt.Addr)
	}
	s := &Sensor{
		name:  opt.Name,
		dev:   i2c.Dev{Bus: b, Addr: opt.Addr},
		wait:  sleep,
		stuck: sensors.NewStuckDetector(opt.StuckAfter),
	}
	ctx := context.Background()
	if err := s.reset(ctx); err != nil {
		return nil, fmt.Errorf("sht4x %s at %#x: %w", b, opt.Addr, err)
	}
	if _, err := s.serial(ctx); err != nil {
		return nil, fmt.Errorf("sht4x %s at %#x: %w", b, opt.Addr, err)
	}
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Read takes one high-precision measurement (command 0xFD, heater off):
// it sends the command, waits MeasurementTime (or until ctx ends) and reads
// both words, checking their CRCs. It returns two samples, temperature
// (Cel) then humidity (%RH), rounded to 0.01. Errors wrap a sensors kind:
// ErrNoDevice or ErrBus (the transfer), ErrCRC, ErrOutOfRange (beyond
// -40..125 °C), ErrStuck, or ctx's error. After a failed read the next one
// starts with a soft reset.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("sht4x: read after Close")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sht4x: %w", err)
	}
	out, err := s.read(ctx)
	s.failed = err != nil
	if err != nil {
		return nil, fmt.Errorf("sht4x %s: %w", s.name, err)
	}
	return out, nil
}

func (s *Sensor) read(ctx context.Context) ([]sensors.Sample, error) {
	if s.failed {
		if err := s.reset(ctx); err != nil {
			return nil, err
		}
	}
	if err := command(s.dev, cmdMeasureHigh); err != nil {
		return nil, fmt.Errorf("start measurement: %w", err)
	}
	if err := s.wait(ctx, MeasurementTime); err != nil {
		return nil, fmt.Errorf("wait for measurement: %w", err)
	}
	rawT, rawH, err := readWords(s.dev)
	if err != nil {
		return nil, fmt.Errorf("read measurement: %w", err)
	}
	t, h := round2(Temperature(rawT)), round2(Humidity(rawH))
	if t < MinTemperature || t > MaxTemperature {
		return nil, fmt.Errorf("temperature %.2f °C (raw %#04x): %w", t, rawT, sensors.ErrOutOfRange)
	}
	if err := s.stuck.Check(uint64(rawT), uint64(rawH)); err != nil {
		return nil, err
	}
	return []sensors.Sample{
		{Metric: sensors.MetricTemperature, Value: t, Unit: sensors.UnitCelsius},
		{Metric: sensors.MetricHumidity, Value: h, Unit: sensors.UnitRelHumidity},
	}, nil
}

// reset soft-resets the chip and waits for it to be ready.
func (s *Sensor) reset(ctx context.Context) error {
	if err := command(s.dev, cmdSoftReset); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	if err := s.wait(ctx, resetTime); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	return nil
}

// Serial reads the chip's 32-bit serial number (command 0x89), waiting
// 10 ms for it or until ctx ends.
func (s *Sensor) Serial(ctx context.Context) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, err := s.serial(ctx)
	if err != nil {
		return 0, fmt.Errorf("sht4x: %w", err)
	}
	return sn, nil
}

func (s *Sensor) serial(ctx context.Context) (uint32, error) {
	if err := command(s.dev, cmdSerial); err != nil {
		return 0, fmt.Errorf("serial number: %w", err)
	}
	if err := s.wait(ctx, serialTime); err != nil {
		return 0, fmt.Errorf("serial number: %w", err)
	}
	hi, lo, err := readWords(s.dev)
	if err != nil {
		return 0, fmt.Errorf("serial number: %w", err)
	}
	return uint32(hi)<<16 | uint32(lo), nil
}

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

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
	if err := command(d, cmdSerial); err != nil {
		return "", fmt.Errorf("sht4x: identify %s at %#x: %w", b, addr, err)
	}
	time.Sleep(serialTime)
	_, _, err := readWords(d)
	switch sensors.ErrorKind(err) {
	case "":
		return "SHT4x", nil
	case "bus":
		return "", fmt.Errorf("sht4x: identify %s at %#x: %w", b, addr, err)
	}
	return "", nil
}

// command writes a one-byte command.
func command(d i2c.Dev, c byte) error { return sensors.I2CError(d.Tx([]byte{c}, nil)) }

// readWords reads two words, each followed by its CRC, and checks them.
func readWords(d i2c.Dev) (uint16, uint16, error) {
	var b [6]byte
	if err := d.Tx(nil, b[:]); err != nil {
		return 0, 0, sensors.I2CError(err)
	}
	for i := 0; i < 6; i += 3 {
		if got, want := b[i+2], CRC8(b[i:i+2]); got != want {
			return 0, 0, fmt.Errorf("%w: word %#02x%02x has CRC %#02x, want %#02x", sensors.ErrCRC, b[i], b[i+1], got, want)
		}
	}
	return binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[3:5]), nil
}

// CRC8 is the checksum the SHT4x appends to every 16-bit word: CRC-8 with
// polynomial 0x31, initial value 0xFF, no reflection, no final XOR (the
// same as the SHT3x's). CRC8([]byte{0xBE, 0xEF}) is 0x92.
func CRC8(data []byte) byte {
	crc := byte(0xFF)
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// round2 rounds to the chip's resolution, 0.01.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
