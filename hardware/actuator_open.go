package hardware

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// An Actuator is an opened actuator with its configuration, defaults
// applied: what the controller (agent/actuate) needs to enforce it.
type Actuator struct {
	Output    actuators.Output
	Config    ActuatorConfig // as written
	Kind      string         // command.KindSwitch or command.KindLevel
	Label     string
	Min, Max  float64 // a switch: 0, 1; a level: % (default 0, 100)
	Safe      Safe
	MaxOn     time.Duration    // 0: none
	MinOff    time.Duration    // 0: none
	PerMinute int              // default DefaultPerMinute
	Frequency physic.Frequency // pwm; 0 for a relay
	// Simulated: the driver over an emulated pin (--sim, fallback: sim, or
	// the simulated set), which moves the simulated world (Sim).
	Simulated bool
	Sim       string // SimHeat, SimCool, SimIrrigate or SimNone
	// Pin is the emulated pin of a simulated actuator (tests and the
	// simulator read its levels); nil on hardware.
	Pin *gpiosim.Pin
}

// Description is the actuator as the device announces it (without its
// interlocks, which the caller adds from the configuration).
func (a Actuator) Description() command.Actuator {
	safe := a.Safe.String()
	if a.Kind == command.KindSwitch {
		safe = a.Safe.switchString()
	}
	return command.Actuator{Name: a.Output.Name(), Kind: a.Kind, Min: a.Min, Max: a.Max, Safe: safe, Label: a.Label}
}

// Actuators returns the opened actuators, in the order of the
// configuration (the simulated set with Options.Sim and none configured).
//
// Closing the Board leaves every output where it is: it neither switches
// them off nor applies their safe states, which is the controller's job
// (agent/actuate applies them when it stops, before the Board is closed,
// and at its next start). On a Pi a released pin keeps its level until
// the SoC resets it at the next boot, to an input with its default pull.
func (b *Board) Actuators() []Actuator { return b.actuators }

// simulatedActuators is what --sim runs when no actuator is configured: a
// heater, a fan, and a valve where there is a soil probe; those whose
// names or pins the sensors cs already use are left out.
func simulatedActuators(soil bool, cs []SensorConfig) []ActuatorConfig {
	as := []ActuatorConfig{
		{Name: "heater", Driver: "relay", Pin: "SIM_GPIO23", ActiveLow: true, Label: "Heater (simulated)", MaxOn: 30 * time.Minute, MinOff: 10 * time.Second},
		{Name: "fan", Driver: "pwm", Pin: "SIM_GPIO18", Label: "Fan (simulated)"},
	}
	if soil {
		as = append(as, ActuatorConfig{Name: "valve", Driver: "relay", Pin: "SIM_GPIO24", ActiveLow: true, Label: "Irrigation valve (simulated)", MaxOn: 10 * time.Minute})
	}
	var out []ActuatorConfig
	for _, a := range as {
		if len(ValidateActuators(cs, []ActuatorConfig{a}, nil, nil)) == 0 {
			out = append(out, a)
		}
	}
	return out
}

