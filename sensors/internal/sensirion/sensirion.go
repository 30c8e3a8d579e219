// Package sensirion is what the drivers of Sensirion's humidity sensors
// (sensors/sht3x, sensors/sht4x) share: the CRC-8 on every data word,
// commands and CRC-checked replies, and the single-shot Read with its
// recovery by soft reset. Each driver keeps its chip's commands, timings,
// conversions and identification. The emulators in sim/chip keep a CRC of
// their own, so that they check the drivers instead of sharing a mistake.
package sensirion

import (
	"cmp"
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

// Model is what a driver tells the shared code about its chip.
type Model struct {
	Name        string                   // the driver's name, prefix of its errors and default sensor name: "sht3x"
	CommandLen  int                      // bytes a command takes: 2 (SHT3x) or 1 (SHT4x, the low byte)
	Measure     uint16                   // the single-shot measurement command Read sends
	MeasureTime time.Duration            // how long Read waits for it
	SoftReset   uint16                   // the soft-reset command
	ResetTime   time.Duration            // how long a soft reset takes
	Probe       Query                    // what New asks to know the chip is there
	Temperature func(raw uint16) float64 // °C from the first word of a measurement
	Humidity    func(raw uint16) float64 // %RH from the second word
}

// MinTemperature and MaxTemperature are the range both chips specify; Read
// returns sensors.ErrOutOfRange beyond it.
const (
	MinTemperature = -40.0 // °C
	MaxTemperature = 125.0 // °C
)

// Query is a command whose reply is one or two CRC-checked words: the
// status register, the serial number.
type Query struct {
	What  string        // what the reply is, for errors: "serial number"
	Cmd   uint16        // the command
	Wait  time.Duration // between the command and the read-out; 0: none
	Words int           // 1 or 2
}

// Command writes cmd, most significant byte first, as m's commands are
// written. The error wraps a sensors kind (sensors.I2CError).
func (m *Model) Command(d i2c.Dev, cmd uint16) error {
	var w [2]byte
	binary.BigEndian.PutUint16(w[:], cmd)
	return sensors.I2CError(d.Tx(w[2-m.CommandLen:], nil))
}

// Ask sends q's command to d, waits q.Wait with wait, and reads the reply:
// its words joined, the first the most significant. Errors say q.What.
func (m *Model) Ask(ctx context.Context, d i2c.Dev, q Query, wait func(context.Context, time.Duration) error) (uint32, error) {
	if err := m.Command(d, q.Cmd); err != nil {
		return 0, fmt.Errorf("%s: %w", q.What, err)
	}
	if q.Wait > 0 {
		if err := wait(ctx, q.Wait); err != nil {
			return 0, fmt.Errorf("%s: %w", q.What, err)
		}
	}
	v, err := ReadWords(d, q.Words)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q.What, err)
	}
	return v, nil
}

// ReadWords reads n (1 or 2) words from d, each followed by its CRC, checks
// them, and returns them joined, the first the most significant. An error
// wraps sensors.ErrCRC or the transfer's kind.
func ReadWords(d i2c.Dev, n int) (uint32, error) {
	var b [6]byte
	if err := d.Tx(nil, b[:3*n]); err != nil {
		return 0, sensors.I2CError(err)
	}
	var v uint32
	for i := range n {
		w, err := Word(b[3*i : 3*i+3])
		if err != nil {
			return 0, err
		}
		v = v<<16 | uint32(w)
	}
	return v, nil
}

// Word checks b (a 16-bit word, most significant byte first, and its CRC)
// and returns the word; an error wraps sensors.ErrCRC.
func Word(b []byte) (uint16, error) {
	if got, want := b[2], CRC8(b[:2]); got != want {
		return 0, fmt.Errorf("%w: word %#02x%02x has CRC %#02x, want %#02x", sensors.ErrCRC, b[0], b[1], got, want)
	}
	return binary.BigEndian.Uint16(b), nil
}

// CRC8 is the checksum Sensirion's chips append to every 16-bit word:
// CRC-8 with polynomial 0x31 (x⁸+x⁵+x⁴+1), initial value 0xFF, no
// reflection, no final XOR. CRC8([]byte{0xBE, 0xEF}) is 0x92.
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

