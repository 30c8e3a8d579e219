package hardware

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/command"
)

// ActuatorConfig is one actuator of a configuration, as written (the yaml
// tags are its keys in edge's file). Limits (max_on, min_off, per_minute,
// min, max, interlocks) are enforced by the controller (agent/actuate),
// not by the output.
type ActuatorConfig struct {
	Name      string `yaml:"name"`       // reading.ValidID; also the sensor name of its state readings
	Driver    string `yaml:"driver"`     // relay (on/off) or pwm (a level)
	Pin       string `yaml:"pin"`        // "GPIO23", or 23 (BCM numbering)
	ActiveLow bool   `yaml:"active_low"` // on while the pin is Low (most relay boards); pwm: the duty inverted
	Label     string `yaml:"label"`      // words for a person, at most 64 characters
	// Safe is the state on boot and after a long uplink outage: relay off
	// (default), on or hold; pwm a level in % (default 0, "off") or hold.
	Safe      string        `yaml:"safe"`
	MaxOn     time.Duration `yaml:"max_on"`     // longest time on in one go; 0 none
	MinOff    time.Duration `yaml:"min_off"`    // shortest time off before on again; 0 none
	PerMinute int           `yaml:"per_minute"` // most commands a minute; default 30
	Min       *float64      `yaml:"min"`        // pwm: lowest level a command may set, %; default 0
	Max       *float64      `yaml:"max"`        // pwm: highest, %; default 100
	Frequency string        `yaml:"frequency"`  // pwm: 25kHz (default, PC fans), 1kHz for dimmers
	// Sim is what the emulated twin does to the simulated world: heat,
	// cool, irrigate or none; default by name (heater: heat, fan: cool,
	// valve: irrigate, else none).
	Sim      string `yaml:"sim"`
	Fallback string `yaml:"fallback"` // "sim": emulate it when its pin cannot be opened
}

// Defaults and bounds of actuators.
const (
	DefaultPerMinute = 30
	MaxPerMinute     = 600
	labelMax         = 64
)

// What an emulated actuator does to the simulated world (its sim key).
const (
	SimHeat     = "heat"
	SimCool     = "cool"
	SimIrrigate = "irrigate"
	SimNone     = "none"
)

// Safe is an actuator's safe state: hold its value, or go to Value.
type Safe struct {
	Hold  bool
	Value float64 // a switch: 0 or 1; a level: %
}

// String writes s as the configuration and command.Actuator.Safe do:
// "hold", "off", "on" (a switch), or a level ("25").
func (s Safe) String() string {
	if s.Hold {
		return "hold"
	}
	return strconv.FormatFloat(s.Value, 'f', -1, 64)
}

// switchString writes a switch's safe state.
func (s Safe) switchString() string {
	switch {
	case s.Hold:
		return "hold"
	case s.Value == 1:
		return "on"
	}
	return "off"
}

// ParseSafe reads a safe state for an actuator of kind (command.KindSwitch
// or KindLevel): a switch takes off, on or hold; a level hold, off (0) or
// a level in % ("30" or "30%") within 0..100. "" is off.
func ParseSafe(s, kind string) (Safe, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off":
		return Safe{}, nil
	case "hold":
		return Safe{Hold: true}, nil
	case "on":
		if kind == command.KindSwitch {
			return Safe{Value: 1}, nil
		}
		return Safe{}, fmt.Errorf("%q: a level's safe state is hold or a level in %% (0 is off)", s)
	}
	if kind == command.KindSwitch {
		return Safe{}, fmt.Errorf("%q: want off, on or hold", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return Safe{}, fmt.Errorf("%q: want hold or a level in %% within 0..100", s)
	}
	return Safe{Value: v}, nil
}

// actSpec is an actuator's configuration checked against its driver, with
// its defaults applied.
type actSpec struct {
	name, label   string
	driver        ActuatorDriver
	pin           string
	activeLow     bool
	safe          Safe
	maxOn, minOff time.Duration
	perMinute     int
	min, max      float64
	freq          physic.Frequency
	sim           string
	fallback      bool
	config        ActuatorConfig
}

// actuatorKeys are every key an actuator takes; actuatorCommon those of
// every driver.
var (
	actuatorKeys   = []string{"name", "driver", "pin", "active_low", "label", "safe", "max_on", "min_off", "per_minute", "min", "max", "frequency", "sim", "fallback"}
	actuatorCommon = []string{"name", "driver", "pin", "active_low", "label", "safe", "max_on", "min_off", "per_minute", "sim", "fallback"}
)

// setKeys lists the keys of c that are not zero.
func (c ActuatorConfig) setKeys() []string {
	var ks []string
	for _, kv := range []struct {
		k   string
		set bool
	}{
		{"name", c.Name != ""}, {"driver", c.Driver != ""}, {"pin", c.Pin != ""}, {"active_low", c.ActiveLow}, {"label", c.Label != ""},
		{"safe", c.Safe != ""}, {"max_on", c.MaxOn != 0}, {"min_off", c.MinOff != 0}, {"per_minute", c.PerMinute != 0},
		{"min", c.Min != nil}, {"max", c.Max != nil}, {"frequency", c.Frequency != ""}, {"sim", c.Sim != ""}, {"fallback", c.Fallback != ""},
	} {
		if kv.set {
			ks = append(ks, kv.k)
		}
	}
	return ks
}

