package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// RainTip is the rain in mm that tips the common tipping-bucket gauge once:
// 0.011 inch, the bucket of the Misol/Sparkfun WH-SP-RG and of the Davis
// gauges. Each tip closes a reed switch for a moment: one pulse.
const RainTip = 0.2794

// MaxRainIntensity bounds the simulated intensity, mm/h: about the
// heaviest hourly rain ever recorded.
const MaxRainIntensity = 250.0

// Internal constants of the rain model.
const (
	rainStep  = time.Minute      // intensity is constant over such steps
	rainSigma = 0.6              // log-intensity variation within an event
	rainTau   = 15 * time.Minute // how long a burst of heavier rain lasts
)

// RainOptions configure a Rain. The zero value is a temperate climate with
// about 1000 mm a year, raining about 8 % of the time; each field says its
// default.
type RainOptions struct {
	// Seed selects the random stream. Equal seeds give equal weather.
	Seed uint64
	// MeanDry is the mean time between rain events (exponentially
	// distributed dry spells). Default 12 hours.
	MeanDry time.Duration
	// MeanEvent is the mean duration of a rain event (exponentially
	// distributed). Default 1 hour.
	MeanEvent time.Duration
	// MeanIntensity is the mean intensity of an event in mm/h; each event
	// draws its own (exponentially distributed), and the intensity wanders
	// around it minute by minute. Default 1.5 (light to moderate rain).
	MeanIntensity float64
	// Tip is the rain per tip of the gauge in mm. Default RainTip.
	Tip float64
}

// RainState is the rain at one moment.
type RainState struct {
	Raining   bool    // a rain event is under way
	Intensity float64 // mm/h now, 0..MaxRainIntensity
	Total     float64 // mm fallen since the model started
	Tips      uint64  // tips of the gauge since the model started: Total/Tip, rounded down
}

// Rain models rainfall at one place and the tipping-bucket gauge under it:
// dry spells and rain events alternate at random; within an event the
// intensity (mm/h) is constant over one-minute steps and wanders
// log-normally around the event's own mean, so showers have heavier
// bursts. The accumulated rain is integrated exactly over those steps, so
// Total does not depend on how often the model is asked. The model starts
// dry or raining with the long-run odds at the first time it is asked
// about. Rain is safe for concurrent use.
type Rain struct {
	opt RainOptions

	mu       sync.Mutex
	rng      *rand.Rand
	started  bool
	last     time.Time
	raining  bool
	eventEnd time.Time // end of the current event, while raining
	base     float64   // the event's mean intensity, mm/h
	wander   ou        // log-intensity around base
	segStart time.Time // start of the current step of constant intensity
	segEnd   time.Time
	rate     float64 // mm/h over the current step
	total    float64 // mm fallen before segStart
}

// NewRain returns a rain model with the options applied.
func NewRain(opt RainOptions) *Rain {
	if opt.MeanDry <= 0 {
		opt.MeanDry = 12 * time.Hour
	}
	if opt.MeanEvent <= 0 {
		opt.MeanEvent = time.Hour
	}
	if opt.MeanIntensity <= 0 {
		opt.MeanIntensity = 1.5
	}
	if opt.Tip <= 0 {
		opt.Tip = RainTip
	}
	return &Rain{opt: opt, rng: newRand(opt.Seed, 0x7a1), wander: ou{sigma: rainSigma, tau: rainTau}}
}

// Options returns the options in effect, defaults filled in.
func (r *Rain) Options() RainOptions { return r.opt }

// At returns the rain at t, advancing the model from the last time it was
// asked. A t before that time is treated as that time.
func (r *Rain) At(t time.Time) RainState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || t.Sub(r.last) > 1000*(r.opt.MeanDry+r.opt.MeanEvent) {
		// First call, or a long gap: start afresh (keeping what has
		// fallen) rather than replay every event in between.
		r.started = true
		r.last = t
		r.segStart = t
		wet := float64(r.opt.MeanEvent) / float64(r.opt.MeanDry+r.opt.MeanEvent)
		if r.rng.Float64() < wet {
			r.startEvent()
		} else {
			r.raining = false
			r.rate = 0
			r.segEnd = t.Add(r.spell(r.opt.MeanDry))
		}
	}
	if t.Before(r.last) {
		t = r.last
	}
	r.last = t
	for !t.Before(r.segEnd) {
		r.total += r.rate * r.segEnd.Sub(r.segStart).Hours()
		r.segStart = r.segEnd
		r.nextStep()
	}
	total := r.total + r.rate*t.Sub(r.segStart).Hours()
	return RainState{
		Raining:   r.raining,
		Intensity: r.rate,
		Total:     total,
		Tips:      uint64(math.Floor(total / r.opt.Tip)),
	}
}

// nextStep draws the step that starts at segStart.
func (r *Rain) nextStep() {
	switch {
	case r.raining && r.segStart.Before(r.eventEnd):
		r.wander.step(r.rng, rainStep)
		r.setRate()
	case r.raining:
		r.raining = false
		r.rate = 0
		r.segEnd = r.segStart.Add(r.spell(r.opt.MeanDry))
	default:
		r.startEvent()
	}
}

// startEvent starts a rain event at segStart.
func (r *Rain) startEvent() {
	r.raining = true
	r.eventEnd = r.segStart.Add(r.spell(r.opt.MeanEvent))
	r.base = r.opt.MeanIntensity * r.rng.ExpFloat64()
	r.wander.x = rainSigma * r.rng.NormFloat64()
	r.setRate()
}

// setRate sets the intensity of the step starting at segStart and its end.
func (r *Rain) setRate() {
	// exp(x - σ²/2) has mean 1, so the event keeps its drawn mean.
	r.rate = clamp(r.base*math.Exp(r.wander.x-rainSigma*rainSigma/2), 0, MaxRainIntensity)
	r.segEnd = r.segStart.Add(rainStep)
	if r.eventEnd.Before(r.segEnd) {
		r.segEnd = r.eventEnd
	}
}

// spell draws an exponentially distributed duration with the given mean, at
// least a second.
func (r *Rain) spell(mean time.Duration) time.Duration {
	return max(time.Duration(r.rng.ExpFloat64()*float64(mean)), time.Second)
}
