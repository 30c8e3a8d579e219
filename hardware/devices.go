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

// What each driver of the table drives: the real driver on hardware, and
// the chip's or the pin's emulator for --sim and fallbacks.

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
