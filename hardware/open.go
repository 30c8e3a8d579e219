package hardware

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"github.com/tributary-iot/tributary/sensors"
)

// Options configure Open. The zero value opens the board's hardware.
type Options struct {
	// Device seeds the simulations, so that each device's values are its
	// own; default "".
	Device string
	// Sim runs every hardware sensor's driver over an emulated chip or
	// pin, registered with periph under the configured bus and pin names
	// (none configured: the simulated set). Default false: the board.
	Sim bool
	// Logger says what was opened, simulated or is missing; default
	// slog.Default().
	Logger *slog.Logger
}

// A Sensor is an opened sensor and how its configuration asks for it to
// be read.
type Sensor struct {
	Sensor    sensors.Sensor
	Interval  time.Duration // 0: the agent's default
	Simulated bool          // the driver over an emulated chip, or a simulation
}

// A Board is the hardware a set of sensors is attached to, opened for
// them: it owns the I²C buses, the pins and the emulators, which its
// sensors borrow. Close it once its sensors are no longer read.
type Board struct {
	sensors []Sensor
	release []func() // run in order once the sensors are closed
}

// Sensors returns the opened sensors, in the order of the configuration.
func (b *Board) Sensors() []Sensor { return b.sensors }

// Close closes the sensors, then the buses, and unregisters what was
// emulated. It returns the sensors' errors; it must be called once.
func (b *Board) Close() error {
	ss := make([]sensors.Sensor, len(b.sensors))
	for i, s := range b.sensors {
		ss[i] = s.Sensor
	}
	err := sensors.Close(ss...)
	for _, f := range b.release {
		f()
	}
	return err
}

// Open opens the sensors cs configures (the simulated set when there is
// none), after checking them with Validate.
//
// On a board, hardware sensors are opened through periph's registries after
// host.Init. A sensor whose hardware cannot be opened is simulated if its
// configuration allows (fallback: sim: the real driver over an emulated
// chip, flagged Simulated), and otherwise stands in as a sensor whose reads
// retry the open and fail with its error, typed (sensors.ErrNoDevice ...),
// so that the agent reports it down, retries it with backoff and reads it
// once it answers; the other sensors run regardless.
//
// With Options.Sim, every hardware sensor's emulator is registered under
// the configured bus and pin names and the sensors are opened there, by
// the same code as on a board.
func Open(cs []SensorConfig, o Options) (*Board, error) {
	if errs := Validate(cs, 0, nil); len(errs) > 0 {
		var all []error
		for _, e := range errs {
			all = append(all, e)
		}
		return nil, errors.Join(all...)
	}
	log := cmp.Or(o.Logger, slog.Default())
	w := newSimWorld(o.Device, time.Now)
	switch {
	case len(cs) == 0 && o.Sim:
		log.Info("using simulated sensors (--sim)")
		cs = []SensorConfig{{Driver: "sim"}}
	case len(cs) == 0:
		log.Info("no sensors configured; using simulated sensors")
		cs = []SensorConfig{{Driver: "sim"}}
	case o.Sim:
		log.Info("using simulated sensors (--sim): every configured sensor's driver over an emulated chip")
	}
	var specs []spec
	for _, c := range cs {
		d, _ := lookupDriver(c.Driver) // validated above
		sp, _ := c.spec(d, nil)
		specs = append(specs, sp)
	}

	b := &Board{}
	hw := newOpener(log)
	var unregister func()
	if o.Sim {
		sh := emulate(w, specs)
		if sh.err != nil {
			log.Error("cannot emulate every sensor", "err", sh.err)
		}
		if sh.empty() {
			sh.close()
		} else if err := sh.register(); err != nil {
			log.Error("cannot register the emulated hardware; simulating each sensor apart", "err", err)
			sh.close()
			hw = nil
		} else {
			hw.host = false
			unregister = sh.close
			for i := range specs {
				specs[i] = sh.respec(specs[i])
			}
		}
	}
	if hw != nil {
		b.release = append(b.release, hw.close)
	}
	if unregister != nil {
		b.release = append(b.release, unregister)
	}

	add := func(sn sensors.Sensor, sp spec, simulated bool) {
		b.sensors = append(b.sensors, Sensor{Sensor: sn, Interval: sp.interval, Simulated: simulated})
	}
	for _, sp := range specs {
		if s, ok := sp.driver.dev.(simulation); ok {
			for _, sn := range s.simulate(sp.name, w) {
				add(sn, sp, false)
			}
			continue
		}
		if o.Sim && hw == nil {
			sn, err := b.twin(w, sp, log)
			if err != nil {
				log.Error(fmt.Sprintf("sensor %s: cannot simulate it", sp.name), "err", err)
				continue
			}
			add(sn, sp, true)
			continue
		}
		sn, err := hw.open(sp)
		switch {
		case err == nil:
			add(sn, sp, o.Sim)
		case sp.fallback:
			tw, terr := b.twin(w, sp, log)
			if terr != nil {
				log.Error(fmt.Sprintf("sensor %s: hardware not found and cannot simulate it", sp.name), "err", err, "sim_err", terr)
				add(hw.absent(sp, err), sp, false)
				continue
			}
			log.Warn(fmt.Sprintf("sensor %s: hardware not found (%v); simulating it as configured (fallback: sim)", sp.name, err), "hint", openHint(err))
			add(tw, sp, true)
		default:
			log.Error(fmt.Sprintf("sensor %s: hardware not found (%v); reporting it down and retrying until it answers", sp.name, err), "hint", openHint(err))
			add(hw.absent(sp, err), sp, false)
		}
	}
	return b, nil
}

