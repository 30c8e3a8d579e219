package main

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
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

// hwKind is what a driver's sensor is attached to.
type hwKind int

const (
	hwNone  hwKind = iota // a simulation: no hardware at all
	hwI2C                 // a chip on an I²C bus, opened with i2creg.Open(bus)
	hwGPIO                // a GPIO input pin, found with gpioreg.ByName(pin)
	hw1Wire               // a 1-wire slave the kernel's w1 driver lists in a directory
)

// driver is one kind of sensor the configuration can name: how to open it
// on real hardware, how to emulate it for --sim and for fallback, and how
// edge scan recognises it.
//
// A hardware driver is opened on a resource main owns (an I²C bus, a pin,
// the w1 directory) and borrows it; emulating it attaches a register-level
// emulator where the same open finds it, so --sim runs the real driver.
type driver struct {
	name string
	doc  string
	hw   hwKind
	// keys are the configuration keys it takes besides name, driver,
	// interval and (hardware only) fallback.
	keys []string
	// metrics are the values of its metric key, the default first.
	metrics []string
	// reports is what its readings are.
	reports string
	// minInterval is one measurement's duration: a shorter interval would
	// cut every read short.
	minInterval time.Duration

	// hwI2C: the chip's addresses (the default first), opening it on a
	// bus, emulating it, and identifying it for scan.
	addrs        []uint16
	openI2C      func(b i2c.Bus, s sensorSpec, h *hardware) (sensors.Sensor, error)
	emulate      func(s sensorSpec, w *simWorld, on i2csim.Chip) i2csim.Chip // on: the chip already emulated at the address (another ADS1115 channel), or nil
	identify     func(b i2c.Bus, addr uint16) (string, error)
	identifiedBy string // how identify tells the chip, for scan's output

	// hwGPIO: opening it on a pin, and emulating the pin (the returned
	// function drives it from a model until its context ends).
	openPin    func(p gpio.PinIO, s sensorSpec) (sensors.Sensor, error)
	emulatePin func(s sensorSpec, w *simWorld) (*gpiosim.Pin, func(context.Context))

	// hw1Wire: opening it in the kernel's w1 directory, and emulating the
	// probe in an emulated tree.
	openW1    func(s sensorSpec) (sensors.Sensor, error)
	emulateW1 func(s sensorSpec, w *simWorld, tree *w1sim.Tree) error

	// hwNone: set drivers make several sensors, their config name a prefix
	// (optional); others make one sensor with the config name.
	set     bool
	simOpen func(name string, w *simWorld) []sensors.Sensor
}