// openActuators opens the actuators specs describe, on the board's pins
// through h, or emulated (sim) with their emulated pins moving w.
func (b *Board) openActuators(specs []actSpec, sim bool, h *opener, w *simWorld, log *slog.Logger) {
	for _, sp := range specs {
		a := Actuator{Config: sp.config, Kind: sp.driver.Kind, Label: sp.label, Min: sp.min, Max: sp.max, Safe: sp.safe,
			MaxOn: sp.maxOn, MinOff: sp.minOff, PerMinute: sp.perMinute, Frequency: sp.freq, Sim: sp.sim}
		if sim {
			out, pin, err := emulateActuator(sp, w)
			if err != nil { // only for a driver that cannot work at all
				log.Error(fmt.Sprintf("actuator %s: cannot emulate it", sp.name), "err", err)
				out = &absentOutput{sp: sp, err: err}
			}
			a.Output, a.Pin, a.Simulated = out, pin, err == nil
			b.actuators = append(b.actuators, a)
			continue
		}
		out, err := openActuator(h, sp)
		switch {
		case err == nil:
			a.Output = out
		case sp.fallback:
			tw, pin, terr := emulateActuator(sp, w)
			if terr != nil {
				log.Error(fmt.Sprintf("actuator %s: pin not usable and cannot emulate it", sp.name), "err", err, "sim_err", terr)
				a.Output = &absentOutput{sp: sp, h: h, err: err}
				break
			}
			log.Warn(fmt.Sprintf("actuator %s: pin %s not usable (%v); emulating it as configured (fallback: sim)", sp.name, sp.pin, err), "hint", openHint(err))
			a.Output, a.Pin, a.Simulated = tw, pin, true
		default:
			log.Error(fmt.Sprintf("actuator %s: pin %s not usable (%v); its commands fail until it is", sp.name, sp.pin, err), "hint", openHint(err))
			a.Output = &absentOutput{sp: sp, h: h, err: err}
		}
		b.actuators = append(b.actuators, a)
	}
}

// openActuator finds sp's pin on the board and opens its driver, which
// drives the device off at once.
func openActuator(h *opener, sp actSpec) (actuators.Output, error) {
	p, err := h.gpioPin(sp.pin)
	if err != nil {
		return nil, err
	}
	return sp.driver.open(p, sp)
}

// emulateActuator opens sp's driver over an emulated pin of its own whose
// changes move the world's models as sp.sim says.
func emulateActuator(sp actSpec, w *simWorld) (actuators.Output, *gpiosim.Pin, error) {
	var hook func(gpiosim.Change)
	switch sp.sim {
	case SimHeat:
		hook = gpiosim.Heater(w.climate, sp.activeLow)
	case SimCool:
		hook = gpiosim.Fan(w.climate, sp.activeLow)
	case SimIrrigate:
		hook = gpiosim.Valve(w.beds, sp.activeLow)
	}
	// On a Pi's reset the pin is an input pulled down (GPIO9-27), as here.
	p := gpiosim.New(gpiosim.Options{Name: sp.pin, OnOutput: hook, Seed: w.next()})
	out, err := sp.driver.open(p, sp)
	if err != nil {
		return nil, nil, err
	}
	return out, p, nil
}

// absentOutput stands in for an actuator whose pin could not be driven at
// start: each Set tries to open it again and fails with the open's error
// until that succeeds; then it is the actuator.
type absentOutput struct {
	sp  actSpec
	h   *opener // nil: never retried (an emulation that failed)
	mu  sync.Mutex
	out actuators.Output
	err error
}

func (a *absentOutput) Name() string { return a.sp.name }

func (a *absentOutput) Set(ctx context.Context, v float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.out == nil && a.h != nil {
		out, err := openActuator(a.h, a.sp)
		if err != nil {
			a.err = err
		} else {
			a.out = out
			a.h.log.Info(fmt.Sprintf("actuator %s: pin %s usable; driving it", a.sp.name, a.sp.pin))
		}
	}
	if a.out == nil {
		return fmt.Errorf("actuator %s: %w", a.sp.name, a.err)
	}
	return a.out.Set(ctx, v)
}

func (a *absentOutput) Value() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.out == nil {
		return 0
	}
	return a.out.Value()
}

// Descriptions returns the actuators as the device announces them, each
// with the actuators it is interlocked with (the other members of every
// interlock group naming it, in configuration order).
func Descriptions(as []Actuator, interlocks [][]string) []command.Actuator {
	out := make([]command.Actuator, len(as))
	for i, a := range as {
		d := a.Description()
		for _, g := range interlocks {
			if !slices.Contains(g, d.Name) {
				continue
			}
			for _, n := range g {
				if n != d.Name && !slices.Contains(d.Interlock, n) {
					d.Interlock = append(d.Interlock, n)
				}
			}
		}
		out[i] = d
	}
	return out
}
