package ads1115

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
)

// Addresses are the chip's four I²C addresses, by what its ADDR pin is
// tied to: GND 0x48 (the default of most breakout boards), VDD 0x49, SDA
// 0x4A, SCL 0x4B.
var Addresses = []uint16{0x48, 0x49, 0x4A, 0x4B}

// DefaultAddr is the address with ADDR tied to GND.
const DefaultAddr uint16 = 0x48

// Channel is what the input multiplexer measures: one input against GND,
// or the difference between two inputs.
type Channel int

// Channels. The zero value is AIN0 against GND.
const (
	AIN0     Channel = iota // AIN0 against GND
	AIN1                    // AIN1 against GND
	AIN2                    // AIN2 against GND
	AIN3                    // AIN3 against GND
	AIN0AIN1                // AIN0 - AIN1
	AIN0AIN3                // AIN0 - AIN3
	AIN1AIN3                // AIN1 - AIN3
	AIN2AIN3                // AIN2 - AIN3
)

var channelNames = [...]string{"0", "1", "2", "3", "0-1", "0-3", "1-3", "2-3"}

// String returns the channel as ParseChannel reads it: "0".."3" for an
// input against GND, "0-1", "0-3", "1-3", "2-3" for a difference.
func (c Channel) String() string {
	if c < 0 || int(c) >= len(channelNames) {
		return fmt.Sprintf("Channel(%d)", int(c))
	}
	return channelNames[c]
}

// ParseChannel reads a channel written as String writes it ("0".."3",
// "0-1", "0-3", "1-3", "2-3"); "AIN2" and "ain0-ain1" are accepted too.
func ParseChannel(s string) (Channel, error) {
	t := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "ain", "")
	for i, n := range channelNames {
		if t == n {
			return Channel(i), nil
		}
	}
	return 0, fmt.Errorf("ads1115: channel %q: want 0, 1, 2, 3 (against GND) or 0-1, 0-3, 1-3, 2-3 (differential)", s)
}

// mux is the channel's MUX field of the config register.
func (c Channel) mux() uint16 {
	if c <= AIN3 {
		return 4 + uint16(c)
	}
	return uint16(c - AIN0AIN1)
}

// FullScales are the programmable gain amplifier's full-scale ranges, in
// volts: a channel measures -FS..+FS (single-ended, 0..+FS). Whatever the
// range, no input may go beyond GND-0.3 V..VDD+0.3 V.
var FullScales = []float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256}

// DataRates are the chip's data rates, in samples per second; one
// conversion takes 1/rate.
var DataRates = []int{8, 16, 32, 64, 128, 250, 475, 860}

// Calibration of the common capacitive soil-moisture probe ("capacitive
// soil moisture sensor v1.2") powered at 3.3 V: about 2.8 V in dry air and
// 1.2 V in water. Calibrate each probe in its own soil for better numbers.
const (
	SoilDryVolts = 2.8
	SoilWetVolts = 1.2
)

// Point is one calibration point: the value of the physical quantity when
// the channel reads Volts.
type Point struct {
	Volts float64
	Value float64
}

// Options configure a Sensor. The zero value reads AIN0 against GND of an
// ADS1115 at 0x48, in volts, ±4.096 V range, 128 samples/s, named
// "ads1115".
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "ads1115".
	Name string
	// Addr is the chip's I²C address: 0x48, 0x49, 0x4A or 0x4B. Default
	// 0x48.
	Addr uint16
	// Channel is what to measure. Default AIN0 against GND.
	Channel Channel
	// FullScale is the range in volts, one of FullScales. Default 4.096,
	// which covers a 3.3 V supply at 125 µV a step.
	FullScale float64
	// DataRate is the conversion rate, one of DataRates samples per
	// second: slower rates average more noise away. Default 128 (a 7.8 ms
	// conversion).
	DataRate int
	// Metric and Unit name what the reading is. Default
	// sensors.MetricVoltage in sensors.UnitVolt; another metric needs a
	// Unit and a Calibration.
	Metric, Unit string
	// Calibration maps the channel's voltage linearly to the metric's
	// value through two points, e.g. a soil-moisture probe
	// {{SoilDryVolts, 0}, {SoilWetVolts, 100}} in sensors.UnitPercent, or
	// a 1:11 voltage divider {{0, 0}, {1, 11}} in volts. Default (the zero
	// value): the voltage itself.
	Calibration [2]Point
	// Clamp limits the calibrated value to the range between the two
	// points' values (a moisture never below 0 % or above 100 %). Default
	// false.
	Clamp bool
	// StuckAfter is how many identical conversion results in a row count
	// as a stuck chip (see sensors.NewStuckDetector). Default
	// sensors.DefaultStuckAfter; negative: never (for an input steady
	// enough, at a coarse enough range, that the chip's noise does not
	// move its last bit).
	StuckAfter int
	// Lock is held for each conversion, from starting it to reading its
	// result. Sensors on different channels of one chip must share one
	// (a *sync.Mutex per chip), or one's conversion can restart another's
	// and return the wrong channel. Default: a lock of the sensor's own.
	Lock sync.Locker
}