// drivers is every sensor driver, in one table.
var drivers = []driver{
	{name: "bme280", reports: "temperature Cel, humidity %RH, pressure hPa", hw: hwI2C, keys: []string{"bus", "address", "stuck_after"}, minInterval: 20 * time.Millisecond,
		doc:   "Bosch BME280 on I²C: temperature (Cel), humidity (%RH), pressure (hPa); a BMP280 found there reads without humidity",
		addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)",
		openI2C: func(b i2c.Bus, s sensorSpec, _ *hardware) (sensors.Sensor, error) {
			return bme280.New(b, bme280.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter})
		},
		emulate: func(s sensorSpec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
			return bme280sim.NewClimate(bme280sim.BME280, w.climate, w.now)
		}},
	{name: "bmp280", reports: "temperature Cel, pressure hPa", hw: hwI2C, keys: []string{"bus", "address", "stuck_after"}, minInterval: 20 * time.Millisecond,
		doc:   "Bosch BMP280 on I²C: temperature (Cel), pressure (hPa)",
		addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)",
		openI2C: func(b i2c.Bus, s sensorSpec, _ *hardware) (sensors.Sensor, error) {
			return bme280.New(b, bme280.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter})
		},
		emulate: func(s sensorSpec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
			return bme280sim.NewClimate(bme280sim.BMP280, w.climate, w.now)
		}},
	{name: "sht3x", reports: "temperature Cel, humidity %RH", hw: hwI2C, keys: []string{"bus", "address", "stuck_after"}, minInterval: 20 * time.Millisecond,
		doc:   "Sensirion SHT30/31/35 on I²C: temperature (Cel), humidity (%RH), CRC checked",
		addrs: sht3x.Addresses, identify: sht3x.Identify, identifiedBy: "by its serial number, CRC checked",
		openI2C: func(b i2c.Bus, s sensorSpec, _ *hardware) (sensors.Sensor, error) {
			return sht3x.New(b, sht3x.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter})
		},
		emulate: func(s sensorSpec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
			return sht3xsim.NewClimate(w.climate, w.now)
		}},
	{name: "sht4x", reports: "temperature Cel, humidity %RH", hw: hwI2C, keys: []string{"bus", "address", "stuck_after"}, minInterval: 20 * time.Millisecond,
		doc:   "Sensirion SHT40/41/45 on I²C: temperature (Cel), humidity (%RH), CRC checked",
		addrs: sht4x.Addresses, identify: sht4x.Identify, identifiedBy: "by its serial number, CRC checked",
		openI2C: func(b i2c.Bus, s sensorSpec, _ *hardware) (sensors.Sensor, error) {
			return sht4x.New(b, sht4x.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter})
		},
		emulate: func(s sensorSpec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
			return sht4xsim.NewClimate(w.climate, w.now)
		}},
	{name: "bh1750", reports: "illuminance lx", hw: hwI2C, keys: []string{"bus", "address", "stuck_after"}, minInterval: 200 * time.Millisecond,
		doc:   "ROHM BH1750 on I²C: illuminance (lx)",
		addrs: bh1750.Addresses, identify: bh1750.Identify, identifiedBy: "a guess: it has no id register, and its data register read 0 after a reset",
		openI2C: func(b i2c.Bus, s sensorSpec, _ *hardware) (sensors.Sensor, error) {
			return bh1750.New(b, bh1750.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter})
		},
		emulate: func(s sensorSpec, w *simWorld, _ i2csim.Chip) i2csim.Chip {
			return bh1750sim.NewLight(w.light, w.now)
		}},
	{name: "ads1115", hw: hwI2C, keys: []string{"bus", "address", "stuck_after", "channel", "metric", "scale", "dry_volts", "wet_volts"},
		metrics: []string{sensors.MetricVoltage, sensors.MetricMoisture}, minInterval: 20 * time.Millisecond,
		doc:   "TI ADS1115 ADC on I²C, one channel: voltage (V, times scale) or soil moisture (%, from a capacitive probe's dry_volts and wet_volts)",
		addrs: ads1115.Addresses, identify: ads1115.Identify, identifiedBy: "a guess: it has no id register, and its config and threshold registers hold their reset values",
		openI2C: func(b i2c.Bus, s sensorSpec, h *hardware) (sensors.Sensor, error) {
			o := ads1115.Options{Name: s.name, Addr: s.addr, StuckAfter: s.stuckAfter, Channel: s.channel, Lock: h.chipLock(s.bus, s.addr)}
			switch s.metric {
			case sensors.MetricMoisture:
				o.Metric, o.Unit, o.Clamp = sensors.MetricMoisture, sensors.UnitPercent, true
				o.Calibration = [2]ads1115.Point{{Volts: s.dry, Value: 0}, {Volts: s.wet, Value: 100}}
			default:
				if s.scale != 1 {
					o.Metric, o.Unit = sensors.MetricVoltage, sensors.UnitVolt
					o.Calibration = [2]ads1115.Point{{Volts: 0, Value: 0}, {Volts: 1, Value: s.scale}}
				}
			}
			return ads1115.New(b, o)
		},
		emulate: func(s sensorSpec, w *simWorld, on i2csim.Chip) i2csim.Chip {
			c, _ := on.(*ads1115sim.Chip)
			if c == nil {
				c = ads1115sim.New(ads1115sim.Options{Now: w.now})
			}
			var in ads1115sim.Input
			if s.metric == sensors.MetricMoisture {
				in = ads1115sim.SoilProbe(w.soil())
			} else {
				in = w.supply(s.scale) // a supply of about 12 V through the divider
			}
			ain := 0
			if s.channel <= ads1115.AIN3 {
				ain = int(s.channel)
			} else {
				ain = []int{0, 0, 1, 2}[s.channel-ads1115.AIN0AIN1] // the positive input of the pair
			}
			c.SetInput(ain, w.noisy(in))
			return c
		}},
	{name: "ds18b20", hw: hw1Wire, keys: []string{"id", "w1_dir", "stuck_after"}, minInterval: time.Second,
		reports: "temperature Cel",
		doc:     "Maxim DS18B20 1-wire probe through the kernel's w1 files: temperature (Cel); id 28-xxxxxxxxxxxx (default: the only probe)",
		openW1: func(s sensorSpec) (sensors.Sensor, error) {
			return ds18b20.New(ds18b20.Options{Name: s.name, ID: s.id, Root: s.w1Dir, StuckAfter: s.stuckAfter})
		},
		emulateW1: func(s sensorSpec, w *simWorld, tree *w1sim.Tree) error {
			// A probe in the soil: the air's daily cycle, damped, a few
			// degrees cooler.
			air := w1sim.ClimateTemperature(w.climate, 0)
			return tree.Add(s.id, func(t time.Time) float64 { return 0.4*air(t) + 8 }, w1sim.AllFiles)
		}},
	{name: "gpio-input", hw: hwGPIO, keys: []string{"pin", "metric", "pull", "debounce", "invert"},
		metrics: []string{sensors.MetricState, sensors.MetricDoor, sensors.MetricMotion}, reports: "state, door or motion: 0 or 1",
		doc: "digital input on a GPIO pin: a door contact (metric door: 0 closed, 1 open), a PIR (motion) or any switch (state); debounced, changes reported at once",
		openPin: func(p gpio.PinIO, s sensorSpec) (sensors.Sensor, error) {
			return gpioin.New(p, gpioin.Options{Name: s.name, Metric: s.metric, Pull: s.gpioPull(), Invert: s.invert, Debounce: s.debounce})
		},
		emulatePin: func(s sensorSpec, w *simWorld) (*gpiosim.Pin, func(context.Context)) {
			if s.metric == sensors.MetricMotion { // an HC-SR501 drives its output
				p := gpiosim.New(gpiosim.Options{Name: s.pin, Wiring: gpiosim.PushPull, Seed: w.next()})
				return p, func(ctx context.Context) {
					p.FollowLevel(ctx, gpiosim.MotionLevel(w.motion()), gpiosim.FollowOptions{Step: emulatorStep})
				}
			}
			// A reed switch to ground, closed by the door's magnet, bouncing.
			p := gpiosim.New(gpiosim.Options{Name: s.pin, Wiring: gpiosim.ContactToGround, Seed: w.next()})
			door := w.door()
			return p, func(ctx context.Context) {
				p.FollowLevel(ctx, gpiosim.DoorLevel(door), gpiosim.FollowOptions{Step: emulatorStep, Pulse: gpiosim.PulseOptions{Bounces: 3, BounceGap: 500 * time.Microsecond}})
			}
		}},
	{name: "pulse-counter", hw: hwGPIO, keys: []string{"pin", "pull", "debounce", "scale", "unit", "rate_per"},
		reports: "count (unit) and rate (unit per rate_per)",
		doc:     "pulses on a GPIO pin (tipping-bucket rain gauge: scale 0.2794, unit mm, rate_per 1h; flow meter; anemometer): the count since start and the rate",
		openPin: func(p gpio.PinIO, s sensorSpec) (sensors.Sensor, error) {
			o := pulse.Options{Name: s.name, Pull: s.gpioPull(), MinSpacing: s.debounce, Scale: s.scale, Unit: s.unit, RatePer: s.ratePer}
			return pulse.New(p, o)
		},
		emulatePin: func(s sensorSpec, w *simWorld) (*gpiosim.Pin, func(context.Context)) {
			// A tipping-bucket rain gauge: a reed switch to ground closing
			// for about 100 ms at each tip, bouncing.
			p := gpiosim.New(gpiosim.Options{Name: s.pin, Wiring: gpiosim.ContactToGround, Level: gpio.High, Seed: w.next()})
			rain := w.rain()
			return p, func(ctx context.Context) {
				p.FollowCount(ctx, gpiosim.RainCount(rain), gpiosim.FollowOptions{Step: emulatorStep, Pulse: gpiosim.PulseOptions{Width: 100 * time.Millisecond, Bounces: 2, BounceGap: 300 * time.Microsecond}})
			}
		}},

	{name: "sim", reports: "temperature Cel, humidity %RH, pressure hPa; door 1", set: true, doc: "the default simulated set: climate (temperature, humidity, pressure) and door; the name, if any, prefixes theirs",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			prefix := name
			if prefix != "" {
				prefix += "-"
			}
			return []sensors.Sensor{
				sim.NewClimateSensor(prefix+"climate", w.climate, w.now),
				sim.NewDoorSensor(prefix+"door", w.door(), w.now),
			}
		}},
	{name: "sim-climate", reports: "temperature Cel, humidity %RH, pressure hPa", doc: "simulated temperature, humidity and pressure in one sensor, like a BME280",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewClimateSensor(name, w.climate, w.now)}
		}},
	{name: "sim-temperature", reports: "temperature Cel", doc: "simulated air temperature (Cel) with a daily cycle",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewTemperatureSensor(name, w.climate, w.now)}
		}},
	{name: "sim-humidity", reports: "humidity %RH", doc: "simulated relative humidity (%RH), moving against temperature",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewHumiditySensor(name, w.climate, w.now)}
		}},
	{name: "sim-pressure", reports: "pressure hPa", doc: "simulated barometric pressure (hPa), drifting slowly",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewPressureSensor(name, w.climate, w.now)}
		}},
	{name: "sim-door", reports: "door 1", doc: "simulated door contact (1: 0 closed, 1 open)",
		simOpen: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewDoorSensor(name, w.door(), w.now)}
		}},
}

