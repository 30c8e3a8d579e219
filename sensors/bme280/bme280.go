package bme280

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// Addresses are the I²C addresses a BME280 or BMP280 answers at: 0x76 with
// its SDO pin to GND, 0x77 with SDO to VDDIO.
var Addresses = []uint16{0x76, 0x77}

// The chip's operating range (datasheet, section 1): a converted value
// outside it is reported as sensors.ErrOutOfRange.
const (
	MinTemperature = -40.0  // °C
	MaxTemperature = 85.0   // °C
	MinPressure    = 300.0  // hPa
	MaxPressure    = 1100.0 // hPa
	MinHumidity    = 0.0    // %RH
	MaxHumidity    = 100.0  // %RH
)

// Models Identify and Model return.
const (
	ModelBME280 = "BME280"
	ModelBMP280 = "BMP280"
)

// Registers this package reads itself (the rest is bmxx80's business).
const (
	regChipID  = 0xD0
	regCtrlHum = 0xF2 // ctrl_hum, status, ctrl_meas, config, reserved, data 0xF7..0xFE
	regConfig  = 0xF5
	regData    = 0xF7
)

// Power-on reset values of the data registers (datasheet, memory map).
const (
	resetWord20 = 0x80000
	resetWord16 = 0x8000
)

// Options configure a Sensor. The zero value reads a chip at 0x76 with 1x
// oversampling; each field says its default.
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "bme280".
	Name string
	// Addr is the chip's I²C address: 0x76 (default, SDO low) or 0x77
	// (SDO high).
	Addr uint16
	// Oversampling is the oversampling of every channel: 1 (default), 2,
	// 4, 8 or 16. More means less noise, a longer measurement (about 8 ms
	// at 1x, 26 ms at 4x, 98 ms at 16x) and a little more self-heating;
	// the datasheet recommends 1x for weather monitoring.
	Oversampling int
	// StuckAfter is how many identical raw readings in a row make a stuck
	// chip. Default sensors.DefaultStuckAfter; negative: never.
	StuckAfter int
}

// Sensor is a BME280 (temperature, humidity, pressure) or BMP280
// (temperature, pressure) on I²C, driven by periph's bmxx80 in forced mode:
// each Read triggers one measurement, waits for it and reads it, and the
// chip sleeps between reads.
//
// It borrows the bus: Close halts the chip, never the bus, which belongs to
// whoever opened it. It is safe for concurrent use.
type Sensor struct {
	name string
	bus  *abortBus
	addr uint16
	opts bmxx80.Opts

	mu     sync.Mutex
	dev    *bmxx80.Dev // nil until (re)initialised
	model  string
	stuck  *sensors.StuckDetector // nil: no stuck check
	closed bool
}

// New returns a sensor for the chip at opt.Addr on b, after identifying and
// configuring it. It fails, with an error wrapping sensors.ErrNoDevice, if
// nothing answers there or something other than a BME280 or BMP280 does.
func New(b i2c.Bus, opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "bme280"
	}
	if !reading.ValidID(opt.Name) {
		return nil, fmt.Errorf("bme280: invalid sensor name %q", opt.Name)
	}
	if opt.Addr == 0 {
		opt.Addr = Addresses[0]
	}
	if opt.Addr != 0x76 && opt.Addr != 0x77 {
		return nil, fmt.Errorf("bme280: address %#02x: a BME280 is at 0x76 or 0x77", opt.Addr)
	}
	os, err := oversampling(opt.Oversampling)
	if err != nil {
		return nil, err
	}
	s := &Sensor{
		name: opt.Name,
		bus:  &abortBus{Bus: b},
		addr: opt.Addr,
		opts: bmxx80.Opts{Temperature: os, Pressure: os, Humidity: os},
	}
	if opt.StuckAfter >= 0 {
		s.stuck = sensors.NewStuckDetector(opt.StuckAfter)
	}
	if err := s.init(); err != nil {
		return nil, err
	}
	return s, nil
}

func oversampling(n int) (bmxx80.Oversampling, error) {
	switch n {
	case 0, 1:
		return bmxx80.O1x, nil
	case 2:
		return bmxx80.O2x, nil
	case 4:
		return bmxx80.O4x, nil
	case 8:
		return bmxx80.O8x, nil
	case 16:
		return bmxx80.O16x, nil
	}
	return 0, fmt.Errorf("bme280: oversampling %d: want 1, 2, 4, 8 or 16", n)
}

