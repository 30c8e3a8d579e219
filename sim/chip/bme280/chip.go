package bme280

import (
	"fmt"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

// Model is the chip emulated.
type Model int

const (
	// BME280: temperature, pressure and humidity; chip id 0x60.
	BME280 Model = iota
	// BMP280: temperature and pressure only; chip id 0x58. Its humidity
	// registers (ctrl_hum, 0xE1..0xE7, 0xFD..0xFE) read 0 and ignore writes.
	BMP280
)

func (m Model) String() string {
	switch m {
	case BME280:
		return "BME280"
	case BMP280:
		return "BMP280"
	}
	return fmt.Sprintf("Model(%d)", int(m))
}

// ChipID is the value of the model's chip id register 0xD0.
func (m Model) ChipID() byte {
	if m == BMP280 {
		return 0x58
	}
	return 0x60
}

// Fault is a failure of the chip itself. Bus-level failures (no
// acknowledge, a bus error) are the i2csim.Bus's: see i2csim.Bus.SetFault.
type Fault int

const (
	// OK: each measurement serves the conditions of the source.
	OK Fault = iota
	// Stuck: measurements leave the data registers as they were, so the
	// chip keeps serving the same ADC words (a latched converter).
	Stuck
	// OutOfRange: measurements serve words that decode to -60 °C and
	// 1300 hPa, outside the chip's operating range (-40..85 °C,
	// 300..1100 hPa); humidity follows the source.
	OutOfRange
	// ResetValues: measurements never complete, so the data registers keep
	// their power-on reset values (0x80000 for temperature and pressure,
	// 0x8000 for humidity), which every chip serves between power-on and
	// its first measurement.
	ResetValues
	// Wedged: a measurement starts and never completes, as on a chip hung
	// mid-conversion: the status register's "measuring" bit (3) stays set
	// and the data registers keep their values. A driver that polls the
	// status, as periph's bmxx80 does without a time limit, loops until the
	// fault is cleared (the measurement then completes) or the chip is
	// reset or power-cycled.
	Wedged
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case Stuck:
		return "stuck"
	case OutOfRange:
		return "out-of-range"
	case ResetValues:
		return "reset-values"
	case Wedged:
		return "wedged"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// The physical values the OutOfRange fault serves.
const (
	OutOfRangeTemperature = -60.0 // °C
	OutOfRangePressure    = 1300.0
)

// Power-on reset values of the data registers (datasheet, memory map).
const (
	ResetWord20 = 0x80000 // temperature and pressure, 20 bits
	ResetWord16 = 0x8000  // humidity, 16 bits
)

// Source gives the conditions the chip measures, at the moment of a
// measurement (a forced-mode trigger, or a data read in normal mode). It is
// called with the chip's lock held: it must not call the chip's methods.
type Source func() sim.Conditions

// Fixed returns a Source that always gives c.
func Fixed(c sim.Conditions) Source { return func() sim.Conditions { return c } }

// FromClimate returns a Source that asks climate for its conditions at the
// time now returns (nil: time.Now).
func FromClimate(climate *sim.Climate, now func() time.Time) Source {
	if now == nil {
		now = time.Now
	}
	return func() sim.Conditions { return climate.At(now()) }
}

// Registers (datasheet, memory map).
const (
	regCalib0   = 0x88 // ..0xA1
	regChipID   = 0xD0
	regReset    = 0xE0
	regCalibH   = 0xE1 // ..0xE7
	regCtrlHum  = 0xF2
	regStatus   = 0xF3
	regCtrlMeas = 0xF4
	regConfig   = 0xF5
	regData     = 0xF7 // press_msb..hum_lsb, ..0xFE
	resetMagic  = 0xB6 // written to regReset: soft reset

	statusMeasuring = 0x08 // status bit 3: a conversion is running
)

// wedgedStatusRead is how long a status read of a Wedged chip takes: the
// 29 bit times of the transaction on a 100 kHz bus. Without it, a driver
// polling the status would spin a CPU core.
const wedgedStatusRead = 300 * time.Microsecond

// Chip emulates a BME280 or BMP280 on I²C at register level: the chip id,
// soft reset, control and status registers, the calibration memory and the
// data registers, with the chip's auto-incrementing reads and its
// address/value pairs on writes. It implements i2csim.Chip.
//
// A forced-mode write to ctrl_meas takes one measurement of the source and
// returns the chip to sleep; in normal mode every read of the data
// registers measures afresh. Conversions complete instantly (status shows
// "measuring" only on a Wedged chip); the IIR filter and standby time are
// stored but not emulated. Each ADC word has the resolution its oversampling setting gives
// (16 bits at 1x up to 20 bits at 16x); a channel whose oversampling is off
// ("skipped") keeps its reset value, as on the chip. ctrl_hum takes effect
// at the next write to ctrl_meas, as on the chip.
//
// It is safe for concurrent use: faults and conditions can be changed while
// a driver reads it.
type Chip struct {
	mu     sync.Mutex
	model  Model
	chipID byte
	cal    Calibration
	tph    [26]byte // calibration registers 0x88..0xA1
	calH   [7]byte  // calibration registers 0xE1..0xE7
	src    Source
	fault  Fault

	ctrlHum  byte // as written
	osrsH    byte // ctrl_hum latched at the last ctrl_meas write
	ctrlMeas byte
	config   byte
	ptr      byte // register pointer
	adcP     int32
	adcT     int32
	adcH     int32
	measured int  // measurements taken, for tests
	pending  bool // a measurement started while Wedged, not completed
}

// New returns a chip of model m measuring src (nil: a fixed 20 °C,
// 1013.25 hPa, 50 %RH), in its power-on state, with DatasheetCalibration.
func New(m Model, src Source) *Chip {
	if src == nil {
		src = Fixed(sim.Conditions{Temperature: 20, Pressure: 1013.25, Humidity: 50})
	}
	c := &Chip{model: m, chipID: m.ChipID(), src: src}
	c.setCalibration(DatasheetCalibration())
	c.reset()
	return c
}

// NewClimate returns a chip of model m measuring climate at the time now
// returns (nil: time.Now).
func NewClimate(m Model, climate *sim.Climate, now func() time.Time) *Chip {
	return New(m, FromClimate(climate, now))
}

// Model returns the model emulated.
func (c *Chip) Model() Model { return c.model }

// SetConditions makes the chip measure x from now on, a fixed value.
func (c *Chip) SetConditions(x sim.Conditions) { c.SetSource(Fixed(x)) }

// SetSource makes the chip measure src from now on.
func (c *Chip) SetSource(src Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = src
}

// SetFault injects f (OK clears it). It applies from the next measurement;
// a measurement a Wedged chip hung in completes, with f.
func (c *Chip) SetFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault = f
	if c.pending && f != Wedged {
		c.measure()
	}
}

// Fault returns the fault in effect.
func (c *Chip) Fault() Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fault
}

