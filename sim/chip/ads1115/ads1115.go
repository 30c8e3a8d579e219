package ads1115

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

// Input gives the voltage at one analog input at t, in volts against GND.
type Input func(t time.Time) float64

// Volts returns an Input that is always v volts.
func Volts(v float64) Input { return func(time.Time) float64 { return v } }

// SoilProbe returns an Input that is the voltage of a capacitive soil
// moisture probe in soil s.
func SoilProbe(s *sim.Soil) Input { return func(t time.Time) float64 { return s.At(t).Volts } }

// Options configure a Chip. The zero value is a chip with its four inputs
// at 0 V on the real clock.
type Options struct {
	// Inputs are the voltages at AIN0..AIN3. A nil Input is 0 V.
	Inputs [4]Input
	// Now is the chip's clock: a conversion is not done until its time has
	// passed on it. Default time.Now.
	Now func() time.Time
	// RateError is how much slower than nominal the chip's oscillator runs,
	// as a fraction: a conversion takes (1+RateError)/DR. The datasheet
	// allows -10 % to +10 % (RateError -0.1..0.1). Default 0.
	RateError float64
}

// Fault is a failure of the chip itself (the bus's own faults, no
// acknowledge and bus error, are i2csim.Fault).
type Fault int

const (
	// OK: the chip works.
	OK Fault = iota
	// Stuck: every conversion returns the result of the first conversion
	// done under the fault, forever (until the fault is cleared).
	Stuck
	// OutOfRange: every conversion saturates at positive full scale
	// (0x7FFF), as with an input above the range or a broken input pin.
	OutOfRange
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case Stuck:
		return "stuck"
	case OutOfRange:
		return "out-of-range"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Registers (the pointer register's two low bits).
const (
	RegConversion = 0x00
	RegConfig     = 0x01
	RegLoThresh   = 0x02
	RegHiThresh   = 0x03
)

// Reset values of the registers (datasheet 9.6).
const (
	ConfigReset   = 0x8583
	LoThreshReset = 0x8000
	HiThreshReset = 0x7FFF
)

// Config register fields.
const (
	configOS       = 1 << 15 // write 1: start a single conversion; read 1: idle
	configMuxShift = 12
	configPGAShift = 9
	configMode     = 1 << 8 // 1: single-shot and power-down; 0: continuous
	configDRShift  = 5
)

// fullScale is the PGA's full-scale range in volts, by the PGA field.
var fullScale = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}

// dataRate is the data rate in samples per second, by the DR field.
var dataRate = [8]int{8, 16, 32, 64, 128, 250, 475, 860}

// Chip emulates a Texas Instruments ADS1115 16-bit ADC at register level:
// the pointer register, the conversion register, the config register
// (multiplexer, programmable gain, single-shot or continuous mode, data
// rate; its OS bit reads 0 while a conversion runs) and the two threshold
// registers. A single-shot conversion takes 1/DR (times 1+RateError) on
// the chip's clock, with the settings it was started with; until then the
// conversion register keeps the previous result, as on the real chip. The comparator and the ALERT/RDY pin are
// not emulated (the threshold registers only hold their values). It
// implements i2csim.Chip and is safe for concurrent use.
type Chip struct {
	opt Options

	mu          sync.Mutex
	inputs      [4]Input
	fault       Fault
	pointer     byte
	config      uint16 // as written, OS bit clear
	lo, hi      uint16
	conv        int16
	converting  bool      // a single-shot conversion runs
	convConfig  uint16    // the config it runs with
	doneAt      time.Time // when it ends; in continuous mode, when the next one ends
	frozen      *int16    // the result the Stuck fault repeats
	conversions int
}

// New returns a chip with the options applied, as after power-on.
func New(opt Options) *Chip {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Chip{opt: opt, inputs: opt.Inputs, config: ConfigReset &^ configOS, lo: LoThreshReset, hi: HiThreshReset}
}

// SetInput replaces the voltage at input ain (0..3), from the next
// conversion on.
func (c *Chip) SetInput(ain int, in Input) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inputs[ain] = in
}

// SetFault makes the chip fail with f from the next conversion on, or work
// again with OK.
func (c *Chip) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
	c.frozen = nil
}

