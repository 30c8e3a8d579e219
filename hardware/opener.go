package hardware

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"github.com/tributary-iot/tributary/sensors"
)

// opener opens what sensors are attached to and owns it: an I²C bus is
// opened once (i2creg.Open) and shared by the sensors on it, which borrow
// it; pins are found with gpioreg.ByName. Its methods are safe for
// concurrent use (an absent sensor opens from the agent's goroutine).
type opener struct {
	log *slog.Logger
	// host: call periph's host.Init once before the first open (the real
	// board); false when only emulators are registered.
	host      bool
	openBus   func(name string) (i2c.BusCloser, error) // default i2creg.Open
	pinByName func(name string) gpio.PinIO             // default gpioreg.ByName

	mu       sync.Mutex
	hostDone bool
	hostErr  error
	buses    map[string]i2c.BusCloser
	locks    map[string]*sync.Mutex
}

func newOpener(log *slog.Logger) *opener {
	return &opener{log: log, host: true, openBus: i2creg.Open, pinByName: gpioreg.ByName,
		buses: map[string]i2c.BusCloser{}, locks: map[string]*sync.Mutex{}}
}

// open opens the sensor sp describes, on hardware h keeps.
func (h *opener) open(sp spec) (sensors.Sensor, error) {
	switch dev := sp.driver.dev.(type) {
	case i2cChip:
		b, err := h.bus(sp.bus)
		if err != nil {
			return nil, err
		}
		return dev.dev.open(b, sp, h.chipLock(sp.bus, sp.addr))
	case pinDevice:
		p, err := h.gpioPin(sp.pin)
		if err != nil {
			return nil, err
		}
		return dev.openPin(p, sp)
	case w1Device:
		return dev.openW1(sp)
	}
	return nil, fmt.Errorf("%s: not a hardware driver", sp.driver.Name)
}

// close closes the buses; the sensors on them must be closed already.
func (h *opener) close() {
	h.mu.Lock()
	buses := h.buses
	h.buses = map[string]i2c.BusCloser{}
	h.mu.Unlock()
	for name, b := range buses {
		if err := b.Close(); err != nil {
			h.log.Warn("closing I²C bus", "bus", name, "err", err)
		}
	}
}

// initHost runs periph's host.Init once, when h is for a real board.
func (h *opener) initHost() error {
	if !h.host || h.hostDone {
		return h.hostErr
	}
	h.hostDone = true
	if _, err := host.Init(); err != nil {
		h.hostErr = fmt.Errorf("periph host.Init: %w", err)
		h.log.Error("cannot initialise the board's drivers", "err", err)
	}
	return h.hostErr
}

// bus returns the I²C bus called name, opening it the first time. The
// error wraps sensors.ErrNoDevice when there is no such bus.
func (h *opener) bus(name string) (i2c.Bus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.initHost(); err != nil {
		return nil, err
	}
	key := busKey(name)
	if b, ok := h.buses[key]; ok {
		return b, nil
	}
	b, err := h.openBus(name)
	if err != nil {
		return nil, busOpenError(name, err)
	}
	h.buses[key] = b
	return b, nil
}

// gpioPin finds the pin called name. The error wraps sensors.ErrNoDevice
// when there is no such pin.
func (h *opener) gpioPin(name string) (gpio.PinIO, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.initHost(); err != nil {
		return nil, err
	}
	p := h.pinByName(name)
	if p == nil {
		return nil, &hwError{msg: fmt.Sprintf("GPIO pin %s does not exist (or the board's GPIO driver could not start)", name), kind: sensors.ErrNoDevice}
	}
	return p, nil
}

// hwError is a failure to open hardware, of a kind of package sensors.
type hwError struct {
	msg  string
	kind error
	err  error
}

func (e *hwError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *hwError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// busOpenError types an i2creg.Open failure: a bus that does not exist is
// ErrNoDevice; permission is said plainly.
func busOpenError(name string, err error) error {
	if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("I²C bus %s: permission denied: %w", name, err)
	}
	if strings.Contains(err.Error(), "unknown bus") || strings.Contains(err.Error(), "no bus found") || errors.Is(err, os.ErrNotExist) {
		return &hwError{msg: "I²C bus " + name + " does not exist", kind: sensors.ErrNoDevice, err: err}
	}
	return fmt.Errorf("I²C bus %s: %w", name, sensors.I2CError(err))
}

// openHint says what to do about a failure to open hardware.
func openHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, "I²C"):
		return "add the agent's user to group i2c (sudo usermod -aG i2c USER; the systemd unit has SupplementaryGroups=i2c)"
	case strings.Contains(msg, "permission denied"):
		return "add the agent's user to group gpio (sudo usermod -aG gpio USER)"
	case strings.Contains(msg, "I²C bus") && strings.Contains(msg, "does not exist"):
		return "enable I²C: sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot; edge scan lists the buses"
	case strings.Contains(msg, "w1"):
		return "enable 1-wire: dtoverlay=w1-gpio in /boot/firmware/config.txt and reboot; edge scan lists the probes"
	case errors.Is(err, sensors.ErrNoDevice):
		return "check the wiring and the address (edge scan probes the bus)"
	}
	return "see firmware-notes/README.md"
}

// busKey names a bus the same however it is written: "1" and "I2C1" are
// one bus.
func busKey(name string) string {
	if _, err := strconv.Atoi(name); err == nil {
		return "I2C" + name
	}
	return name
}

// chipLock returns the lock that sensors on the same chip share (the
// ADS1115's channels).
func (h *opener) chipLock(bus string, addr uint16) sync.Locker {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := fmt.Sprintf("%s/%#02x", busKey(bus), addr)
	l := h.locks[k]
	if l == nil {
		l = &sync.Mutex{}
		h.locks[k] = l
	}
	return l
}