// SetCalibration replaces the chip's calibration memory. A driver reads it
// when it initialises, so set it before.
func (c *Chip) SetCalibration(cal Calibration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setCalibration(cal)
}

func (c *Chip) setCalibration(cal Calibration) {
	c.cal = cal
	c.tph, c.calH = cal.registers()
}

// SetChipID makes register 0xD0 read id: 0x56 or 0x57 for a BMP280
// engineering sample, 0x55 for a BMP180, anything for a foreign chip.
func (c *Chip) SetChipID(id byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chipID = id
}

// PowerCycle puts the chip back in its power-on state, as after its supply
// was cut and restored: sleep mode, control registers 0, data registers at
// their reset values. Calibration, chip id, source and fault remain.
func (c *Chip) PowerCycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

// Measurements returns how many measurements the chip has taken.
func (c *Chip) Measurements() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.measured
}

// ADC returns the words in the data registers: 20-bit pressure and
// temperature, 16-bit humidity.
func (c *Chip) ADC() (press, temp, hum int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.adcP, c.adcT, c.adcH
}

// reset is the power-on and soft reset state.
func (c *Chip) reset() {
	c.ctrlHum, c.osrsH, c.ctrlMeas, c.config, c.ptr = 0, 0, 0, 0, 0
	c.adcP, c.adcT, c.adcH = ResetWord20, ResetWord20, ResetWord16
	c.pending = false
}

// Tx implements i2csim.Chip: w is address/value pairs, each writing one
// register; an odd last byte sets the register pointer, from which r is
// read with auto-increment.
func (c *Chip) Tx(w, r []byte) error {
	c.mu.Lock()
	wedged := c.tx(w, r)
	c.mu.Unlock()
	if wedged {
		time.Sleep(wedgedStatusRead)
	}
	return nil
}

