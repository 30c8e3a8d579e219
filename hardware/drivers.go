package hardware

import (
	"context"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/ads1115"
	"github.com/tributary-iot/tributary/sensors/bh1750"
	"github.com/tributary-iot/tributary/sensors/bme280"
	"github.com/tributary-iot/tributary/sensors/ds18b20"
	"github.com/tributary-iot/tributary/sensors/gpioin"
	"github.com/tributary-iot/tributary/sensors/pulse"
	"github.com/tributary-iot/tributary/sensors/sht3x"
	"github.com/tributary-iot/tributary/sensors/sht4x"
	"github.com/tributary-iot/tributary/sim"
	ads1115sim "github.com/tributary-iot/tributary/sim/chip/ads1115"
	bh1750sim "github.com/tributary-iot/tributary/sim/chip/bh1750"
	bme280sim "github.com/tributary-iot/tributary/sim/chip/bme280"
	sht3xsim "github.com/tributary-iot/tributary/sim/chip/sht3x"
	sht4xsim "github.com/tributary-iot/tributary/sim/chip/sht4x"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

// i2cKeys are the keys of an I²C chip with one sensor.
var i2cKeys = []string{"bus", "address", "stuck_after"}

// drivers is every sensor driver, in one table.
var drivers = []Driver{
	{Name: "bme280", reports: "temperature Cel, humidity %, pressure hPa", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Bosch BME280 on I²C: temperature (Cel), humidity (%), pressure (hPa); a BMP280 found there reads without humidity",
		dev: i2cChip{addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)", dev: bme280Chip{bme280sim.BME280}}},
	{Name: "bmp280", reports: "temperature Cel, pressure hPa", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Bosch BMP280 on I²C: temperature (Cel), pressure (hPa)",
		dev: i2cChip{addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)", dev: bme280Chip{bme280sim.BMP280}}},
	{Name: "sht3x", reports: "temperature Cel, humidity %", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Sensirion SHT30/31/35 on I²C: temperature (Cel), humidity (%), CRC checked",
		dev: i2cChip{addrs: sht3x.Addresses, identify: sht3x.Identify, identifiedBy: "by its serial number, CRC checked", dev: sht3xChip{}}},
	{Name: "sht4x", reports: "temperature Cel, humidity %", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Sensirion SHT40/41/45 on I²C: temperature (Cel), humidity (%), CRC checked",
		dev: i2cChip{addrs: sht4x.Addresses, identify: sht4x.Identify, identifiedBy: "by its serial number, CRC checked", dev: sht4xChip{}}},
	{Name: "bh1750", reports: "illuminance lx", keys: i2cKeys, minInterval: 200 * time.Millisecond,
		Doc: "ROHM BH1750 on I²C: illuminance (lx)",
		dev: i2cChip{addrs: bh1750.Addresses, identify: bh1750.Identify, identifiedBy: "a guess: it has no id register, and its data register read 0 after a reset", dev: bh1750Chip{}}},
	{Name: "ads1115", keys: []string{"bus", "address", "stuck_after", "channel", "metric", "scale", "dry_volts", "wet_volts"},
		metrics: []string{sensors.MetricVoltage, sensors.MetricMoisture}, minInterval: 20 * time.Millisecond,
		Doc: "TI ADS1115 ADC on I²C, one channel: voltage (V, times scale) or soil moisture (%, from a capacitive probe's dry_volts and wet_volts)",
		dev: i2cChip{addrs: ads1115.Addresses, identify: ads1115.Identify, identifiedBy: "a guess: it has no id register, and its config and threshold registers hold their reset values", dev: ads1115Chip{}}},
	{Name: "ds18b20", keys: []string{"id", "w1_dir", "stuck_after"}, minInterval: time.Second, reports: "temperature Cel",
		Doc: "Maxim DS18B20 1-wire probe through the kernel's w1 files: temperature (Cel); id 28-xxxxxxxxxxxx (default: the only probe)",
		dev: ds18b20Probe{}},
	{Name: "gpio-input", keys: []string{"pin", "metric", "pull", "debounce", "invert"},
		metrics: []string{sensors.MetricState, sensors.MetricDoor, sensors.MetricMotion}, reports: "state, door or motion: 0 or 1",
		Doc: "digital input on a GPIO pin: a door contact (metric door: 0 closed, 1 open), a PIR (motion) or any switch (state); debounced, changes reported at once",
		dev: gpioInput{}},
	{Name: "pulse-counter", keys: []string{"pin", "pull", "debounce", "scale", "unit", "rate_per"},
		reports: "count (unit) and rate (unit per rate_per)",
		Doc:     "pulses on a GPIO pin (tipping-bucket rain gauge: scale 0.2794, unit mm, rate_per 1h; flow meter; anemometer): the count since start and the rate",
		dev:     pulseCounter{}},

	{Name: "sim", reports: "temperature Cel, humidity %, pressure hPa; door 1", dev: simSet{},
		Doc: "the default simulated set: climate (temperature, humidity, pressure) and door; the name, if any, prefixes theirs"},
	{Name: "sim-climate", reports: "temperature Cel, humidity %, pressure hPa", dev: simClimate(sim.NewClimateSensor),
		Doc: "simulated temperature, humidity and pressure in one sensor, like a BME280"},
	{Name: "sim-temperature", reports: "temperature Cel", dev: simClimate(sim.NewTemperatureSensor),
		Doc: "simulated air temperature (Cel) with a daily cycle"},
	{Name: "sim-humidity", reports: "humidity %", dev: simClimate(sim.NewHumiditySensor),
		Doc: "simulated relative humidity (%), moving against temperature"},
	{Name: "sim-pressure", reports: "pressure hPa", dev: simClimate(sim.NewPressureSensor),
		Doc: "simulated barometric pressure (hPa), drifting slowly"},
	{Name: "sim-door", reports: "door 1", dev: simDoor{},
		Doc: "simulated door contact (1: 0 closed, 1 open)"},
}

// What each driver of the table drives: the real driver on hardware, and
// the chip's or the pin's emulator for --sim and fallbacks.

func (i2cChip) kind() kind      { return kindI2C }
func (gpioInput) kind() kind    { return kindGPIO }
func (pulseCounter) kind() kind { return kindGPIO }
func (ds18b20Probe) kind() kind { return kind1Wire }
func (simSet) kind() kind       { return kindSim }
func (simClimate) kind() kind   { return kindSim }
func (simDoor) kind() kind      { return kindSim }

// bme280Chip is a BME280 or a BMP280 (model, for the emulator).
type bme280Chip struct{ model bme280sim.Model }

func (bme280Chip) open(b i2c.Bus, sp spec, _ sync.Locker) (sensors.Sensor, error) {
	return bme280.New(b, bme280.Options{Name: sp.name, Addr: sp.addr, StuckAfter: sp.stuckAfter})
}

func (c bme280Chip) emulate(_ spec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
	return bme280sim.NewClimate(c.model, w.climate, w.now)
}

type sht3xChip struct{}

func (sht3xChip) open(b i2c.Bus, sp spec, _ sync.Locker) (sensors.Sensor, error) {
	return sht3x.New(b, sht3x.Options{Name: sp.name, Addr: sp.addr, StuckAfter: sp.stuckAfter})
}

func (sht3xChip) emulate(_ spec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
	return sht3xsim.NewClimate(w.climate, w.now)
}

type sht4xChip struct{}

func (sht4xChip) open(b i2c.Bus, sp spec, _ sync.Locker) (sensors.Sensor, error) {
	return sht4x.New(b, sht4x.Options{Name: sp.name, Addr: sp.addr, StuckAfter: sp.stuckAfter})
}

func (sht4xChip) emulate(_ spec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
	return sht4xsim.NewClimate(w.climate, w.now)
}

type bh1750Chip struct{}

func (bh1750Chip) open(b i2c.Bus, sp spec, _ sync.Locker) (sensors.Sensor, error) {
	return bh1750.New(b, bh1750.Options{Name: sp.name, Addr: sp.addr, StuckAfter: sp.stuckAfter})
}

func (bh1750Chip) emulate(_ spec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
	return bh1750sim.NewLight(w.light, w.now)
}

// ads1115Chip is one channel of an ADS1115: several sensors may share the
// chip (and its lock, and its emulator).
type ads1115Chip struct{}

func (ads1115Chip) open(b i2c.Bus, sp spec, lock sync.Locker) (sensors.Sensor, error) {
	o := ads1115.Options{Name: sp.name, Addr: sp.addr, StuckAfter: sp.stuckAfter, Channel: sp.channel, Lock: lock}
	switch sp.metric {
	case sensors.MetricMoisture:
		o.Metric, o.Unit, o.Clamp = sensors.MetricMoisture, sensors.UnitPercent, true
		o.Calibration = [2]ads1115.Point{{Volts: sp.dry, Value: 0}, {Volts: sp.wet, Value: 100}}
	default:
		if sp.scale != 1 {
			o.Metric, o.Unit = sensors.MetricVoltage, sensors.UnitVolt
			o.Calibration = [2]ads1115.Point{{Volts: 0, Value: 0}, {Volts: 1, Value: sp.scale}}
		}
	}
	return ads1115.New(b, o)
}

func (ads1115Chip) emulate(sp spec, w *simWorld, on i2csim.Chip) i2csim.Chip {
	c, _ := on.(*ads1115sim.Chip)
	if c == nil {
		c = ads1115sim.New(ads1115sim.Options{Now: w.now})
	}
	var in ads1115sim.Input
	if sp.metric == sensors.MetricMoisture {
		in = ads1115sim.SoilProbe(w.soil())
	} else {
		in = w.supply(sp.scale) // a supply of about 12 V through the divider
	}
	ain := 0
	if sp.channel <= ads1115.AIN3 {
		ain = int(sp.channel)
	} else {
		ain = []int{0, 0, 1, 2}[sp.channel-ads1115.AIN0AIN1] // the positive input of the pair
	}
	c.SetInput(ain, w.noisy(in))
	return c
}

type ds18b20Probe struct{}

func (ds18b20Probe) openW1(sp spec) (sensors.Sensor, error) {
	return ds18b20.New(ds18b20.Options{Name: sp.name, ID: sp.id, Root: sp.w1Dir, StuckAfter: sp.stuckAfter})
}

// emulateW1 puts a probe in the soil: the air's daily cycle, damped, a few
// degrees cooler.
func (ds18b20Probe) emulateW1(sp spec, w *simWorld, tree *w1sim.Tree) error {
	air := w1sim.ClimateTemperature(w.climate, 0)
	return tree.Add(sp.id, func(t time.Time) float64 { return 0.4*air(t) + 8 }, w1sim.AllFiles)
}

// emulatorStep is how often an emulated pin asks its model for the level:
// a door, a PIR or a rain gauge changes far less often, and a finer step
// costs CPU in --sim for nothing.
const emulatorStep = 50 * time.Millisecond

type gpioInput struct{}

func (gpioInput) openPin(p gpio.PinIO, sp spec) (sensors.Sensor, error) {
	return gpioin.New(p, gpioin.Options{Name: sp.name, Metric: sp.metric, Pull: sp.gpioPull(), Invert: sp.invert, Debounce: sp.debounce})
}

func (gpioInput) emulatePin(sp spec, w *simWorld) (*gpiosim.Pin, func(context.Context)) {
	if sp.metric == sensors.MetricMotion { // an HC-SR501 drives its output
		p := gpiosim.New(gpiosim.Options{Name: sp.pin, Wiring: gpiosim.PushPull, Seed: w.next()})
		return p, func(ctx context.Context) {
			p.FollowLevel(ctx, gpiosim.MotionLevel(w.motion()), gpiosim.FollowOptions{Step: emulatorStep})
		}
	}
	// A reed switch to ground, closed by the door's magnet, bouncing.
	p := gpiosim.New(gpiosim.Options{Name: sp.pin, Wiring: gpiosim.ContactToGround, Seed: w.next()})
	door := w.door()
	return p, func(ctx context.Context) {
		p.FollowLevel(ctx, gpiosim.DoorLevel(door), gpiosim.FollowOptions{Step: emulatorStep, Pulse: gpiosim.PulseOptions{Bounces: 3, BounceGap: 500 * time.Microsecond}})
	}
}

type pulseCounter struct{}

func (pulseCounter) openPin(p gpio.PinIO, sp spec) (sensors.Sensor, error) {
	return pulse.New(p, pulse.Options{Name: sp.name, Pull: sp.gpioPull(), MinSpacing: sp.debounce, Scale: sp.scale, Unit: sp.unit, RatePer: sp.ratePer})
}

// emulatePin is a tipping-bucket rain gauge: a reed switch to ground
// closing for about 100 ms at each tip, bouncing.
func (pulseCounter) emulatePin(sp spec, w *simWorld) (*gpiosim.Pin, func(context.Context)) {
	p := gpiosim.New(gpiosim.Options{Name: sp.pin, Wiring: gpiosim.ContactToGround, Level: gpio.High, Seed: w.next()})
	rain := w.rain()
	return p, func(ctx context.Context) {
		p.FollowCount(ctx, gpiosim.RainCount(rain), gpiosim.FollowOptions{Step: emulatorStep, Pulse: gpiosim.PulseOptions{Width: 100 * time.Millisecond, Bounces: 2, BounceGap: 300 * time.Microsecond}})
	}
}

// simSet is the default simulated set: climate and door, the name (if
// any) prefixing theirs.
type simSet struct{}

func (simSet) simulate(name string, w *simWorld) []sensors.Sensor {
	prefix := name
	if prefix != "" {
		prefix += "-"
	}
	return []sensors.Sensor{
		sim.NewClimateSensor(prefix+"climate", w.climate, w.now),
		sim.NewDoorSensor(prefix+"door", w.door(), w.now),
	}
}

// simClimate is a simulated sensor of the world's climate.
type simClimate func(name string, c *sim.Climate, now func() time.Time) *sim.ClimateSensor

func (f simClimate) simulate(name string, w *simWorld) []sensors.Sensor {
	return []sensors.Sensor{f(name, w.climate, w.now)}
}

// simDoor is a simulated door contact.
type simDoor struct{}

func (simDoor) simulate(name string, w *simWorld) []sensors.Sensor {
	return []sensors.Sensor{sim.NewDoorSensor(name, w.door(), w.now)}
}