// Config register fields (datasheet 9.6.3).
const (
	regConversion = 0x00
	regConfig     = 0x01
	regLoThresh   = 0x02
	regHiThresh   = 0x03

	configOS      = 1 << 15 // write: start a conversion; read: 1 idle
	configMode    = 1 << 8  // single shot
	configCompQue = 0x0003  // comparator disabled
	configReset   = 0x8583
)

// Sensor reads one channel of a Texas Instruments ADS1115 16-bit ADC in
// single-shot mode and reports its voltage, or a quantity calibrated from
// it. It borrows its bus and never closes it. It is safe for concurrent
// use; conversions are serialised by Options.Lock.
type Sensor struct {
	name   string
	dev    i2c.Dev
	config [3]byte // the config write that starts a conversion
	fs     float64
	conv   time.Duration
	metric string
	unit   string
	cal    [2]Point
	clamp  bool
	digits int // decimals worth reporting: one step of the ADC shows
	lock   sync.Locker
	// wait blocks for d or until ctx ends; replaced in tests.
	wait func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex             // guards what follows
	stuck  *sensors.StuckDetector // nil: no check
	closed bool
}

// New returns a sensor for one channel of the ADS1115 at opt.Addr on b. It
// checks the options and that something answers at the address (the
// ADS1115 has no identity register; see Identify); an error wraps
// sensors.ErrNoDevice when nothing does, sensors.ErrBus when the transfer
// fails. New does not keep b beyond the Sensor's use of it and never
// closes it.
func New(b i2c.Bus, opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "ads1115"
	}
	if opt.Addr == 0 {
		opt.Addr = DefaultAddr
	}
	if opt.Addr < 0x48 || opt.Addr > 0x4B {
		return nil, fmt.Errorf("ads1115: address %#x: the chip answers only at 0x48..0x4B", opt.Addr)
	}
	if opt.Channel < AIN0 || opt.Channel > AIN2AIN3 {
		return nil, fmt.Errorf("ads1115: invalid channel %d", int(opt.Channel))
	}
	if opt.FullScale == 0 {
		opt.FullScale = 4.096
	}
	pga := indexOf(FullScales, opt.FullScale)
	if pga < 0 {
		return nil, fmt.Errorf("ads1115: full scale %v V: want one of %v", opt.FullScale, FullScales)
	}
	if opt.DataRate == 0 {
		opt.DataRate = 128
	}
	dr := indexOf(DataRates, opt.DataRate)
	if dr < 0 {
		return nil, fmt.Errorf("ads1115: data rate %d: want one of %v samples/s", opt.DataRate, DataRates)
	}
	if opt.Metric == "" {
		opt.Metric = sensors.MetricVoltage
	}
	if opt.Unit == "" && opt.Metric == sensors.MetricVoltage {
		opt.Unit = sensors.UnitVolt
	}
	identity := opt.Calibration == [2]Point{}
	if identity {
		if opt.Metric != sensors.MetricVoltage {
			return nil, fmt.Errorf("ads1115: metric %q needs a calibration from volts", opt.Metric)
		}
		opt.Calibration = [2]Point{{0, 0}, {1, 1}}
	}
	if opt.Calibration[0].Volts == opt.Calibration[1].Volts {
		return nil, fmt.Errorf("ads1115: calibration points share the voltage %v V", opt.Calibration[0].Volts)
	}
	if err := (sensors.Sample{Metric: opt.Metric, Value: 0, Unit: opt.Unit}).Validate(); err != nil {
		return nil, fmt.Errorf("ads1115: %w", err)
	}
	if opt.Lock == nil {
		opt.Lock = &sync.Mutex{}
	}
	cfg := configOS | opt.Channel.mux()<<12 | uint16(pga)<<9 | configMode | uint16(dr)<<5 | configCompQue
	s := &Sensor{
		name:   opt.Name,
		dev:    i2c.Dev{Bus: b, Addr: opt.Addr},
		config: [3]byte{regConfig, byte(cfg >> 8), byte(cfg)},
		fs:     opt.FullScale,
		conv:   time.Second / time.Duration(opt.DataRate),
		metric: opt.Metric,
		unit:   opt.Unit,
		cal:    opt.Calibration,
		clamp:  opt.Clamp,
		lock:   opt.Lock,
		wait:   sensors.Sleep,
	}
	if opt.StuckAfter >= 0 {
		s.stuck = sensors.NewStuckDetector(opt.StuckAfter)
	}
	step := math.Abs(s.scale(opt.FullScale/32768) - s.scale(0))
	s.digits = int(math.Min(9, math.Max(0, math.Ceil(-math.Log10(step)))))
	if _, err := readRegister(s.dev, regConfig); err != nil {
		return nil, fmt.Errorf("ads1115 %s at %#x: %w", b, opt.Addr, err)
	}
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Read takes one single-shot conversion of the channel: it writes the
// config register (which starts the conversion), waits one conversion
// time (1/DataRate) or until ctx ends, then polls the config register's
// OS bit until the conversion is done (the chip's oscillator may run 10 %
// slow), and reads the result. It returns one sample of the configured
// metric, rounded to the decimals one step of the ADC can show. Errors
// wrap a sensors kind: ErrNoDevice or ErrBus (the transfer, or a
// conversion that never completes), ErrOutOfRange (the result is at
// either end of the range, 0x7FFF or 0x8000: the input is beyond the full
// scale), ErrStuck, or ctx's error. Every read writes the whole
// configuration, so a chip that was unplugged or reset is picked up again
// as soon as it answers.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("ads1115: read after Close")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ads1115: %w", err)
	}
	raw, err := s.convert(ctx)
	if err != nil {
		return nil, fmt.Errorf("ads1115 %s: %w", s.name, err)
	}
	if raw == math.MaxInt16 || raw == math.MinInt16 {
		return nil, fmt.Errorf("ads1115 %s: result %#04x at the end of the ±%v V range: %w", s.name, uint16(raw), s.fs, sensors.ErrOutOfRange)
	}
	if s.stuck != nil {
		if err := s.stuck.Check(uint64(uint16(raw))); err != nil {
			return nil, fmt.Errorf("ads1115 %s: %w", s.name, err)
		}
	}
	v := s.scale(float64(raw) * s.fs / 32768)
	if s.clamp {
		lo, hi := s.cal[0].Value, s.cal[1].Value
		v = math.Max(math.Min(lo, hi), math.Min(math.Max(lo, hi), v))
	}
	p := math.Pow(10, float64(s.digits))
	return []sensors.Sample{{Metric: s.metric, Value: math.Round(v*p) / p, Unit: s.unit}}, nil
}

