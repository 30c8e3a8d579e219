package command

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/tributary-iot/tributary/reading"
)

// Kinds of actuator.
const (
	// KindSwitch is on or off (a relay, a valve, an LED, a buzzer): values
	// 0 and 1; its state reading has metric MetricOn, unit "1".
	KindSwitch = "switch"
	// KindLevel takes a level in a range (a fan's speed or a dimmer by PWM
	// duty): its state reading has metric MetricDuty, unit "%".
	KindLevel = "level"
)

// Metrics of actuators' state readings: an actuator's state is also an
// ordinary reading (sensor: the actuator's name), so charts show it.
const (
	MetricOn   = "on"   // a switch: 0 off, 1 on; unit "1"
	MetricDuty = "duty" // a level: PWM duty, unit "%" (0..100)
)

// MaxActuators bounds how many actuators a device describes.
const MaxActuators = 64

// Actuator describes one actuator of a device, as the device announces it
// (so that a dashboard can draw its control) and within the limits of the
// device's own configuration, which no command can override.
type Actuator struct {
	Name      string   `json:"name"`                // reading.ValidID; also the sensor of its state readings
	Kind      string   `json:"kind"`                // KindSwitch or KindLevel
	Min       float64  `json:"min"`                 // lowest value accepted (a switch: 0)
	Max       float64  `json:"max"`                 // highest (a switch: 1; a level: at most 100)
	Safe      string   `json:"safe"`                // its state on boot and after a long uplink outage: "off", "on", "hold", or a level ("25")
	Label     string   `json:"label,omitempty"`     // words for a person ("Heater, bench 2"), optional
	Interlock []string `json:"interlock,omitempty"` // actuators never on together with this one
}

// Validate reports the first problem with a, wrapping ErrInvalid, or nil.
func (a *Actuator) Validate() error {
	if !reading.ValidID(a.Name) {
		return fieldErr("name", "%q is not a valid id", clip(a.Name, 80))
	}
	switch a.Kind {
	case KindSwitch:
		if a.Min != 0 || a.Max != 1 {
			return fieldErr("max", "a switch goes from 0 to 1")
		}
	case KindLevel:
		if math.IsNaN(a.Min) || math.IsNaN(a.Max) || a.Min < 0 || a.Max > 100 || a.Min >= a.Max {
			return fieldErr("max", "a level's range must lie within 0..100, min below max")
		}
	default:
		return fieldErr("kind", "%q: want %s or %s", clip(a.Kind, 40), KindSwitch, KindLevel)
	}
	if err := checkText("safe", a.Safe, 16); err != nil {
		return err
	}
	if err := checkText("label", a.Label, 64); err != nil {
		return err
	}
	if len(a.Interlock) > MaxActuators {
		return fieldErr("interlock", "more than %d", MaxActuators)
	}
	for _, n := range a.Interlock {
		if !reading.ValidID(n) {
			return fieldErr("interlock", "%q is not a valid id", clip(n, 80))
		}
	}
	return nil
}

// DecodeActuators parses and validates a device's list of actuators (a
// JSON array, at most MaxActuators, at most 64 KiB).
func DecodeActuators(data []byte) ([]Actuator, error) {
	var as []Actuator
	if err := decodeLimited(data, &as, 64<<10); err != nil {
		return nil, err
	}
	if len(as) > MaxActuators {
		return nil, fmt.Errorf("command: %w: %d actuators, limit %d", ErrInvalid, len(as), MaxActuators)
	}
	seen := map[string]bool{}
	for i := range as {
		if err := as[i].Validate(); err != nil {
			return nil, fmt.Errorf("actuator %d: %w", i, err)
		}
		if seen[as[i].Name] {
			return nil, fmt.Errorf("command: %w: actuator %q twice", ErrInvalid, as[i].Name)
		}
		seen[as[i].Name] = true
	}
	return as, nil
}

// EncodeActuators encodes as after validating each.
func EncodeActuators(as []Actuator) ([]byte, error) {
	for i := range as {
		if err := as[i].Validate(); err != nil {
			return nil, err
		}
	}
	if as == nil {
		as = []Actuator{}
	}
	return json.Marshal(as)
}
