package sim

import (
	"math"
	"time"
)

// ThermalOptions say how a Climate's air answers a heater and a fan: the
// place is a small greenhouse or shed whose air exchanges heat with the
// outside (the climate's own temperature, daily cycle and weather). The
// zero value is a hobby greenhouse of a few m³ with a 2 kW heater and an
// exhaust fan; each field says its default.
type ThermalOptions struct {
	// Time is the air's thermal time constant with the fan off: after a
	// step of heating the temperature has gone 63 % of the way to its new
	// level in Time. Default 10 minutes.
	Time time.Duration
	// HeaterRise is how far, °C, the heater at full power would warm the
	// air above the outside in the steady state, fan off. Default 10.
	HeaterRise float64
	// FanExchange is how much faster the air exchanges heat with the
	// outside with the fan at full speed: the time constant becomes
	// Time/(1+FanExchange). Default 3.
	FanExchange float64
	// FanCooling is how much cooler, °C, the outside air the fan draws in
	// is than the climate's temperature (which is the inside's without
	// actuators: sun on glass): the fan at full speed alone settles the
	// air FanExchange/(1+FanExchange) of that below it. Default 6.
	FanCooling float64
}

func (o ThermalOptions) withDefaults() ThermalOptions {
	if o.Time <= 0 {
		o.Time = 10 * time.Minute
	}
	if o.HeaterRise == 0 {
		o.HeaterRise = 10
	}
	if o.FanExchange == 0 {
		o.FanExchange = 3
	}
	if o.FanCooling == 0 {
		o.FanCooling = 6
	}
	return o
}

// thermal is the actuators' effect on the air temperature, °C, a
// first-order lag integrated exactly for piecewise-constant inputs. It
// draws no random numbers, so it leaves the climate's random walks as
// they would be without actuators.
type thermal struct {
	last       time.Time // zero until first used
	x          float64   // °C added to the climate's temperature
	heat, cool float64   // inputs, 0..1
}

// at advances the lag to t (a t before the last is the last) and returns
// the offset.
func (th *thermal) at(t time.Time, o ThermalOptions) float64 {
	if th.last.IsZero() || t.Before(th.last) {
		if th.last.IsZero() {
			th.last = t
		}
		return th.x
	}
	dt := t.Sub(th.last).Seconds()
	th.last = t
	if th.heat == 0 && th.cool == 0 && th.x == 0 {
		return 0
	}
	// dx/dt = (heat*Rise - x - cool*k*(x + Cooling)) / Time
	k := o.FanExchange * th.cool
	b := 1 + k
	target := (th.heat*o.HeaterRise - k*o.FanCooling) / b
	th.x = target + (th.x-target)*math.Exp(-b*dt/o.Time.Seconds())
	if math.Abs(th.x) < 1e-9 && target == 0 {
		th.x = 0
	}
	return th.x
}

// SetHeating sets the heater's power from t on, 0 (off) to 1 (full; a
// relay's on), clamped: the air warms toward HeaterRise above the outside
// over minutes. A t before the latest time the climate was asked about
// counts as that time.
func (c *Climate) SetHeating(t time.Time, power float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.th.at(t, c.opt.Thermal)
	c.th.heat = clamp(power, 0, 1)
}

// SetCooling sets the fan's speed from t on, 0 (off) to 1 (full), clamped:
// it draws in cooler outside air and speeds up the exchange of heat with
// the outside.
func (c *Climate) SetCooling(t time.Time, speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.th.at(t, c.opt.Thermal)
	c.th.cool = clamp(speed, 0, 1)
}

// Actuated returns the heating and cooling inputs in effect and the
// temperature offset, °C, they have made so far (as of the latest time the
// climate was asked about or given an input).
func (c *Climate) Actuated() (heating, cooling, offset float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.th.heat, c.th.cool, c.th.x
}
