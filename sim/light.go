package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// LightOptions configure a Light. The zero value is daylight outdoors on a
// day with twelve hours of sun and some clouds; each field says its default.
type LightOptions struct {
	// Seed selects the random stream. Equal seeds give equal light.
	Seed uint64
	// Sunrise and Sunset are the local hours (0-24, fractions allowed) at
	// which the sun rises and sets. Defaults 6 and 18 (0 means the
	// default); if Sunset is not after Sunrise both take their defaults.
	Sunrise, Sunset float64
	// Location is the time zone of Sunrise and Sunset. Default UTC.
	Location *time.Location
	// Noon is the illuminance of a clear sky at the middle of the day,
	// outdoors, in lx. Default 100000 (full summer sun); 30000 is a winter
	// noon at temperate latitudes.
	Noon float64
	// Cloudiness is the mean cloud cover, from 0 (clear) to 1 (overcast),
	// around which the cover wanders over hours. Default 0.4; negative
	// means a sky that is always clear.
	Cloudiness float64
	// Indoor scales daylight by DaylightFactor, as for a sensor inside a
	// room lit by its windows. No artificial light is modelled: an indoor
	// sensor too reads 0 at night.
	Indoor bool
	// DaylightFactor is the fraction of outdoor light an indoor sensor
	// receives. Default 0.02 (2 %, a room with ordinary windows, a few
	// metres in); used only when Indoor.
	DaylightFactor float64
}

// Internal constants of the light model.
const (
	lightHorizon     = 0.004            // fraction of Noon at sunrise and sunset: 400 lx of 100000
	lightElevExp     = 1.3              // clear sky ∝ (sine of the sun's height)^1.3
	lightTwilightTau = 6 * time.Minute  // decay of twilight: 400 lx to 3 lx in 30 minutes
	lightDark        = 0.01             // lx; below this twilight is night: 0
	coverSigma       = 0.25             // cloud cover wander around Cloudiness
	coverTau         = 2 * time.Hour    //
	sunTau           = 4 * time.Minute  // how long a cloud takes to pass
	sunEdge          = 0.35             // softness of a cloud's edge, in units of the sun process
	sunFade          = 15 * time.Second // how long the sun takes to fade out behind a cloud's rim
	lightNoise       = 0.005            // relative, per sample
)

// Light models the illuminance at one place, in lx: daylight rising from
// sunrise to a peak midway to sunset and falling again, twilight fading out
// within an hour of sunset (and growing before sunrise), 0 at night. Clouds
// dim it: the cloud cover wanders slowly around its mean (a mean-reverting
// process), and the sun goes behind passing clouds and out again every few
// minutes, more often the more cover there is. Indoors, a fixed fraction of
// the daylight comes through the windows. It is safe for concurrent use.
type Light struct {
	opt LightOptions

	mu    sync.Mutex
	rng   *rand.Rand
	last  time.Time // zero until the first At
	cover ou        // around Cloudiness
	sun   ou        // stationary N(0,1): the sun shows while above a threshold set by the cover
	shown float64   // how much of the sun shows, 0..1, following the sun process with a lag of sunFade
}

// NewLight returns a light with the options applied.
func NewLight(opt LightOptions) *Light {
	if opt.Sunrise == 0 {
		opt.Sunrise = 6
	}
	if opt.Sunset == 0 {
		opt.Sunset = 18
	}
	if opt.Sunset <= opt.Sunrise || opt.Sunrise < 0 || opt.Sunset > 24 {
		opt.Sunrise, opt.Sunset = 6, 18
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Noon <= 0 {
		opt.Noon = 100000
	}
	switch {
	case opt.Cloudiness == 0:
		opt.Cloudiness = 0.4
	case opt.Cloudiness < 0:
		opt.Cloudiness = 0
	case opt.Cloudiness > 1:
		opt.Cloudiness = 1
	}
	if opt.DaylightFactor <= 0 {
		opt.DaylightFactor = 0.02
	}
	l := &Light{
		opt:   opt,
		rng:   newRand(opt.Seed, 0x119d7),
		cover: ou{sigma: coverSigma, tau: coverTau},
		sun:   ou{sigma: 1, tau: sunTau},
	}
	if opt.Cloudiness == 0 {
		l.cover.sigma = 0 // a clear sky stays clear
	}
	return l
}

// Options returns the options in effect, defaults filled in.
func (l *Light) Options() LightOptions { return l.opt }

// ClearSky is the noiseless illuminance of a cloudless sky at t, in lx
// (scaled by DaylightFactor when Indoor): the daylight curve At follows
// when there are no clouds.
func (l *Light) ClearSky(t time.Time) float64 {
	lt := t.In(l.opt.Location)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600 + float64(lt.Nanosecond())/3.6e12
	horizon := lightHorizon * l.opt.Noon
	var lx float64
	switch {
	case h >= l.opt.Sunrise && h <= l.opt.Sunset:
		e := math.Sin(math.Pi * (h - l.opt.Sunrise) / (l.opt.Sunset - l.opt.Sunrise))
		lx = horizon + (l.opt.Noon-horizon)*math.Pow(e, lightElevExp)
	default:
		// Twilight: the distance in time to the nearer of sunrise and
		// sunset, across midnight too.
		d := math.Min(dayDist(h, l.opt.Sunrise), dayDist(h, l.opt.Sunset))
		lx = horizon * math.Exp(-d*float64(time.Hour)/float64(lightTwilightTau))
		if lx < lightDark {
			lx = 0
		}
	}
	if l.opt.Indoor {
		lx *= l.opt.DaylightFactor
	}
	return lx
}

// dayDist is the distance in hours between two hours of the day, going
// either way round the clock.
func dayDist(a, b float64) float64 {
	d := math.Abs(a - b)
	return math.Min(d, 24-d)
}

// At returns the illuminance at t in lx, advancing the clouds from the last
// time it was asked. A t before that time is treated as that time.
func (l *Light) At(t time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.last.IsZero()
	if first {
		// Start the processes somewhere in their stationary range.
		l.cover.x = l.cover.sigma * l.rng.NormFloat64()
		l.sun.x = l.rng.NormFloat64()
		l.last = t
	}
	if t.Before(l.last) {
		t = l.last
	}
	dt := t.Sub(l.last)
	l.last = t
	l.cover.step(l.rng, dt)
	l.sun.step(l.rng, dt)

	noise := l.rng.NormFloat64() // drawn at night too, so the stream does not depend on the hour
	cover := clamp(l.opt.Cloudiness+l.cover.x, 0, 1)
	// The sun shows while the sun process is above the threshold below
	// which a standard normal falls with probability cover, with soft
	// edges, and fades in and out over sunFade as a cloud's rim passes.
	shown := 1.0
	switch {
	case cover >= 1:
		shown = 0
	case cover > 0:
		threshold := math.Sqrt2 * math.Erfinv(2*cover-1)
		shown = 1 / (1 + math.Exp(-(l.sun.x-threshold)/sunEdge))
	}
	if first {
		l.shown = shown
	}
	l.shown += (shown - l.shown) * (1 - math.Exp(-float64(dt)/float64(sunFade)))
	shown = l.shown
	sky := l.ClearSky(t)
	if sky == 0 {
		return 0
	}
	// In the sun: the clear sky, a little hazier under more cloud. In a
	// cloud's shadow: diffuse light only, 35 % of clear under a thin broken
	// cover down to 15 % under a thick overcast.
	sunlit := 1 - 0.1*cover
	shade := 0.15 + 0.2*(1-cover)
	lx := sky * (shade + (sunlit-shade)*shown) * (1 + lightNoise*noise)
	return max(lx, 0)
}
