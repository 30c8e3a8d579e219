package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/actuators/gpioout"
	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// Device is one simulated device of a fleet: its models, its sensors and
// its emulated actuators, which no controller drives unless
// Options.OnDevice puts one on them.
type Device struct {
	ID      string
	Climate *sim.Climate
	Soil    *sim.Soil // nil: the device has no soil bed
	Sensors []agent.SensorConfig
	// Actuators are a heater relay and a fan, and a valve where the device
	// has soil: the real drivers over emulated pins wired to the models,
	// each off at start.
	Actuators []Actuator
}

// Actuator is an emulated actuator of a device.
type Actuator struct {
	Output      actuators.Output
	Description command.Actuator // as the device would announce it
	Pin         *gpiosim.Pin     // its emulated pin, whose levels tests read
}

// Extra is what Options.OnDevice adds to a device.
type Extra struct {
	// Sensors are added to the agent's (a controller's state readings).
	Sensors []agent.SensorConfig
	// Run, if set, runs beside the agent until ctx ends (a controller's
	// Run); its error, other than ctx's, is Run's.
	Run func(ctx context.Context) error
}

// NewDevice builds device i (0-based) of a fleet with opt, as Run does:
// its own climate, one of a few sensor layouts drawn from the seed, and
// its actuators.
func NewDevice(opt Options, i int) (*Device, error) {
	ids := DeviceIDs(opt)
	if i < 0 || i >= len(ids) {
		return nil, fmt.Errorf("fleet: no device %d of %d", i, len(ids))
	}
	interval := opt.Interval
	if interval <= 0 {
		interval = time.Second
	}
	seed := uint64(opt.Seed)*0x9e3779b97f4a7c15 + uint64(i)
	rng := rand.New(rand.NewPCG(seed, 0xf1ee7))
	mean := 14 + 12*rng.Float64()
	d := &Device{ID: ids[i], Climate: sim.NewClimate(sim.ClimateOptions{
		Seed:            seed,
		MeanTemperature: mean,
		DailySwing:      2 + 5*rng.Float64(),
		WarmestHour:     13 + 4*rng.Float64(),
		DewPoint:        mean - 8 - 6*rng.Float64(),
		Pressure:        1000 + 25*rng.Float64(),
	})}
	door := func() sensors.Sensor {
		return sim.NewDoorSensor("door", sim.NewDoor(sim.DoorOptions{
			Seed:       seed,
			MeanClosed: time.Duration(1+rng.IntN(10)) * time.Minute,
			MeanOpen:   time.Duration(5+rng.IntN(40)) * time.Second,
		}), nil)
	}
	every := func(s sensors.Sensor) agent.SensorConfig { return agent.SensorConfig{Sensor: s} }
	switch i % 3 {
	case 0: // a BME280-like climate sensor and a door contact
		d.Sensors = []agent.SensorConfig{every(sim.NewClimateSensor("climate", d.Climate, nil)), every(door())}
	case 1: // separate thermometer, hygrometer and a slow barometer, and a door
		d.Sensors = []agent.SensorConfig{
			every(sim.NewTemperatureSensor("thermo", d.Climate, nil)),
			every(sim.NewHumiditySensor("hygro", d.Climate, nil)),
			{Sensor: sim.NewPressureSensor("baro", d.Climate, nil), Interval: 5 * interval},
			every(door()),
		}
	default: // climate and a soil bed, read slowly
		d.Soil = sim.NewSoil(sim.SoilOptions{Seed: seed})
		d.Sensors = []agent.SensorConfig{
			every(sim.NewClimateSensor("climate", d.Climate, nil)),
			{Sensor: sim.NewSoilSensor("soil", d.Soil, nil), Interval: 5 * interval},
		}
	}
	if err := d.addActuators(); err != nil {
		return nil, fmt.Errorf("fleet: device %s: %w", d.ID, err)
	}
	return d, nil
}

// addActuators opens the device's actuators over emulated pins, each
// driving its model: an active-low heater relay, a 25 kHz fan, and an
// active-low valve relay where there is soil.
func (d *Device) addActuators() error {
	pin := func(name string, hook func(gpiosim.Change)) *gpiosim.Pin {
		return gpiosim.New(gpiosim.Options{Name: "SIM_" + d.ID + "_" + name, OnOutput: hook})
	}
	hp := pin("GPIO23", gpiosim.Heater(d.Climate, true))
	heater, err := gpioout.New(hp, gpioout.Options{Name: "heater", ActiveLow: true})
	if err != nil {
		return err
	}
	fp := pin("GPIO18", gpiosim.Fan(d.Climate, false))
	fan, err := pwm.New(fp, pwm.Options{Name: "fan"})
	if err != nil {
		return err
	}
	d.Actuators = []Actuator{
		{Output: heater, Pin: hp, Description: command.Actuator{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off", Label: "Heater", Interlock: []string{"fan"}}},
		{Output: fan, Pin: fp, Description: command.Actuator{Name: "fan", Kind: command.KindLevel, Max: 100, Safe: "0", Label: "Fan", Interlock: []string{"heater"}}},
	}
	if d.Soil != nil {
		soil := d.Soil
		vp := pin("GPIO24", gpiosim.Valve(func() []*sim.Soil { return []*sim.Soil{soil} }, true))
		valve, err := gpioout.New(vp, gpioout.Options{Name: "valve", ActiveLow: true})
		if err != nil {
			return err
		}
		d.Actuators = append(d.Actuators, Actuator{Output: valve, Pin: vp,
			Description: command.Actuator{Name: "valve", Kind: command.KindSwitch, Max: 1, Safe: "off", Label: "Irrigation valve"}})
	}
	return nil
}