// init identifies and configures the chip; s.mu is held (or s is new).
func (s *Sensor) init() error {
	id, err := chipID(s.bus, s.addr)
	if err != nil {
		return err
	}
	switch model := modelOf(id); {
	case model == "":
		return fmt.Errorf("bme280: chip id %#02x at %#02x is not a BME280 or BMP280: %w", id, s.addr, sensors.ErrNoDevice)
	case id != 0x60 && id != 0x58:
		return fmt.Errorf("bme280: chip id %#02x at %#02x is a BMP280 engineering sample, which periph's bmxx80 does not drive: %w", id, s.addr, sensors.ErrNoDevice)
	}
	opts := s.opts // bmxx80 keeps a copy; ours stays as configured
	dev, err := bmxx80.NewI2C(s.bus, s.addr, &opts)
	if err != nil {
		return fmt.Errorf("bme280: init at %#02x: %w", s.addr, sensors.I2CError(periphErr(err)))
	}
	s.dev, s.model = dev, modelOf(id)
	if s.stuck != nil {
		s.stuck.Reset()
	}
	return nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Model returns "BME280" or "BMP280": the chip found at the last
// (re)initialisation.
func (s *Sensor) Model() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.model
}

// Read measures once and returns temperature (Cel), then, on a BME280,
// relative humidity (%), then pressure (hPa).
//
// It blocks for the measurement (about 8 ms at 1x oversampling, up to
// 98 ms at 16x) or until ctx ends, when its next bus transfer fails and it
// returns ctx's error: a chip that never finishes its conversion, which
// bmxx80 waits for without a limit, does not hold it. Other errors wrap a
// kind of package sensors: ErrNoDevice or ErrBus when the transfer fails,
// ErrOutOfRange for a value outside the chip's range or a chip that was
// reset since it was configured (its data registers hold their power-on
// values), ErrStuck when the raw ADC words have not changed for
// Options.StuckAfter reads. After a failed, cut short or reset read the
// next Read identifies and configures the chip again, so a chip that comes
// back (replugged, repowered) is read again.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("bme280: read after Close")
	}
	s.bus.done, s.bus.aborted = ctx.Done(), false
	out, err := s.read()
	s.bus.done = nil
	if err != nil && s.bus.aborted {
		s.dev = nil
		return nil, fmt.Errorf("bme280: read at %#02x cut short: %w", s.addr, ctx.Err())
	}
	return out, err
}

// read is Read with s.mu held.
func (s *Sensor) read() ([]sensors.Sample, error) {
	if s.dev == nil {
		if err := s.init(); err != nil {
			return nil, err
		}
	}
	var e physic.Env
	if err := s.dev.Sense(&e); err != nil {
		s.dev = nil
		return nil, fmt.Errorf("bme280: read at %#02x: %w", s.addr, sensors.I2CError(periphErr(err)))
	}
	// bmxx80 keeps the raw words to itself; the chip, asleep again after
	// its forced measurement, still holds the very words Sense converted.
	// Read them once more, with the configuration registers before them.
	var regs [regData + 8 - regCtrlHum]byte
	if err := s.bus.Tx(s.addr, []byte{regCtrlHum}, regs[:]); err != nil {
		s.dev = nil
		return nil, fmt.Errorf("bme280: read raw words at %#02x: %w", s.addr, sensors.I2CError(err))
	}
	d := regs[regData-regCtrlHum:]
	bme := s.model == ModelBME280
	pRaw := uint64(d[0])<<12 | uint64(d[1])<<4 | uint64(d[2])>>4
	tRaw := uint64(d[3])<<12 | uint64(d[4])<<4 | uint64(d[5])>>4
	hRaw := uint64(d[6])<<8 | uint64(d[7])
	if !bme {
		hRaw = resetWord16
	}
	switch {
	case regs[regConfig-regCtrlHum] == 0:
		// bmxx80 configures a non-zero standby time; a zero config
		// register means the chip was reset (a brown-out) since, and
		// forgot ctrl_hum among others.
		s.dev = nil
		return nil, fmt.Errorf("bme280: chip at %#02x was reset since it was configured (raw %#x %#x %#x): %w", s.addr, tRaw, pRaw, hRaw, sensors.ErrOutOfRange)
	case tRaw == resetWord20 && pRaw == resetWord20 && hRaw == resetWord16:
		s.dev = nil
		return nil, fmt.Errorf("bme280: chip at %#02x serves its power-on reset values: no measurement completed: %w", s.addr, sensors.ErrOutOfRange)
	}

	temp := round(e.Temperature.Celsius(), 2)
	press := round(float64(e.Pressure)/float64(physic.Pascal)/100, 4)
	hum := round(float64(e.Humidity)/float64(physic.PercentRH), 3)
	if temp < MinTemperature || temp > MaxTemperature {
		return nil, fmt.Errorf("bme280: temperature %.2f °C outside %v..%v: %w", temp, MinTemperature, MaxTemperature, sensors.ErrOutOfRange)
	}
	if press < MinPressure || press > MaxPressure {
		return nil, fmt.Errorf("bme280: pressure %.2f hPa outside %v..%v: %w", press, MinPressure, MaxPressure, sensors.ErrOutOfRange)
	}
	if bme && (hum < MinHumidity || hum > MaxHumidity) {
		return nil, fmt.Errorf("bme280: humidity %.2f %%RH outside %v..%v: %w", hum, MinHumidity, MaxHumidity, sensors.ErrOutOfRange)
	}
	if s.stuck != nil {
		if err := s.stuck.Check(tRaw, pRaw, hRaw); err != nil {
			return nil, fmt.Errorf("bme280: %w", err)
		}
	}

	out := make([]sensors.Sample, 0, 3)
	out = append(out, sensors.Sample{Metric: sensors.MetricTemperature, Value: temp, Unit: sensors.UnitCelsius})
	if bme {
		out = append(out, sensors.Sample{Metric: sensors.MetricHumidity, Value: hum, Unit: sensors.UnitRelHumidity})
	}
	out = append(out, sensors.Sample{Metric: sensors.MetricPressure, Value: press, Unit: sensors.UnitHectopascal})
	return out, nil
}

