package hardware

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Actuators are the actuators to open (Board.Actuators), checked with
	// ValidateActuators against the sensors. Default none; with Sim and
	// none, the simulated set (a heater, a fan, and a valve where a sensor
	// measures soil moisture).
	Actuators []ActuatorConfig
}

// A Sensor is an opened sensor and how its configuration asks for it to
// be read.
type Sensor struct {
	Sensor    sensors.Sensor
	Interval  time.Duration // 0: the agent's default
	Timeout   time.Duration // of one read; 0: the agent's default
	Simulated bool          // the driver over an emulated chip, or a simulation
}

// A Board is the hardware a set of sensors is attached to, opened for
// them: it owns the I²C buses, the pins and the emulators, which its
// sensors borrow. Close it once its sensors are no longer read.
type Board struct {
	sensors   []Sensor
	actuators []Actuator
	release   []func() // run in order once the sensors are closed
	closed    sync.Once
	err       error // of the first Close
}

// Sensors returns the opened sensors, in the order of the configuration.
func (b *Board) Sensors() []Sensor { return b.sensors }

// Close closes the sensors, then the buses, and unregisters what was
// emulated. It returns the sensors' errors; closing again does nothing.
// It leaves the actuators' outputs as they are (see Actuators).
func (b *Board) Close() error {
	b.closed.Do(func() {
		ss := make([]sensors.Sensor, len(b.sensors))
		for i, s := range b.sensors {
			ss[i] = s.Sensor
		}
		b.err = sensors.Close(ss...)
		for _, f := range b.release {
			f()
		}
	})
	return b.err
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
//
// Options.Actuators are opened after the sensors: see Board.Actuators.
func Open(cs []SensorConfig, o Options) (*Board, error) {
	if errs := append(Validate(cs, 0, nil), ValidateActuators(cs, o.Actuators, nil, nil)...); len(errs) > 0 {
		var all []error
		for _, e := range errs {
			all = append(all, e)
		}
		return nil, errors.Join(all...)
	}
	log := cmp.Or(o.Logger, slog.Default())
	w := newSimWorld(o.Device, time.Now)
	simSet := len(cs) == 0 // the simulated set of sensors, and so of actuators
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
	soil := false
	for _, c := range cs {
		d, _ := lookupDriver(c.Driver) // validated above
		sp, _ := c.spec(d, nil)
		specs = append(specs, sp)
		soil = soil || sp.metric == sensors.MetricMoisture
	}
	acts := o.Actuators
	if len(acts) == 0 && o.Sim && simSet {
		acts = simulatedActuators(soil, cs)
		log.Info("using simulated actuators (--sim)", "actuators", len(acts))
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
		b.sensors = append(b.sensors, Sensor{Sensor: sn, Interval: sp.interval, Timeout: sp.timeout, Simulated: simulated})
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
	ah := hw
	if ah == nil {
		ah = newOpener(log)
	}
	b.openActuators(actuatorSpecs(acts), o.Sim, ah, w, log)
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
