package hardware

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

// simHardware is emulated hardware for a set of sensors: an i2csim bus per
// configured bus, with each chip's emulator attached at its configured
// address, driven by the world's models. The real drivers open it as they
// open a board's: through i2creg once registered, or directly (a fallback
// twin).
type simHardware struct {
	w     *simWorld
	buses map[string]*i2csim.Bus // by busKey
	chips map[string]i2csim.Chip // by busKey/address
	order []string               // bus keys in configuration order
	pins  []*gpiosim.Pin
	tree  *w1sim.Tree             // nil: no 1-wire probe
	err   error                   // what could not be emulated
	drive []func(context.Context) // drive the pins from their models

	mu             sync.Mutex
	registered     []string
	registeredPins []*gpiosim.Pin
	stop           func() // ends the goroutines driving pins and waits for them
	closed         bool
}

// emulate builds the emulated hardware of specs' hardware sensors.
func emulate(w *simWorld, specs []spec) *simHardware {
	sh := &simHardware{w: w, buses: map[string]*i2csim.Bus{}, chips: map[string]i2csim.Chip{}, stop: func() {}}
	for _, sp := range specs {
		switch dev := sp.driver.dev.(type) {
		case i2cChip:
			key := busKey(sp.bus)
			b := sh.buses[key]
			if b == nil {
				b = i2csim.NewBus(key)
				sh.buses[key] = b
				sh.order = append(sh.order, key)
			}
			ck := fmt.Sprintf("%s/%#02x", key, sp.addr)
			c := dev.dev.emulate(sp, w, sh.chips[ck])
			sh.chips[ck] = c
			b.Attach(sp.addr, c)
		case pinDevice:
			p, drive := dev.emulatePin(sp, w)
			sh.pins = append(sh.pins, p)
			sh.drive = append(sh.drive, drive)
		case w1Device:
			if err := sh.addProbe(dev, sp); err != nil {
				sh.err = errors.Join(sh.err, err)
			}
		}
	}
	if sh.tree != nil {
		sh.tree.Update(w.now())
		sh.drive = append(sh.drive, func(ctx context.Context) { sh.tree.Run(ctx, time.Second, w.now) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, f := range sh.drive {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	sh.stop = func() {
		cancel()
		wg.Wait()
		if sh.tree != nil {
			os.RemoveAll(sh.tree.Root())
		}
	}
	return sh
}

// addProbe puts sp's DS18B20 in the emulated w1 tree, made on first use in
// a temporary directory.
func (sh *simHardware) addProbe(dev w1Device, sp spec) error {
	if sh.tree == nil {
		dir, err := os.MkdirTemp("", "tributary-w1sim-")
		if err != nil {
			return fmt.Errorf("emulated 1-wire: %w", err)
		}
		if sh.tree, err = w1sim.New(dir); err != nil {
			return fmt.Errorf("emulated 1-wire: %w", err)
		}
	}
	sp.id = sh.probeID(sp)
	return dev.emulateW1(sp, sh.w, sh.tree)
}

// probeID is sp's probe id, or one made up from the world's seed for a
// spec that names none (the only probe).
func (sh *simHardware) probeID(sp spec) string {
	if sp.id != "" {
		return sp.id
	}
	return fmt.Sprintf("28-%012x", sh.w.seed&0xffffffffffff)
}

// empty reports whether there is nothing to emulate.
func (sh *simHardware) empty() bool { return len(sh.buses) == 0 && len(sh.pins) == 0 && sh.tree == nil }

// register registers the buses with periph's i2creg under their names, a
// bus configured as "1" as "I2C1", number 1, as Linux's is, so that
// i2creg.Open("1") finds it.
func (sh *simHardware) register() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, key := range sh.order {
		b := sh.buses[key]
		num := -1
		if n, err := strconv.Atoi(strings.TrimPrefix(key, "I2C")); err == nil && strings.HasPrefix(key, "I2C") {
			num = n
		}
		if err := i2creg.Register(key, nil, num, func() (i2c.BusCloser, error) { return simBusHandle{b}, nil }); err != nil {
			sh.unregisterLocked()
			return fmt.Errorf("emulated I²C bus %s: %w", key, err)
		}
		sh.registered = append(sh.registered, key)
	}
	for _, p := range sh.pins {
		if err := p.Register(); err != nil {
			sh.unregisterLocked()
			return fmt.Errorf("emulated GPIO pin %s: %w", p.Name(), err)
		}
		sh.registeredPins = append(sh.registeredPins, p)
	}
	return nil
}

func (sh *simHardware) unregisterLocked() {
	for _, key := range sh.registered {
		i2creg.Unregister(key) // only fails for a name not registered
	}
	sh.registered = nil
	for _, p := range sh.registeredPins {
		p.Unregister() // only fails for a name not registered
	}
	sh.registeredPins = nil
}

// close unregisters what register registered and stops the pins' drivers.
func (sh *simHardware) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return
	}
	sh.closed = true
	sh.unregisterLocked()
	sh.stop()
}

// openBus opens an emulated bus directly, as i2creg.Open would once it is
// registered.
func (sh *simHardware) openBus(name string) (i2c.BusCloser, error) {
	b := sh.buses[busKey(name)]
	if b == nil {
		return nil, errors.New("i2creg: can't open unknown bus: " + strconv.Quote(name))
	}
	return simBusHandle{b}, nil
}

// pinByName finds an emulated pin, as gpioreg.ByName would once it is
// registered.
func (sh *simHardware) pinByName(name string) gpio.PinIO {
	for _, p := range sh.pins {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// w1Dir is the directory of the emulated 1-wire tree ("" if none).
func (sh *simHardware) w1Dir() string {
	if sh.tree == nil {
		return ""
	}
	return sh.tree.Root()
}

// respec adjusts sp to where the emulated hardware is (the w1 tree's
// directory).
func (sh *simHardware) respec(sp spec) spec {
	if sp.driver.kind() == kind1Wire && sh.tree != nil {
		sp.w1Dir = sh.tree.Root()
	}
	return sp
}

// simBusHandle is one opened reference to an emulated bus: closing it
// leaves the bus to the others, as closing one of several opens of
// /dev/i2c-1 does.
type simBusHandle struct{ *i2csim.Bus }

func (simBusHandle) Close() error { return nil }
