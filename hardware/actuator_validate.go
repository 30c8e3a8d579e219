package hardware

import (
	"fmt"
	"strconv"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
)

// ValidateActuators checks a list of actuators against the sensors (names
// and pins are unique across both: an actuator's state readings use its
// name as their sensor) and the interlocks (groups of actuator names never
// on together), and returns every mistake, in list order. written(i)
// lists the keys the file sets for actuator i (nil: those not zero).
func ValidateActuators(sensorCfgs []SensorConfig, as []ActuatorConfig, interlocks [][]string, written func(i int) []string) []*ConfigError {
	var errs []*ConfigError
	names := map[string]string{} // name -> whose
	pins := map[string]string{}
	for i, s := range sensorCfgs {
		d, ok := lookupDriver(s.Driver)
		if !ok {
			continue
		}
		for _, n := range d.names(s.Name) {
			names[n] = fmt.Sprintf("sensors[%d]", i)
		}
		if d.kind() == kindGPIO {
			if p, err := parsePin(s.Pin); err == nil {
				pins[p] = fmt.Sprintf("sensors[%d]", i)
			}
		}
	}
	if len(as) > command.MaxActuators {
		errs = append(errs, &ConfigError{List: "actuators", Index: command.MaxActuators, Key: "name", Whole: true,
			Msg: fmt.Sprintf("more than %d actuators", command.MaxActuators)})
	}
	actuatorNames := map[string]bool{}
	for i, a := range as {
		key := fmt.Sprintf("actuators[%d]", i)
		add := func(e *ConfigError) {
			e.List, e.Index = "actuators", i
			errs = append(errs, e)
		}
		d, ok := lookupActuatorDriver(a.Driver)
		switch {
		case a.Driver == "":
			add(&ConfigError{Key: "driver", Whole: true, Msg: "missing (" + actuatorDriverNames() + ")"})
			continue
		case !ok:
			add(&ConfigError{Key: "driver", Msg: fmt.Sprintf("%q is not an actuator driver (known: %s)", a.Driver, actuatorDriverNames())})
			continue
		}
		switch {
		case a.Name == "":
			add(&ConfigError{Key: "name", Whole: true, Msg: "missing"})
		case !reading.ValidID(a.Name):
			add(&ConfigError{Key: "name", Msg: fmt.Sprintf("%q is not a valid id (letters, digits, '.', '_' or '-', starting with a letter or digit)", a.Name)})
		default:
			if prev, dup := names[a.Name]; dup {
				add(&ConfigError{Key: "name", Msg: fmt.Sprintf("%q is already %s's name (an actuator's state readings use its name as their sensor's)", a.Name, prev)})
			}
			names[a.Name] = key
			actuatorNames[a.Name] = true
		}
		var keys []string
		if written != nil {
			keys = written(i)
		}
		sp, ferrs := a.spec(d, keys)
		for _, e := range ferrs {
			add(e)
		}
		if sp.pin != "" {
			if prev, dup := pins[sp.pin]; dup {
				add(&ConfigError{Key: "pin", Msg: fmt.Sprintf("%s is already %s's", sp.pin, prev)})
			} else {
				pins[sp.pin] = key
			}
		}
	}
	for i, group := range interlocks {
		bad := func(j int, format string, args ...any) {
			e := &ConfigError{List: "interlocks", Index: i, Whole: j < 0, Msg: fmt.Sprintf(format, args...)}
			if j >= 0 {
				e.Key = strconv.Itoa(j)
			}
			errs = append(errs, e)
		}
		if len(group) < 2 {
			bad(-1, "an interlock names at least two actuators never on together")
		}
		seen := map[string]bool{}
		for j, n := range group {
			switch {
			case !actuatorNames[n] && names[n] != "":
				bad(j, "%q is a sensor, not an actuator", n)
			case !actuatorNames[n]:
				bad(j, "no actuator %q", n)
			case seen[n]:
				bad(j, "%q twice in one interlock", n)
			}
			seen[n] = true
		}
	}
	return errs
}

// actuatorSpecs returns the specs of valid actuators.
func actuatorSpecs(as []ActuatorConfig) []actSpec {
	var out []actSpec
	for _, a := range as {
		d, _ := lookupActuatorDriver(a.Driver)
		sp, _ := a.spec(d, nil)
		out = append(out, sp)
	}
	return out
}
