package main

import (
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sim"
)

// simWorld is what the simulated sensors of one device share: one climate
// (so that its thermometer and hygrometer agree) and a seed.
type simWorld struct {
	seed    uint64
	now     func() time.Time
	climate *sim.Climate
	doors   uint64
}

func newSimWorld(device string, now func() time.Time) *simWorld {
	h := fnv.New64a()
	h.Write([]byte(device))
	seed := h.Sum64()
	return &simWorld{seed: seed, now: now, climate: sim.NewClimate(sim.ClimateOptions{Seed: seed})}
}

func (w *simWorld) door() *sim.Door {
	w.doors++
	return sim.NewDoor(sim.DoorOptions{Seed: w.seed + w.doors})
}

// driver is one kind of sensor the configuration can name.
type driver struct {
	name string
	doc  string
	// set drivers make several sensors, their config name a prefix
	// (optional); others make one sensor with the config name.
	set  bool
	open func(name string, w *simWorld) []sensors.Sensor
}

// names returns the names of the sensors the driver makes for a config name.
func (d driver) names(name string) []string {
	if !d.set {
		return []string{name}
	}
	var out []string
	for _, s := range d.open(name, newSimWorld("x", time.Now)) {
		out = append(out, s.Name())
	}
	return out
}

// drivers is every sensor driver, in one table. Hardware drivers (sensors/
// sub-packages named after chips) join it as they are written.
var drivers = []driver{
	{name: "sim", set: true, doc: "the default simulated set: climate (temperature, humidity, pressure) and door; the name, if any, prefixes theirs",
		open: func(name string, w *simWorld) []sensors.Sensor {
			prefix := name
			if prefix != "" {
				prefix += "-"
			}
			return []sensors.Sensor{
				sim.NewClimateSensor(prefix+"climate", w.climate, w.now),
				sim.NewDoorSensor(prefix+"door", w.door(), w.now),
			}
		}},
	{name: "sim-climate", doc: "simulated temperature, humidity and pressure in one sensor, like a BME280",
		open: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewClimateSensor(name, w.climate, w.now)}
		}},
	{name: "sim-temperature", doc: "simulated air temperature (Cel) with a daily cycle",
		open: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewTemperatureSensor(name, w.climate, w.now)}
		}},
	{name: "sim-humidity", doc: "simulated relative humidity (%RH), moving against temperature",
		open: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewHumiditySensor(name, w.climate, w.now)}
		}},
	{name: "sim-pressure", doc: "simulated barometric pressure (hPa), drifting slowly",
		open: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewPressureSensor(name, w.climate, w.now)}
		}},
	{name: "sim-door", doc: "simulated door contact (1: 0 closed, 1 open)",
		open: func(name string, w *simWorld) []sensors.Sensor {
			return []sensors.Sensor{sim.NewDoorSensor(name, w.door(), w.now)}
		}},
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