// Sensor reads temperature and humidity from one chip in single-shot mode.
// It borrows its bus and never closes it. It is safe for concurrent use;
// transfers are serialised.
type Sensor struct {
	m    *Model
	name string
	dev  i2c.Dev
	wait func(ctx context.Context, d time.Duration) error // sensors.Sleep, or a test's fake

	mu     sync.Mutex
	stuck  *sensors.StuckDetector
	failed bool // the last read failed: soft-reset before the next
	closed bool
}

// New soft-resets the chip at dev and asks it m.Probe, waiting with wait,
// and returns a sensor named name (default m.Name) for it. stuckAfter is
// as sensors.NewStuckDetector takes it. Errors say the bus and address
// and wrap a sensors kind.
func New(m *Model, dev i2c.Dev, name string, stuckAfter int, wait func(context.Context, time.Duration) error) (*Sensor, error) {
	s := &Sensor{
		m:     m,
		name:  cmp.Or(name, m.Name),
		dev:   dev,
		wait:  wait,
		stuck: sensors.NewStuckDetector(stuckAfter),
	}
	ctx := context.Background()
	if err := s.reset(ctx); err != nil {
		return nil, fmt.Errorf("%s %s at %#x: %w", m.Name, dev.Bus, dev.Addr, err)
	}
	if _, err := m.Ask(ctx, dev, m.Probe, wait); err != nil {
		return nil, fmt.Errorf("%s %s at %#x: %w", m.Name, dev.Bus, dev.Addr, err)
	}
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Read takes one measurement: the command, a wait of m.MeasureTime (or
// until ctx ends), and both words, CRC checked. It returns temperature
// (Cel) then humidity (%), rounded to 0.01. Errors wrap a sensors kind:
// ErrNoDevice or ErrBus, ErrCRC, ErrOutOfRange, ErrStuck, or ctx's error.
// After a failed read the next one starts with a soft reset.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New(s.m.Name + ": read after Close")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.m.Name, err)
	}
	out, err := s.read(ctx)
	s.failed = err != nil
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.m.Name, s.name, err)
	}
	return out, nil
}

func (s *Sensor) read(ctx context.Context) ([]sensors.Sample, error) {
	if s.failed {
		if err := s.reset(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.m.Command(s.dev, s.m.Measure); err != nil {
		return nil, fmt.Errorf("start measurement: %w", err)
	}
	if err := s.wait(ctx, s.m.MeasureTime); err != nil {
		return nil, fmt.Errorf("wait for measurement: %w", err)
	}
	var buf [6]byte
	if err := s.dev.Tx(nil, buf[:]); err != nil {
		return nil, fmt.Errorf("read measurement: %w", sensors.I2CError(err))
	}
	rawT, err := Word(buf[0:3])
	if err != nil {
		return nil, fmt.Errorf("temperature: %w", err)
	}
	rawH, err := Word(buf[3:6])
	if err != nil {
		return nil, fmt.Errorf("humidity: %w", err)
	}
	t, h := round2(s.m.Temperature(rawT)), round2(s.m.Humidity(rawH))
	if t < MinTemperature || t > MaxTemperature {
		return nil, fmt.Errorf("temperature %.2f °C (raw %#04x): %w", t, rawT, sensors.ErrOutOfRange)
	}
	// Humidity decodes (or is cropped) to 0..100 whatever the word.
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
	if err := s.m.Command(s.dev, s.m.SoftReset); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	if err := s.wait(ctx, s.m.ResetTime); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	return nil
}

// Ask asks the chip q, between reads; errors are prefixed with the
// driver's name.
func (s *Sensor) Ask(ctx context.Context, q Query) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.m.Ask(ctx, s.dev, q, s.wait)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.m.Name, err)
	}
	return v, nil
}

// SetWait replaces how s waits for the chip, for tests on a fake clock.
func (s *Sensor) SetWait(wait func(context.Context, time.Duration) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wait = wait
}

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// round2 rounds to the chips' resolution, 0.01.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
