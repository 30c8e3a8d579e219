package bh1750

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// Addresses are the I²C addresses a BH1750 answers at: 0x23 with its ADDR
// pin low (or open: most boards pull it down), 0x5C with ADDR high.
var Addresses = []uint16{0x23, 0x5C}

// Model is what Identify returns for a chip that behaves like a BH1750.
const Model = "BH1750"

// Opcodes (datasheet, "Instruction Set Architecture").
const (
	opPowerDown = 0x00
	opPowerOn   = 0x01
	opReset     = 0x07
	opOnceHigh  = 0x20
	opOnceHigh2 = 0x21
	opOnceLow   = 0x23
	opMTregHigh = 0x40 // | MTreg bits 7..5
	opMTregLow  = 0x60 // | MTreg bits 4..0
)

// Sensitivity register limits and default (datasheet, "Adjust measurement
// result for influence of optical window").
const (
	MinMTreg     = 31
	MaxMTreg     = 254
	DefaultMTreg = 69
)

// Resolution is the chip's measurement mode.
type Resolution int

const (
	// High: 1 lx steps (at the default MTreg), up to 54612 lx; measurement
	// 120 ms typical, 180 ms at most. The default.
	High Resolution = iota
	// High2: 0.5 lx steps, up to 27306 lx, same time as High.
	High2
	// Low: 4 lx steps, up to 54612 lx; measurement 16 ms typical, 24 ms at
	// most.
	Low
)

func (r Resolution) String() string {
	switch r {
	case High:
		return "high"
	case High2:
		return "high2"
	case Low:
		return "low"
	}
	return fmt.Sprintf("Resolution(%d)", int(r))
}

// opcode returns the one-time measurement opcode of r.
func (r Resolution) opcode() byte {
	switch r {
	case High2:
		return opOnceHigh2
	case Low:
		return opOnceLow
	}
	return opOnceHigh
}

// maxTime is the longest measurement the datasheet allows for r at MTreg
// 69; the time scales with MTreg.
func (r Resolution) maxTime() time.Duration {
	if r == Low {
		return 24 * time.Millisecond
	}
	return 180 * time.Millisecond
}

// Options configure a Sensor. The zero value reads a chip at 0x23 in High
// resolution at the default sensitivity; each field says its default.
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "bh1750".
	Name string
	// Addr is the chip's I²C address: 0x23 (default, ADDR low) or 0x5C
	// (ADDR high).
	Addr uint16
	// Resolution is the measurement mode. Default High.
	Resolution Resolution
	// MTreg is the measurement-time register, MinMTreg..MaxMTreg. Default
	// 69. Sensitivity and measurement time scale with MTreg/69: 254 reads
	// down to 0.11 lx steps in High2 but takes 663 ms and saturates at
	// 7417 lx; 31 reaches 121557 lx (full sun) in High. Also use it to
	// compensate an optical window in front of the sensor.
	MTreg int
	// StuckAfter is how many identical non-zero counts in a row make a
	// stuck chip. Default sensors.DefaultStuckAfter; negative: never (for
	// a sensor under steady artificial light only).
	StuckAfter int
}

// Sensor is a BH1750 ambient light sensor on I²C. Each Read takes one
// one-time measurement, after which the chip powers itself down, drawing
// about 1 µA between reads.
//
// It borrows the bus: Close powers the chip down, never closes the bus. It
// is safe for concurrent use.
type Sensor struct {
	name  string
	bus   i2c.Bus
	addr  uint16
	res   Resolution
	mtreg byte
	wait  time.Duration

	mu     sync.Mutex
	stuck  *sensors.StuckDetector // nil: no stuck check
	closed bool
}

// New returns a sensor for the chip at opt.Addr on b, after powering it on
// and setting its sensitivity. It fails, with an error wrapping
// sensors.ErrNoDevice, if nothing acknowledges the address. The BH1750 has
// no id register: New cannot tell it from another chip at its address.
func New(b i2c.Bus, opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "bh1750"
	}
	if !reading.ValidID(opt.Name) {
		return nil, fmt.Errorf("bh1750: invalid sensor name %q", opt.Name)
	}
	if opt.Addr == 0 {
		opt.Addr = Addresses[0]
	}
	if opt.Addr != 0x23 && opt.Addr != 0x5C {
		return nil, fmt.Errorf("bh1750: address %#02x: a BH1750 is at 0x23 or 0x5c", opt.Addr)
	}
	if opt.Resolution < High || opt.Resolution > Low {
		return nil, fmt.Errorf("bh1750: unknown resolution %d", int(opt.Resolution))
	}
	if opt.MTreg == 0 {
		opt.MTreg = DefaultMTreg
	}
	if opt.MTreg < MinMTreg || opt.MTreg > MaxMTreg {
		return nil, fmt.Errorf("bh1750: MTreg %d outside %d..%d", opt.MTreg, MinMTreg, MaxMTreg)
	}
	s := &Sensor{
		name:  opt.Name,
		bus:   b,
		addr:  opt.Addr,
		res:   opt.Resolution,
		mtreg: byte(opt.MTreg),
		wait:  opt.Resolution.maxTime() * time.Duration(opt.MTreg) / DefaultMTreg,
	}
	if opt.StuckAfter >= 0 {
		s.stuck = sensors.NewStuckDetector(opt.StuckAfter)
	}
	if err := s.write(opPowerOn); err != nil {
		return nil, fmt.Errorf("bh1750: power on at %#02x: %w", s.addr, err)
	}
	if err := s.setMTreg(); err != nil {
		return nil, fmt.Errorf("bh1750: set MTreg at %#02x: %w", s.addr, err)
	}
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// MeasurementTime is how long each Read waits for the chip: the
// datasheet's longest measurement time for the resolution, scaled by MTreg.
func (s *Sensor) MeasurementTime() time.Duration { return s.wait }

