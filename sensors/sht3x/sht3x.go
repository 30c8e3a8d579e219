package sht3x

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
	MinTemperature = -40.0 // °C
	MaxTemperature = 125.0 // °C
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

// Sensor reads temperature (Cel) and relative humidity (%RH) from an
// SHT3x (SHT30, SHT31, SHT35) in single-shot mode. It borrows its bus and
// never closes it. It is safe for concurrent use; reads are serialised.
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

// New returns a sensor for the SHT3x at opt.Addr on b. It checks that the
// chip is there: it soft-resets it and reads its status register, CRC
// checked; an error wraps sensors.ErrNoDevice when nothing answers,
// sensors.ErrBus or sensors.ErrCRC otherwise. New does not keep b beyond
// the Sensor's use of it and never closes it.
func New(b i2c.Bus, opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "sht3x"
	}
	if opt.Addr == 0 {
		opt.Addr = DefaultAddr
	}
	if opt.Addr != 0x44 && opt.Addr != 0x45 {
		return nil, fmt.Errorf("sht3x: address %#x: the chip answers only at 0x44 or 0x45", opt.Addr)
	}
	s := &Sensor{
		name:  opt.Name,
		dev:   i2c.Dev{Bus: b, Addr: opt.Addr},
		wait:  sleep,
		stuck: sensors.NewStuckDetector(opt.StuckAfter),
	}
	ctx := context.Background()
	if err := s.reset(ctx); err != nil {
		return nil, fmt.Errorf("sht3x %s at %#x: %w", b, opt.Addr, err)
	}
	if _, err := readStatus(s.dev); err != nil {
		return nil, fmt.Errorf("sht3x %s at %#x: %w", b, opt.Addr, err)
	}
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Read takes one high-repeatability measurement: it sends the command,
// waits MeasurementTime (or until ctx ends) and reads both words, checking
// their CRCs. It returns two samples, temperature (Cel) then humidity
// (%RH), at the chip's resolution (0.01). Errors wrap a sensors kind:
// ErrNoDevice or ErrBus (the transfer), ErrCRC, ErrOutOfRange (beyond
// -40..125 °C), ErrStuck, or ctx's error. After a failed read the next one
// starts with a soft reset, so a chip that was unplugged, browned out or
// wedged is picked up again.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("sht3x: read after Close")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sht3x: %w", err)
	}
	out, err := s.read(ctx)
	s.failed = err != nil
	if err != nil {
		return nil, fmt.Errorf("sht3x %s: %w", s.name, err)
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
	var buf [6]byte
	if err := s.dev.Tx(nil, buf[:]); err != nil {
		return nil, fmt.Errorf("read measurement: %w", sensors.I2CError(err))
	}
	rawT, err := word(buf[0:3])
	if err != nil {
		return nil, fmt.Errorf("temperature: %w", err)
	}
	rawH, err := word(buf[3:6])
	if err != nil {
		return nil, fmt.Errorf("humidity: %w", err)
	}
	t, h := round2(Temperature(rawT)), round2(Humidity(rawH))
	if t < MinTemperature || t > MaxTemperature {
		return nil, fmt.Errorf("temperature %.2f °C (raw %#04x): %w", t, rawT, sensors.ErrOutOfRange)
	}
	// Humidity decodes to 0..100 whatever the word; nothing to check.
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

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

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
	err := command(d, cmdSerial)
	switch sensors.ErrorKind(err) {
	case "":
		acked = true
		time.Sleep(idleTime)
		var buf [6]byte
		err = sensors.I2CError(d.Tx(nil, buf[:]))
		if err == nil {
			_, err1 := word(buf[0:3])
			_, err2 := word(buf[3:6])
			if err1 == nil && err2 == nil {
				return "SHT3x", nil
			}
		} else if sensors.ErrorKind(err) == "bus" {
			return fail(fmt.Errorf("serial number: %w", err))
		}
		time.Sleep(idleTime)
	case "bus":
		return fail(fmt.Errorf("serial number: %w", err))
	}
	_, err = readStatus(d)
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
func (s *Sensor) Serial(ctx context.Context) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := command(s.dev, cmdSerial); err != nil {
		return 0, fmt.Errorf("sht3x: serial number: %w", err)
	}
	if err := s.wait(ctx, idleTime); err != nil {
		return 0, fmt.Errorf("sht3x: serial number: %w", err)
	}
	var buf [6]byte
	if err := s.dev.Tx(nil, buf[:]); err != nil {
		return 0, fmt.Errorf("sht3x: serial number: %w", sensors.I2CError(err))
	}
	hi, err := word(buf[0:3])
	if err != nil {
		return 0, fmt.Errorf("sht3x: serial number: %w", err)
	}
	lo, err := word(buf[3:6])
	if err != nil {
		return 0, fmt.Errorf("sht3x: serial number: %w", err)
	}
	return uint32(hi)<<16 | uint32(lo), nil
}

// Status reads the chip's 16-bit status register (command 0xF32D; bit 15
// alert pending, 13 heater on, 4 reset detected, 1 last command refused, 0
// last write's checksum failed).
func (s *Sensor) Status() (uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := readStatus(s.dev)
	if err != nil {
		return 0, fmt.Errorf("sht3x: %w", err)
	}
	return st, nil
}

// readStatus sends the status command and reads the word back.
func readStatus(d i2c.Dev) (uint16, error) {
	if err := command(d, cmdStatus); err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	var buf [3]byte
	if err := d.Tx(nil, buf[:]); err != nil {
		return 0, fmt.Errorf("status: %w", sensors.I2CError(err))
	}
	st, err := word(buf[:])
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

// command writes a 16-bit command, most significant byte first.
func command(d i2c.Dev, c uint16) error {
	var w [2]byte
	binary.BigEndian.PutUint16(w[:], c)
	return sensors.I2CError(d.Tx(w[:], nil))
}

// word checks b (a 16-bit word, most significant byte first, and its CRC)
// and returns the word.
func word(b []byte) (uint16, error) {
	if got, want := b[2], CRC8(b[:2]); got != want {
		return 0, fmt.Errorf("%w: word %#02x%02x has CRC %#02x, want %#02x", sensors.ErrCRC, b[0], b[1], got, want)
	}
	return binary.BigEndian.Uint16(b), nil
}

// CRC8 is the checksum the SHT3x (and SHT4x) append to every 16-bit word:
// CRC-8 with polynomial 0x31 (x⁸+x⁵+x⁴+1), initial value 0xFF, no
// reflection, no final XOR (datasheet 4.12). CRC8([]byte{0xBE, 0xEF}) is
// 0x92.
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
