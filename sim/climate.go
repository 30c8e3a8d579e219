package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// ClimateOptions configure a Climate. The zero value is a temperate room:
// each field says its default.
type ClimateOptions struct {
	// Seed selects the random stream. Equal seeds give equal climates.
	Seed uint64
	// MeanTemperature is the daily mean air temperature in °C. Default 20
	// (0 means the default; for a mean of 0 °C use a tiny value such as
	// 0.001).
	MeanTemperature float64
	// DailySwing is the amplitude of the daily cycle in °C: the warmest
	// point of the day is MeanTemperature+DailySwing, the coldest
	// MeanTemperature-DailySwing. Default 4; negative means no daily cycle.
	DailySwing float64
	// WarmestHour is the local hour (0-24, fractions allowed) of the
	// warmest point of the day; the coldest is twelve hours away. Default 15.
	WarmestHour float64
	// Location is the time zone of WarmestHour. Default UTC.
	Location *time.Location
	// DewPoint is the mean dew point in °C. Relative humidity follows from
	// it and the temperature (Magnus formula), so humidity falls as the air
	// warms. Default MeanTemperature-10, about 52 %RH at the mean.
	DewPoint float64
	// Pressure is the mean barometric pressure in hPa that the pressure's
	// slow random walk is pulled back to. Default 1013.25.
	Pressure float64

	// The air's response to actuators (SetHeating, SetCooling): see
	// climate_actuators.go. Without inputs it plays no part.
	Thermal ThermalOptions
}

// Bounds of the simulated pressure, hPa: roughly the records at sea level.
const (
	MinPressure = 960.0
	MaxPressure = 1060.0
)

// Internal constants of the models: how fast and how far things wander.
const (
	tempDriftSigma = 0.5            // °C, weather on top of the daily cycle
	tempDriftTau   = time.Hour      //
	tempNoise      = 0.03           // °C, sensor noise per sample
	dewSigma       = 1.0            // °C
	dewTau         = 3 * time.Hour  //
	humNoise       = 0.2            // %RH per sample
	pressRate      = 0.7            // hPa/h, typical tendency of the weather
	pressRateTau   = 6 * time.Hour  // how long a tendency lasts
	pressTau       = 24 * time.Hour // pull back to the mean pressure
	pressStep      = time.Minute    // integration step of the pressure
	pressNoise     = 0.02           // hPa per sample
)

// Conditions are the air's state at one moment.
type Conditions struct {
	Temperature float64 // °C
	Humidity    float64 // relative humidity, %RH, 0-100
	Pressure    float64 // hPa, within MinPressure..MaxPressure
}

// Climate models the air of one place: temperature with a daily cycle and
// slow drift, relative humidity from a slowly drifting dew point (so it
// moves against temperature), and pressure on a slow, bounded random walk.
// It is safe for concurrent use.
type Climate struct {
	opt ClimateOptions

	mu    sync.Mutex
	rng   *rand.Rand
	last  time.Time // zero until the first At
	drift ou        // °C around the daily cycle
	dew   ou        // °C around DewPoint
	press float64   // hPa around Pressure
	trend ou        // hPa/h, the pressure's tendency
	th    thermal   // the actuators' effect on the temperature
}

// NewClimate returns a climate with the options applied.
func NewClimate(opt ClimateOptions) *Climate {
	if opt.MeanTemperature == 0 {
		opt.MeanTemperature = 20
	}
	switch {
	case opt.DailySwing == 0:
		opt.DailySwing = 4
	case opt.DailySwing < 0:
		opt.DailySwing = 0
	}
	if opt.WarmestHour == 0 {
		opt.WarmestHour = 15
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.DewPoint == 0 {
		opt.DewPoint = opt.MeanTemperature - 10
	}
	if opt.Pressure == 0 {
		opt.Pressure = 1013.25
	}
	opt.Thermal = opt.Thermal.withDefaults()
	return &Climate{
		opt:   opt,
		rng:   newRand(opt.Seed, 0xc11a7e),
		drift: ou{sigma: tempDriftSigma, tau: tempDriftTau},
		dew:   ou{sigma: dewSigma, tau: dewTau},
		trend: ou{sigma: pressRate, tau: pressRateTau},
	}
}

// Options returns the options in effect, defaults filled in.
func (c *Climate) Options() ClimateOptions { return c.opt }

// DailyCycle is the noiseless temperature of the daily cycle at t, in °C:
// the mean plus a cosine peaking at WarmestHour.
func (c *Climate) DailyCycle(t time.Time) float64 {
	lt := t.In(c.opt.Location)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
	return c.opt.MeanTemperature + c.opt.DailySwing*math.Cos(2*math.Pi*(h-c.opt.WarmestHour)/24)
}

// At returns the conditions at t, advancing the model's random walks from
// the last time it was asked. A t before that time is treated as that time.
func (c *Climate) At(t time.Time) Conditions {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.IsZero() {
		// Start the pressure somewhere plausible rather than always at the mean.
		c.press = 4 * c.rng.NormFloat64()
		c.last = t
	}
	if t.Before(c.last) {
		t = c.last
	}
	dt := t.Sub(c.last)
	c.last = t
	c.drift.step(c.rng, dt)
	c.dew.step(c.rng, dt)
	c.stepPressure(dt)

	temp := c.DailyCycle(t) + c.drift.x + c.th.at(t, c.opt.Thermal) + tempNoise*c.rng.NormFloat64()
	dew := math.Min(c.opt.DewPoint+c.dew.x, temp)
	hum := 100*magnus(dew)/magnus(temp) + humNoise*c.rng.NormFloat64()
	press := c.opt.Pressure + c.press + pressNoise*c.rng.NormFloat64()
	return Conditions{
		Temperature: temp,
		Humidity:    clamp(hum, 0, 100),
		Pressure:    clamp(press, MinPressure, MaxPressure),
	}
}

// stepPressure integrates the pressure over dt: its tendency is itself a
// random walk, so pressure rises and falls smoothly for hours (as weather
// systems pass) rather than jittering, and is pulled back to the mean over
// about a day. It stays within MinPressure..MaxPressure.
func (c *Climate) stepPressure(dt time.Duration) {
	step := max(pressStep, dt/10000) // bound the work after a long gap
	for dt > 0 {
		h := min(step, dt)
		dt -= h
		c.trend.step(c.rng, h)
		c.press += (c.trend.x - c.press/pressTau.Hours()) * h.Hours()
		if p := c.opt.Pressure + c.press; p < MinPressure || p > MaxPressure {
			c.press = clamp(p, MinPressure, MaxPressure) - c.opt.Pressure
			c.trend.x = -c.trend.x // turn back from the bound
		}
	}
}

// magnus is the saturation vapour pressure over water at t °C, in hPa
// (Magnus formula, WMO constants).
func magnus(t float64) float64 { return 6.112 * math.Exp(17.62*t/(243.12+t)) }