// convert runs one conversion under the chip's lock and returns its
// result.
func (s *Sensor) convert(ctx context.Context) (int16, error) {
	s.lock.Lock()
	defer s.lock.Unlock()
	if err := s.dev.Tx(s.config[:], nil); err != nil {
		return 0, fmt.Errorf("start conversion: %w", sensors.I2CError(err))
	}
	if err := s.wait(ctx, s.conv); err != nil {
		return 0, fmt.Errorf("wait for conversion: %w", err)
	}
	// Poll every tenth of a conversion, for at most as long again.
	poll := max(s.conv/10, 100*time.Microsecond)
	for i := 0; ; i++ {
		cfg, err := readRegister(s.dev, regConfig)
		if err != nil {
			return 0, fmt.Errorf("conversion status: %w", err)
		}
		if cfg&configOS != 0 {
			break
		}
		if i == 10 {
			return 0, fmt.Errorf("conversion not done after %s (config %#04x): %w", s.conv+10*poll, cfg, sensors.ErrBus)
		}
		if err := s.wait(ctx, poll); err != nil {
			return 0, fmt.Errorf("wait for conversion: %w", err)
		}
	}
	raw, err := readRegister(s.dev, regConversion)
	if err != nil {
		return 0, fmt.Errorf("read conversion: %w", err)
	}
	return int16(raw), nil
}

// scale maps volts through the calibration.
func (s *Sensor) scale(v float64) float64 {
	a, b := s.cal[0], s.cal[1]
	return a.Value + (v-a.Volts)*(b.Value-a.Value)/(b.Volts-a.Volts)
}

// Close marks the sensor closed; later reads fail. It does not close the
// bus, which the sensor only borrows.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Identify reports whether the chip at addr on b looks like an ADS1115.
// The chip has no identity register, so this is a heuristic on register
// values, read without writing anything: the threshold registers at their
// reset values (low 0x8000, high 0x7FFF), and the config register either
// at its reset value 0x8583 or as a single-shot driver such as this one
// leaves it (single-shot mode, comparator disabled). An ADS1015 (12-bit,
// same registers) passes too; an ADS1115 whose thresholds or comparator
// someone programmed does not. It returns "ADS1115", "" when something
// else answered, or an error wrapping sensors.ErrNoDevice or
// sensors.ErrBus.
func Identify(b i2c.Bus, addr uint16) (string, error) {
	d := i2c.Dev{Bus: b, Addr: addr}
	var regs [3]uint16
	for i, reg := range []byte{regConfig, regLoThresh, regHiThresh} {
		v, err := readRegister(d, reg)
		if err != nil {
			return "", fmt.Errorf("ads1115: identify %s at %#x: %w", b, addr, err)
		}
		regs[i] = v
	}
	cfg, lo, hi := regs[0], regs[1], regs[2]
	if lo == 0x8000 && hi == 0x7FFF && (cfg == configReset || cfg&0x011F == configMode|configCompQue) {
		return "ADS1115", nil
	}
	return "", nil
}

// readRegister points at reg and reads its 16-bit value, most significant
// byte first, in one combined transaction.
func readRegister(d i2c.Dev, reg byte) (uint16, error) {
	var r [2]byte
	if err := d.Tx([]byte{reg}, r[:]); err != nil {
		return 0, sensors.I2CError(err)
	}
	return binary.BigEndian.Uint16(r[:]), nil
}

func indexOf[T comparable](xs []T, x T) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
