package hardware

import (
	"context"
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
	"github.com/tributary-iot/tributary/sensors/sht3x"
	"github.com/tributary-iot/tributary/sensors/sht4x"
	"github.com/tributary-iot/tributary/sim"
	bme280sim "github.com/tributary-iot/tributary/sim/chip/bme280"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

// A Driver is one kind of sensor a configuration can name (its driver
// key): what it reports and takes, and what it drives.
type Driver struct {
	Name string
	Doc  string // one line, for --help

	reports     string        // what its readings are, for edge check
	keys        []string      // the keys it takes besides name, driver, interval and (hardware only) fallback
	metrics     []string      // the values of its metric key, the default first
	minInterval time.Duration // one measurement: a shorter interval would cut every read short

	// dev is what it drives: an i2cChip, a pinDevice, a w1Device or a
	// simulation (see devices.go).
	dev any
}

// The keys of each kind of hardware sensor.
var i2cKeys = []string{"bus", "address", "stuck_after"}

// drivers is every sensor driver, in one table.
var drivers = []Driver{
	{Name: "bme280", reports: "temperature Cel, humidity %RH, pressure hPa", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Bosch BME280 on I²C: temperature (Cel), humidity (%RH), pressure (hPa); a BMP280 found there reads without humidity",
		dev: i2cChip{addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)", dev: bme280Chip{bme280sim.BME280}}},
	{Name: "bmp280", reports: "temperature Cel, pressure hPa", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Bosch BMP280 on I²C: temperature (Cel), pressure (hPa)",
		dev: i2cChip{addrs: bme280.Addresses, identify: bme280.Identify, identifiedBy: "by its chip id (register 0xD0)", dev: bme280Chip{bme280sim.BMP280}}},
	{Name: "sht3x", reports: "temperature Cel, humidity %RH", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Sensirion SHT30/31/35 on I²C: temperature (Cel), humidity (%RH), CRC checked",
		dev: i2cChip{addrs: sht3x.Addresses, identify: sht3x.Identify, identifiedBy: "by its serial number, CRC checked", dev: sht3xChip{}}},
	{Name: "sht4x", reports: "temperature Cel, humidity %RH", keys: i2cKeys, minInterval: 20 * time.Millisecond,
		Doc: "Sensirion SHT40/41/45 on I²C: temperature (Cel), humidity (%RH), CRC checked",
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

	{Name: "sim", reports: "temperature Cel, humidity %RH, pressure hPa; door 1", dev: simSet{},
		Doc: "the default simulated set: climate (temperature, humidity, pressure) and door; the name, if any, prefixes theirs"},
	{Name: "sim-climate", reports: "temperature Cel, humidity %RH, pressure hPa", dev: simClimate(sim.NewClimateSensor),
		Doc: "simulated temperature, humidity and pressure in one sensor, like a BME280"},
	{Name: "sim-temperature", reports: "temperature Cel", dev: simClimate(sim.NewTemperatureSensor),
		Doc: "simulated air temperature (Cel) with a daily cycle"},
	{Name: "sim-humidity", reports: "humidity %RH", dev: simClimate(sim.NewHumiditySensor),
		Doc: "simulated relative humidity (%RH), moving against temperature"},
	{Name: "sim-pressure", reports: "pressure hPa", dev: simClimate(sim.NewPressureSensor),
		Doc: "simulated barometric pressure (hPa), drifting slowly"},
	{Name: "sim-door", reports: "door 1", dev: simDoor{},
		Doc: "simulated door contact (1: 0 closed, 1 open)"},
}

// Drivers returns every sensor driver, in the order of the table.
func Drivers() []Driver { return append([]Driver(nil), drivers...) }

// kind is what a driver's sensor is attached to.
type kind int

const (
	kindSim   kind = iota // a simulation: no hardware at all
	kindI2C               // a chip on an I²C bus, opened with i2creg.Open(bus)
	kindGPIO              // a GPIO input pin, found with gpioreg.ByName(pin)
	kind1Wire             // a 1-wire slave the kernel's w1 driver lists in a directory
)

func (d Driver) kind() kind {
	switch d.dev.(type) {
	case i2cChip:
		return kindI2C
	case pinDevice:
		return kindGPIO
	case w1Device:
		return kind1Wire
	}
	return kindSim
}

// i2c is the driver's chip, or the zero i2cChip for another kind.
func (d Driver) i2c() i2cChip {
	c, _ := d.dev.(i2cChip)
	return c
}

// set reports whether the driver makes several sensors, its configured
// name (optional) a prefix of theirs.
func (d Driver) set() bool {
	_, ok := d.dev.(simSet)
	return ok
}

// names returns the names of the sensors the driver makes for a config name.
func (d Driver) names(name string) []string {
	s, ok := d.dev.(simulation)
	if !ok || !d.set() {
		return []string{name}
	}
	var out []string
	for _, sn := range s.simulate(name, newSimWorld("x", time.Now)) {
		out = append(out, sn.Name())
	}
	return out
}

func lookupDriver(name string) (Driver, bool) {
	for _, d := range drivers {
		if d.Name == name {
			return d, true
		}
	}
	return Driver{}, false
}

func driverNames() string {
	var out []string
	for _, d := range drivers {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// The kinds of driver, by what they drive.
type (
	// i2cChip is a chip on an I²C bus.
	i2cChip struct {
		addrs        []uint16                                               // the chip's addresses, the default first
		identify     func(b i2c.Bus, addr uint16) (model string, err error) // tells the chip apart, for scan
		identifiedBy string                                                 // how identify tells it, for scan's output
		dev          i2cDevice
	}
	// An i2cDevice opens a chip's driver on a bus it borrows, and emulates
	// the chip. lock is shared by the sensors on one chip (the ADS1115's
	// channels); on is the emulator already at the chip's address, or nil.
	i2cDevice interface {
		open(b i2c.Bus, sp spec, lock sync.Locker) (sensors.Sensor, error)
		emulate(sp spec, w *simWorld, on i2csim.Chip) i2csim.Chip
	}
	// A pinDevice opens a sensor on a GPIO input pin, and emulates the
	// pin: drive moves it from a model until its context ends.
	pinDevice interface {
		openPin(p gpio.PinIO, sp spec) (sensors.Sensor, error)
		emulatePin(sp spec, w *simWorld) (p *gpiosim.Pin, drive func(context.Context))
	}
	// A w1Device opens a 1-wire probe in the kernel's w1 directory, and
	// emulates it in an emulated tree.
	w1Device interface {
		openW1(sp spec) (sensors.Sensor, error)
		emulateW1(sp spec, w *simWorld, tree *w1sim.Tree) error
	}
	// A simulation makes sensors from the world's models alone.
	simulation interface {
		simulate(name string, w *simWorld) []sensors.Sensor
	}
)