// spec checks c against d and returns its spec and every mistake (Index
// and List left to the caller). keys are the keys written (nil: those not
// zero).
func (c ActuatorConfig) spec(d ActuatorDriver, keys []string) (actSpec, []*ConfigError) {
	s := actSpec{name: c.Name, label: c.Label, driver: d, activeLow: c.ActiveLow, maxOn: c.MaxOn, minOff: c.MinOff,
		perMinute: cmp.Or(c.PerMinute, DefaultPerMinute), config: c}
	var errs []*ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{List: "actuators", Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if keys == nil {
		keys = c.setKeys()
	}
	for _, k := range keys {
		if slices.Contains(actuatorKeys, k) && !slices.Contains(actuatorCommon, k) && !slices.Contains(d.keys, k) {
			var takers []string
			for _, o := range actuatorDrivers {
				if slices.Contains(o.keys, k) {
					takers = append(takers, o.Name)
				}
			}
			bad(k, "driver %s does not take %s (only %s does)", d.Name, k, orList(takers))
		}
	}
	if c.Pin == "" {
		errs = append(errs, &ConfigError{List: "actuators", Key: "pin", Whole: true, Msg: "missing (a GPIO name such as GPIO23, BCM numbering)"})
	} else if p, err := parsePin(c.Pin); err != nil {
		bad("pin", "%v", err)
	} else {
		s.pin = p
	}
	if len(c.Label) > labelMax || strings.ContainsFunc(c.Label, unicode.IsControl) {
		bad("label", "at most %d characters, no control characters", labelMax)
	}
	safe, err := ParseSafe(c.Safe, d.Kind)
	if err != nil {
		bad("safe", "%v", err)
	}
	s.safe = safe
	if c.MaxOn < 0 {
		bad("max_on", "negative %v (0s: no limit)", c.MaxOn)
	} else if c.MaxOn != 0 && c.MaxOn < time.Second {
		bad("max_on", "%v: give at least 1s (0s: no limit)", c.MaxOn)
	}
	if c.MinOff < 0 {
		bad("min_off", "negative %v (0s: no limit)", c.MinOff)
	}
	if c.PerMinute < 0 || c.PerMinute > MaxPerMinute {
		bad("per_minute", "%d: want 1 to %d commands a minute (default %d)", c.PerMinute, MaxPerMinute, DefaultPerMinute)
	}
	switch d.Kind {
	case command.KindSwitch:
		s.min, s.max = 0, 1
	case command.KindLevel:
		s.min, s.max = 0, 100
		if c.Min != nil {
			s.min = *c.Min
		}
		if c.Max != nil {
			s.max = *c.Max
		}
		key := "max"
		if c.Min != nil && (c.Max == nil || *c.Min < 0 || *c.Min > 100) {
			key = "min"
		}
		if math.IsNaN(s.min) || math.IsNaN(s.max) || s.min < 0 || s.max > 100 || s.min >= s.max {
			bad(key, "min %v, max %v: want 0 <= min < max <= 100 (%%)", s.min, s.max)
		} else if err == nil && !safe.Hold && safe.Value != 0 && (safe.Value < s.min || safe.Value > s.max) {
			bad("safe", "%v%% is outside min..max (%v..%v); 0 (off) is always allowed", safe.Value, s.min, s.max)
		}
		s.freq = d.defaultFreq
		if c.Frequency != "" {
			var f physic.Frequency
			switch err := f.Set(strings.ReplaceAll(c.Frequency, " ", "")); {
			case err != nil:
				bad("frequency", "%q is not a frequency: write it like 25kHz or 1kHz", c.Frequency)
			case f < physic.Hertz || f > physic.MegaHertz:
				bad("frequency", "%s: want 1Hz to 1MHz (25kHz for a 4-pin PC fan, about 1kHz for a dimmer)", f)
			default:
				s.freq = f
			}
		}
	}
	switch c.Sim {
	case "":
		s.sim = simByName(c.Name)
	case SimHeat, SimCool, SimIrrigate, SimNone:
		s.sim = c.Sim
	default:
		bad("sim", "%q: want heat, cool, irrigate or none (default by name: heater heats, fan cools, valve irrigates)", c.Sim)
	}
	switch c.Fallback {
	case "":
	case fallbackSim:
		s.fallback = true
	default:
		bad("fallback", "%q: the only fallback is %q (default: none, commands fail until the pin can be driven)", c.Fallback, fallbackSim)
	}
	return s, errs
}

// simByName is the default sim key of an actuator called name.
func simByName(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "heat"):
		return SimHeat
	case strings.Contains(n, "fan"), strings.Contains(n, "vent"), strings.Contains(n, "cool"):
		return SimCool
	case strings.Contains(n, "valve"), strings.Contains(n, "irrig"), strings.Contains(n, "water"), strings.Contains(n, "pump"):
		return SimIrrigate
	}
	return SimNone
}