// Read measures once and returns the illuminance (lx).
//
// It blocks for the measurement time (180 ms in High resolution at the
// default MTreg, 24 ms in Low) or until ctx ends. Errors wrap a kind of
// package sensors: ErrNoDevice or ErrBus when the transfer fails,
// ErrOutOfRange when the chip saturates (65535 counts: more light than it
// can measure at this resolution and MTreg), ErrStuck when the counts have
// not changed for Options.StuckAfter reads (0 counts, darkness, is never
// taken for stuck). Every Read sends the chip its whole configuration, so a
// chip that lost power, or was replaced, is read correctly at once.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("bh1750: read after Close")
	}
	// A chip that lost power came back with MTreg 69: set it every time
	// it differs from the default.
	if err := s.setMTreg(); err != nil {
		return nil, fmt.Errorf("bh1750: set MTreg at %#02x: %w", s.addr, err)
	}
	if err := s.write(s.res.opcode()); err != nil {
		return nil, fmt.Errorf("bh1750: start measurement at %#02x: %w", s.addr, err)
	}
	if err := sensors.Sleep(ctx, s.wait); err != nil {
		return nil, fmt.Errorf("bh1750: measurement at %#02x: %w", s.addr, err)
	}
	var b [2]byte
	if err := s.bus.Tx(s.addr, nil, b[:]); err != nil {
		return nil, fmt.Errorf("bh1750: read at %#02x: %w", s.addr, sensors.I2CError(err))
	}
	counts := uint16(b[0])<<8 | uint16(b[1])
	if counts == 0xFFFF {
		return nil, fmt.Errorf("bh1750: saturated (65535 counts, over %.0f lx at resolution %s, MTreg %d): %w",
			s.lux(counts), s.res, s.mtreg, sensors.ErrOutOfRange)
	}
	switch {
	case s.stuck == nil:
	case counts == 0:
		s.stuck.Reset() // darkness stays dark for hours: not a stuck chip
	default:
		if err := s.stuck.Check(uint64(counts)); err != nil {
			return nil, fmt.Errorf("bh1750: %w", err)
		}
	}
	return []sensors.Sample{{Metric: sensors.MetricIlluminance, Value: s.lux(counts), Unit: sensors.UnitLux}}, nil
}

// lux converts counts to lx (datasheet: lx = counts / 1.2 × 69/MTreg,
// halved in H-resolution mode 2), rounded to 0.01 lx.
func (s *Sensor) lux(counts uint16) float64 {
	lx := float64(counts) / 1.2 * DefaultMTreg / float64(s.mtreg)
	if s.res == High2 {
		lx /= 2
	}
	return math.Round(lx*100) / 100
}

// Close powers the chip down and makes later Reads fail. It does not close
// the bus.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.write(opPowerDown); err != nil {
		return fmt.Errorf("bh1750: power down at %#02x: %w", s.addr, err)
	}
	return nil
}

// setMTreg writes MTreg to the chip unless it is the power-on default.
func (s *Sensor) setMTreg() error {
	if s.mtreg == DefaultMTreg {
		return nil
	}
	if err := s.write(opMTregHigh | s.mtreg>>5); err != nil {
		return err
	}
	return s.write(opMTregLow | s.mtreg&0x1F)
}

// write sends one opcode, its own transaction as the datasheet shows.
func (s *Sensor) write(op byte) error {
	return sensors.I2CError(s.bus.Tx(s.addr, []byte{op}, nil))
}

// Identify probes addr for a BH1750, which has no id register: it powers
// the chip on, resets it and reads the data register, which a BH1750 clears
// to 0 on reset, then powers it down. It returns "BH1750" if the address
// acknowledges and reads 0 after the reset, "" with a nil error if
// something there answers otherwise, and an error wrapping
// sensors.ErrNoDevice (or sensors.ErrBus) if nothing answers.
//
// This is identification by address with a weak check: any chip at 0x23
// or 0x5C that acknowledges writes and then reads 0 passes. The probe
// writes the bytes 0x01, 0x07 and 0x00: a chip that takes writes as data,
// such as a PCF8574 port expander at 0x23, sets its outputs to them.
func Identify(b i2c.Bus, addr uint16) (model string, err error) {
	for _, op := range []byte{opPowerOn, opReset} {
		if err := b.Tx(addr, []byte{op}, nil); err != nil {
			return "", fmt.Errorf("bh1750: probe %#02x: %w", addr, sensors.I2CError(err))
		}
	}
	var d [2]byte
	if err := b.Tx(addr, nil, d[:]); err != nil {
		return "", fmt.Errorf("bh1750: probe %#02x: %w", addr, sensors.I2CError(err))
	}
	if err := b.Tx(addr, []byte{opPowerDown}, nil); err != nil {
		return "", fmt.Errorf("bh1750: probe %#02x: %w", addr, sensors.I2CError(err))
	}
	if d != [2]byte{} {
		return "", nil
	}
	return Model, nil
}