// abortBus is the bus as the sensor and bmxx80 use it: while done (the
// context of the Read in progress) is closed, every transfer fails, which
// ends bmxx80's unbounded wait for a conversion. Its fields are guarded by
// Sensor.mu.
type abortBus struct {
	i2c.Bus
	done    <-chan struct{} // nil outside Read: never
	aborted bool            // a transfer failed because done was closed
}

// Tx implements i2c.Bus.
func (b *abortBus) Tx(addr uint16, w, r []byte) error {
	select {
	case <-b.done:
		b.aborted = true
		return errors.New("read's context ended")
	default:
		return b.Bus.Tx(addr, w, r)
	}
}

// Close halts the chip (in forced mode it already sleeps between reads, so
// this sends nothing unless bmxx80 was sensing continuously) and makes
// later Reads fail. It does not close the bus.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.dev == nil {
		return nil
	}
	err := s.dev.Halt()
	s.dev = nil
	if err != nil {
		return fmt.Errorf("bme280: halt at %#02x: %w", s.addr, sensors.I2CError(periphErr(err)))
	}
	return nil
}

// Identify reads the chip id register (0xD0) at addr and names the chip:
// "BME280" (id 0x60), "BMP280" (0x58, and 0x56 or 0x57 for engineering
// samples, which New refuses), or "" with a nil error if another chip
// answers. If nothing answers it returns an error wrapping
// sensors.ErrNoDevice (or sensors.ErrBus). It only reads.
func Identify(b i2c.Bus, addr uint16) (model string, err error) {
	id, err := chipID(b, addr)
	if err != nil {
		return "", err
	}
	return modelOf(id), nil
}

func chipID(b i2c.Bus, addr uint16) (byte, error) {
	var id [1]byte
	if err := b.Tx(addr, []byte{regChipID}, id[:]); err != nil {
		return 0, fmt.Errorf("bme280: read chip id at %#02x: %w", addr, sensors.I2CError(err))
	}
	return id[0], nil
}

func modelOf(id byte) string {
	switch id {
	case 0x60:
		return ModelBME280
	case 0x58, 0x56, 0x57:
		return ModelBMP280
	}
	return ""
}

// periphErr drops the "bme280: " prefixes bmxx80 stacks on its errors
// (one per layer, "" before it knows the model) so that ours says it once.
func periphErr(err error) error {
	msg := err.Error()
	for {
		m := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(msg, "bme280: "), "bmp280: "), ": ")
		if m == msg {
			break
		}
		msg = m
	}
	if msg == err.Error() {
		return err
	}
	return &trimmedError{msg: msg, err: err}
}

// trimmedError is err with a shorter text; it still unwraps to err.
type trimmedError struct {
	msg string
	err error
}

func (e *trimmedError) Error() string { return e.msg }
func (e *trimmedError) Unwrap() error { return e.err }

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