// twin opens sp's driver over an emulator of its own, on hardware that is
// registered nowhere (the fallback of a sensor whose hardware is missing),
// released with b.
func (b *Board) twin(w *simWorld, sp spec, log *slog.Logger) (sensors.Sensor, error) {
	sh := emulate(w, []spec{sp})
	h := newOpener(log)
	h.host = false
	h.openBus = sh.openBus
	h.pinByName = sh.pinByName
	sp = sh.respec(sp)
	sn, err := h.open(sp)
	if err != nil {
		h.close()
		sh.close()
		return nil, err
	}
	b.release = append(b.release, h.close, sh.close)
	return sn, nil
}

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

// absent returns a stand-in for sp, whose hardware failed to open with
// err: each Read tries to open it again and, until that succeeds, fails
// with the open's error, so that the agent shows the sensor down with the
// error's kind and retries it with its backoff. Once open, it is the
// sensor.
func (h *opener) absent(sp spec, err error) sensors.Sensor {
	a := &absent{spec: sp, h: h, ready: make(chan struct{}), lastErr: err}
	if sp.driver.kind() == kindGPIO {
		return &absentWatcher{a}
	}
	return a
}

// absent is a sensor whose hardware is missing; see opener.absent.
type absent struct {
	spec spec
	h    *opener

	mu      sync.Mutex
	s       sensors.Sensor // nil until opened
	ready   chan struct{}  // closed once s is set
	lastErr error
	closed  bool
}

func (a *absent) Name() string { return a.spec.name }

// Read opens the sensor if it is not yet, then reads it.
func (a *absent) Read(ctx context.Context) ([]sensors.Sample, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, fmt.Errorf("sensor %s: read after Close", a.spec.name)
	}
	if a.s == nil {
		s, err := a.h.open(a.spec)
		if err != nil {
			a.lastErr = err
			a.mu.Unlock()
			return nil, err
		}
		a.s = s
		close(a.ready)
		a.h.log.Info(fmt.Sprintf("sensor %s: hardware found; reading it", a.spec.name))
	}
	s := a.s
	a.mu.Unlock()
	return s.Read(ctx)
}

// Close closes the sensor if it was opened.
func (a *absent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	s := a.s
	a.mu.Unlock()
	if c, ok := s.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// absentWatcher is an absent sensor that reports changes once opened.
type absentWatcher struct{ *absent }

// Watch waits for the sensor to be opened, then watches it.
func (a *absentWatcher) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w, ok := a.s.(sensors.Watcher); ok {
		return w.Watch(ctx, emit)
	}
	<-ctx.Done()
	return ctx.Err()
}