// tx is Tx with c.mu held. It reports whether r read the status of a
// Wedged chip.
func (c *Chip) tx(w, r []byte) (wedged bool) {
	i := 0
	for ; i+1 < len(w); i += 2 {
		c.write(w[i], w[i+1])
	}
	if i < len(w) {
		c.ptr = w[i]
	}
	if len(r) == 0 {
		return false
	}
	if c.ctrlMeas&3 == modeNormal && int(c.ptr) <= regData+7 && int(c.ptr)+len(r) > regData {
		c.measure()
	}
	wedged = c.pending && int(c.ptr) <= regStatus && int(c.ptr)+len(r) > regStatus
	for j := range r {
		r[j] = c.read(c.ptr)
		c.ptr++
	}
	return wedged
}

// Operating modes, ctrl_meas bits 1:0 (01 and 10 are both forced).
const (
	modeSleep  = 0
	modeNormal = 3
)

func (c *Chip) write(reg, v byte) {
	switch reg {
	case regReset:
		if v == resetMagic {
			c.reset()
		}
	case regCtrlHum:
		if c.model == BME280 {
			c.ctrlHum = v & 0x07
		}
	case regCtrlMeas:
		c.ctrlMeas = v
		c.osrsH = c.ctrlHum
		switch v & 3 {
		case modeSleep:
		case modeNormal:
			c.measure()
		default: // forced: one measurement, then back to sleep
			c.measure()
			c.ctrlMeas &^= 3
		}
	case regConfig:
		c.config = v
	}
	// Other registers are read-only: writes are ignored, as on the chip.
}

func (c *Chip) read(reg byte) byte {
	switch {
	case reg >= regCalib0 && reg < regCalib0+byte(len(c.tph)):
		return c.tph[reg-regCalib0]
	case reg == regChipID:
		return c.chipID
	case reg >= regCalibH && reg < regCalibH+byte(len(c.calH)):
		if c.model == BME280 {
			return c.calH[reg-regCalibH]
		}
	case reg == regCtrlHum:
		return c.ctrlHum
	case reg == regStatus:
		if c.pending {
			return statusMeasuring
		}
		return 0 // conversions complete at once; NVM is never being copied
	case reg == regCtrlMeas:
		return c.ctrlMeas
	case reg == regConfig:
		return c.config
	case reg >= regData && reg <= regData+7:
		d := [8]byte{
			byte(c.adcP >> 12), byte(c.adcP >> 4), byte(c.adcP<<4) & 0xF0,
			byte(c.adcT >> 12), byte(c.adcT >> 4), byte(c.adcT<<4) & 0xF0,
			byte(c.adcH >> 8), byte(c.adcH),
		}
		if reg >= regData+6 && c.model != BME280 {
			return 0
		}
		return d[reg-regData]
	}
	return 0
}

// measure takes one measurement into the data registers, with the
// oversampling of ctrl_meas and the latched ctrl_hum.
func (c *Chip) measure() {
	c.pending = c.fault == Wedged
	if c.pending {
		return
	}
	c.measured++
	switch c.fault {
	case Stuck:
		return
	case ResetValues:
		c.adcP, c.adcT, c.adcH = ResetWord20, ResetWord20, ResetWord16
		return
	}
	x := c.src()
	if c.fault == OutOfRange {
		x.Temperature, x.Pressure = OutOfRangeTemperature, OutOfRangePressure
	}
	osrsT, osrsP := c.ctrlMeas>>5, (c.ctrlMeas>>2)&7
	c.adcT = ResetWord20
	if osrsT != 0 {
		c.adcT = c.cal.rawTemperature(x.Temperature, step(osrsT))
	}
	tFine := c.cal.tFine(c.adcT)
	c.adcP = ResetWord20
	if osrsP != 0 {
		c.adcP = c.cal.rawPressure(x.Pressure, tFine, step(osrsP))
	}
	c.adcH = ResetWord16
	if c.model == BME280 && c.osrsH != 0 {
		c.adcH = c.cal.rawHumidity(x.Humidity, tFine)
	}
}

// step is the spacing of the 20-bit words an oversampling setting gives:
// 16 bits at 1x (setting 1) up to 20 bits at 16x (settings 5..7).
func step(osrs byte) int32 {
	return 1 << (5 - min(osrs, 5))
}
