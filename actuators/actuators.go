// Package actuators defines what the edge agent switches: an Output (a
// relay, a valve, an LED, a buzzer on a GPIO pin; a fan or a dimmer on a
// PWM pin) and nothing else. Like package sensors it holds no hardware
// code: one sub-package per kind of output (actuators/gpioout,
// actuators/pwm) drives it through periph, and sim/gpiosim emulates the
// pins so that the same drivers run in simulation and in tests.
//
// An Output only sets a level. Deciding whether a level may be set (limits,
// interlocks, deadlines, safe states) is agent/actuate's job, under the
// edge's configuration.
package actuators

import "context"

// Output is one actuator.
//
// Name is the actuator's id on the device (reading.ValidID); it is also the
// sensor name of its state readings.
//
// Set drives the output to value: a switch takes 0 (off) or 1 (on), a
// level a PWM duty in percent (0..100). It returns once the hardware has
// taken the value, or an error saying why it did not (the output is then
// in an unknown state; the caller tries its safe state). The agent calls
// Set from one goroutine at a time.
//
// Value returns the value last set successfully (or the initial value
// before any Set).
type Output interface {
	Name() string
	Set(ctx context.Context, value float64) error
	Value() float64
}
