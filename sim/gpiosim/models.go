package gpiosim

import (
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/sim"
)

// DoorLevel sees a door model as a normally-open reed switch to ground,
// closed by the magnet on the door: Low (closed) while the door is shut,
// High (open; with a pull-up, as the driver sets) while it is open. Use it
// with a ContactToGround pin.
func DoorLevel(d *sim.Door) LevelFunc {
	return func(t time.Time) gpio.Level {
		return gpio.Level(d.Open(t))
	}
}

// MotionLevel sees a motion model as an HC-SR501's output, which drives the
// pin High while motion is reported. Use it with a PushPull pin.
func MotionLevel(m *sim.Motion) LevelFunc {
	return func(t time.Time) gpio.Level {
		return gpio.Level(m.Active(t))
	}
}

// RainCount sees a rain model as its tipping-bucket gauge: one pulse per
// tip. Use it with a ContactToGround pin and pulses of about 100 ms (the
// reed switch closes as the magnet on the bucket swings past) with a few
// bounces.
func RainCount(r *sim.Rain) CountFunc {
	return func(t time.Time) uint64 { return r.At(t).Tips }
}

// The simulator's view of actuators on output pins: each returns an
// Options.OnOutput hook that moves a model from the pin's changes, at the
// time of each change. activeLow: the device is on while the pin is Low
// (an active-low relay board); a PWM pin's duty is then inverted too.

// Heater sees the pin as a heater's relay (or its PWM power stage)
// warming c.
func Heater(c *sim.Climate, activeLow bool) func(Change) {
	return func(ch Change) { c.SetHeating(ch.At, power(ch, activeLow)) }
}

// Fan sees the pin as a fan's PWM input (or its relay) cooling c.
func Fan(c *sim.Climate, activeLow bool) func(Change) {
	return func(ch Change) { c.SetCooling(ch.At, power(ch, activeLow)) }
}

// Valve sees the pin as an irrigation valve's relay wetting each soil bed
// soils returns at the time of the change.
func Valve(soils func() []*sim.Soil, activeLow bool) func(Change) {
	return func(ch Change) {
		for _, s := range soils() {
			s.SetIrrigation(ch.At, power(ch, activeLow))
		}
	}
}

// power is the device's power, 0..1, for a change of its pin.
func power(ch Change, activeLow bool) float64 {
	if activeLow {
		return 1 - ch.Fraction()
	}
	return ch.Fraction()
}