// Conversions returns how many conversions the chip has completed.
func (c *Chip) Conversions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conversions
}

// Tx implements i2csim.Chip. A write's first byte sets the pointer
// register (its reserved high bits are ignored); two more bytes write the
// register it points to (most significant byte first; the conversion
// register is read-only; a single data byte is ignored, as an incomplete
// write). A read returns the register pointed to, most significant byte
// first, repeated if more than two bytes are read.
func (c *Chip) Tx(w, r []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Now()
	c.update(now)
	if len(w) > 0 {
		c.pointer = w[0] & 0x03
		if len(w) >= 3 {
			c.write(now, uint16(w[1])<<8|uint16(w[2]))
		}
	}
	if len(r) > 0 {
		v := c.register()
		for i := range r {
			r[i] = byte(v >> (8 * (1 - i%2)))
		}
	}
	return nil
}

// write writes v to the register the pointer selects.
func (c *Chip) write(now time.Time, v uint16) {
	switch c.pointer {
	case RegConfig:
		c.config = v &^ configOS
		switch {
		case v&configMode == 0: // continuous: (re)start converting
			c.converting = false
			c.doneAt = now.Add(c.conversionTime())
		case v&configOS != 0 && !c.converting: // single shot
			c.converting = true
			c.convConfig = c.config
			c.doneAt = now.Add(c.conversionTime())
		}
	case RegLoThresh:
		c.lo = v
	case RegHiThresh:
		c.hi = v
	}
}

// register returns the value of the register the pointer selects.
func (c *Chip) register() uint16 {
	switch c.pointer {
	case RegConversion:
		return uint16(c.conv)
	case RegConfig:
		if c.converting || c.config&configMode == 0 {
			return c.config
		}
		return c.config | configOS
	case RegLoThresh:
		return c.lo
	}
	return c.hi
}

// update completes the conversions that have ended by now.
func (c *Chip) update(now time.Time) {
	switch {
	case c.converting && !now.Before(c.doneAt):
		c.convert(c.doneAt, c.convConfig)
		c.converting = false
	case c.config&configMode == 0 && !now.Before(c.doneAt):
		// Continuous mode: the register holds the latest completed
		// conversion.
		d := c.conversionTime()
		n := now.Sub(c.doneAt) / d
		end := c.doneAt.Add(n * d)
		c.convert(end, c.config)
		c.doneAt = end.Add(d)
	}
}

// convert stores the result of a conversion with config cfg ending at t.
func (c *Chip) convert(t time.Time, cfg uint16) {
	c.conversions++
	code := Code(c.differential(t, cfg), fullScale[cfg>>configPGAShift&7])
	switch c.fault {
	case Stuck:
		if c.frozen == nil {
			c.frozen = &code
		}
		code = *c.frozen
	case OutOfRange:
		code = math.MaxInt16
	}
	c.conv = code
}

// differential is the voltage the multiplexer set by cfg selects at t.
func (c *Chip) differential(t time.Time, cfg uint16) float64 {
	v := func(ain int) float64 {
		if c.inputs[ain] == nil {
			return 0
		}
		return c.inputs[ain](t)
	}
	switch cfg >> configMuxShift & 7 {
	case 0:
		return v(0) - v(1)
	case 1:
		return v(0) - v(3)
	case 2:
		return v(1) - v(3)
	case 3:
		return v(2) - v(3)
	}
	return v(int(cfg>>configMuxShift&7) - 4)
}

// conversionTime is how long one conversion takes at the configured data
// rate.
func (c *Chip) conversionTime() time.Duration {
	dr := dataRate[c.config>>configDRShift&7]
	return time.Duration(float64(time.Second) * (1 + c.opt.RateError) / float64(dr))
}

// Code is the conversion result for v volts at full-scale range fs volts:
// v*32768/fs rounded, saturating at -32768 and 32767 (datasheet 9.3.3).
func Code(v, fs float64) int16 {
	x := math.Round(v * 32768 / fs)
	switch {
	case math.IsNaN(x):
		return 0
	case x > math.MaxInt16:
		return math.MaxInt16
	case x < math.MinInt16:
		return math.MinInt16
	}
	return int16(x)
}
