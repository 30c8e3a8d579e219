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
