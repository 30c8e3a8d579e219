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
	// simulation (the types beside the table, in drivers.go).
	dev device
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

// A device is what a driver drives.
type device interface{ kind() kind }

func (d Driver) kind() kind {
	if d.dev == nil {
		return kindSim // the zero Driver: no driver
	}
	return d.dev.kind()
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