// emulatorStep is how often an emulated pin asks its model for the level:
// a door, a PIR or a rain gauge changes far less often, and a finer step
// costs CPU in --sim for nothing.
const emulatorStep = 50 * time.Millisecond

// names returns the names of the sensors the driver makes for a config name.
func (d driver) names(name string) []string {
	if !d.set {
		return []string{name}
	}
	var out []string
	for _, s := range d.simOpen(name, newSimWorld("x", time.Now)) {
		out = append(out, s.Name())
	}
	return out
}

func lookupDriver(name string) (driver, bool) {
	for _, d := range drivers {
		if d.name == name {
			return d, true
		}
	}
	return driver{}, false
}

func driverNames() string {
	var out []string
	for _, d := range drivers {
		out = append(out, d.name)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// simWorld is what the simulated sensors of one device share: one climate
// (so that its thermometers and hygrometers agree), one sky, and a seed
// from the device id for the models each sensor has of its own (a soil
// bed, a door).
type simWorld struct {
	seed    uint64
	now     func() time.Time
	climate *sim.Climate
	light   *sim.Light

	mu sync.Mutex
	n  uint64 // models made so far, to seed the next
}

func newSimWorld(device string, now func() time.Time) *simWorld {
	h := fnv.New64a()
	h.Write([]byte(device))
	seed := h.Sum64()
	return &simWorld{seed: seed, now: now,
		climate: sim.NewClimate(sim.ClimateOptions{Seed: seed}),
		light:   sim.NewLight(sim.LightOptions{Seed: seed + 1})}
}

// next returns the seed of the next model.
func (w *simWorld) next() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return w.seed + 1000 + w.n
}

func (w *simWorld) door() *sim.Door     { return sim.NewDoor(sim.DoorOptions{Seed: w.next()}) }
func (w *simWorld) soil() *sim.Soil     { return sim.NewSoil(sim.SoilOptions{Seed: w.next()}) }
func (w *simWorld) rain() *sim.Rain     { return sim.NewRain(sim.RainOptions{Seed: w.next()}) }
func (w *simWorld) motion() *sim.Motion { return sim.NewMotion(sim.MotionOptions{Seed: w.next()}) }

// supply is the input of an ADC channel behind a divider of ratio scale
// measuring a 12 V lead-acid battery that charges by day and sags by night;
// with scale 1, half a 3.3 V supply.
func (w *simWorld) supply(scale float64) ads1115sim.Input {
	if scale <= 1 {
		return func(time.Time) float64 { return 1.65 }
	}
	return func(t time.Time) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		v := 12.4 + 1.2*math.Max(0, math.Sin((h-6)/12*math.Pi)) // charging by day
		return v / scale
	}
}

// noisy adds an ADC input's noise (a few hundred µV, as on a breadboard)
// to in, so that a steady input does not read as a stuck chip.
func (w *simWorld) noisy(in ads1115sim.Input) ads1115sim.Input {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(w.next(), 0))
	return func(t time.Time) float64 {
		mu.Lock()
		n := rng.NormFloat64() * 300e-6
		mu.Unlock()
		return in(t) + n
	}
}
