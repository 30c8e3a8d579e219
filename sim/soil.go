package sim

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// SoilOptions configure a Soil. The zero value is a bed of loam in a
// temperate garden, watered or rained on every few days; each field says
// its default. Contents are volumetric water contents in percent (the
// volume of water per volume of soil).
type SoilOptions struct {
	// Seed selects the random stream. Equal seeds give equal soils.
	Seed uint64
	// FieldCapacity is the content, %, the soil holds once the excess of
	// a soaking has drained away: the ceiling of the model. Default 40.
	FieldCapacity float64
	// Residual is the content, %, the soil dries toward and never goes
	// below (water held too tightly to evaporate). Default 5; for 0 use a
	// tiny value such as 0.001.
	Residual float64
	// Initial is the content, %, at the first time asked about. Default
	// 30; for 0 use a tiny value.
	Initial float64
	// DryingTime is how fast the soil dries at the day's mean
	// evaporation: after DryingTime the water above Residual is down to
	// 1/e (37 %) of what it was. Evaporation follows the sun: about 2.7
	// times the mean at 13:00, a fifth of it at night. Default 3 days.
	DryingTime time.Duration
	// MeanInterval is the mean time between watering or rain events,
	// which come as a Poisson process. Default 3 days; negative: never.
	MeanInterval time.Duration
	// MeanRise is the mean rise of the content per event, % (exponentially
	// distributed: mostly a sprinkle, now and then a soaking), capped at
	// FieldCapacity. Default 15.
	MeanRise float64
	// Location is the time zone of the daily evaporation cycle. Default
	// UTC.
	Location *time.Location
	// DryVolts and WetVolts are what the capacitive probe outputs at 0 %
	// and at 100 % content (in dry air and in water); the model's probe is
	// linear between them. Defaults 2.8 and 1.2, the "capacitive soil
	// moisture sensor v1.2" sold everywhere, powered at 3.3 V. A real
	// probe is not linear in volumetric content and depends on the soil:
	// calibrate it in its own soil, dry and just watered.
	DryVolts, WetVolts float64
	// IrrigationTime is how fast an open valve wets the soil around the
	// probe (SetIrrigation): the gap to FieldCapacity closes to 1/e (37 %)
	// in IrrigationTime at full flow. Default 90 seconds.
	IrrigationTime time.Duration
}

// SoilState is a soil's state at one moment.
type SoilState struct {
	// Moisture is the volumetric water content, %, within
	// Residual..FieldCapacity. It is the model's noiseless state.
	Moisture float64
	// Volts is the capacitive probe's output, V, with a few millivolts of
	// noise: lower when wetter.
	Volts float64
}

// Internal constants of the soil model.
const (
	soilNightEvaporation = 0.2              // night evaporation, fraction of the daily mean
	soilStep             = 15 * time.Minute // integration step of the drying
	soilProbeNoise       = 0.003            // V, probe noise per sample
)

// Soil models the water in a bed of soil where a capacitive moisture
// probe is buried: it dries exponentially toward Residual, faster by day
// than by night, and jumps up at watering or rain events that come at
// random (a Poisson process), never above FieldCapacity. It is safe for
// concurrent use.
type Soil struct {
	opt SoilOptions

	mu    sync.Mutex
	rng   *rand.Rand
	last  time.Time // zero until the first At
	theta float64   // content at last, %
	next  time.Time // the next watering event; zero if none
	flow  float64   // irrigation, 0..1 (SetIrrigation)
}

// NewSoil returns a soil with the options applied.
func NewSoil(opt SoilOptions) *Soil {
	if opt.FieldCapacity == 0 {
		opt.FieldCapacity = 40
	}
	if opt.Residual == 0 {
		opt.Residual = 5
	}
	if opt.Initial == 0 {
		opt.Initial = 30
	}
	opt.Initial = clamp(opt.Initial, opt.Residual, opt.FieldCapacity)
	if opt.DryingTime <= 0 {
		opt.DryingTime = 72 * time.Hour
	}
	if opt.MeanInterval == 0 {
		opt.MeanInterval = 72 * time.Hour
	}
	if opt.MeanRise <= 0 {
		opt.MeanRise = 15
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.DryVolts == 0 {
		opt.DryVolts = 2.8
	}
	if opt.WetVolts == 0 {
		opt.WetVolts = 1.2
	}
	if opt.IrrigationTime <= 0 {
		opt.IrrigationTime = 90 * time.Second
	}
	return &Soil{opt: opt, rng: newRand(opt.Seed, 0x5011)}
}

// Options returns the options in effect, defaults filled in.
func (s *Soil) Options() SoilOptions { return s.opt }

// Evaporation is the evaporation rate at t as a multiple of the daily
// mean: a fifth of it at night, rising with the sun from 07:00 to a peak
// of about 2.7 at 13:00 local time, back to the night's rate at 19:00.
// Its mean over a day is 1.
func (s *Soil) Evaporation(t time.Time) float64 {
	lt := t.In(s.opt.Location)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
	sun := math.Max(0, math.Sin(math.Pi*(h-7)/12))
	// The mean of sun over a day is 1/π: scale it so the mean rate is 1.
	return soilNightEvaporation + (1-soilNightEvaporation)*math.Pi*sun
}

// At returns the soil's state at t, advancing the model from the last time
// it was asked. A t before that time is treated as that time.
func (s *Soil) At(t time.Time) SoilState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(t)
	frac := s.theta / 100
	v := s.opt.DryVolts + (s.opt.WetVolts-s.opt.DryVolts)*frac + soilProbeNoise*s.rng.NormFloat64()
	return SoilState{Moisture: s.theta, Volts: v}
}

// SetIrrigation opens an irrigation valve from t on (flow 0: closed, 1:
// fully open; clamped): while it is open the content rises toward
// FieldCapacity within a minute or two (IrrigationTime), then dries as
// before once it is closed. A t before the latest time asked about counts
// as that time.
func (s *Soil) SetIrrigation(t time.Time, flow float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(t)
	s.flow = clamp(flow, 0, 1)
}

// Irrigation returns the flow SetIrrigation last set.
func (s *Soil) Irrigation() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flow
}

// advance brings the model to t: events, drying and irrigation; s.mu held.
func (s *Soil) advance(t time.Time) {
	if s.last.IsZero() {
		s.last = t
		s.theta = s.opt.Initial
		s.next = s.nextEvent(t)
	}
	if t.Before(s.last) {
		t = s.last
	}
	// After a long gap (a suspended clock, a sparse caller) restart the
	// events instead of replaying every one in between.
	if !s.next.IsZero() && t.Sub(s.next) > 1000*s.opt.MeanInterval {
		s.next = s.nextEvent(t)
	}
	for !s.next.IsZero() && !t.Before(s.next) {
		s.dry(s.next)
		s.theta = math.Min(s.opt.FieldCapacity, s.theta+s.opt.MeanRise*s.rng.ExpFloat64())
		s.next = s.nextEvent(s.next)
	}
	s.dry(t)
}

// dry integrates the drying from s.last to t, each step's rate taken at
// its middle, with the step's exact exponential decay.
func (s *Soil) dry(t time.Time) {
	dt := t.Sub(s.last)
	step := max(soilStep, dt/10000) // bound the work after a long gap
	for dt > 0 {
		h := min(step, dt)
		rate := s.Evaporation(s.last.Add(h/2)) / float64(s.opt.DryingTime)
		if s.flow == 0 {
			s.theta = s.opt.Residual + (s.theta-s.opt.Residual)*math.Exp(-rate*float64(h))
		} else {
			// dθ/dt = -rate(θ-Residual) + wet(FieldCapacity-θ), exactly.
			wet := s.flow / float64(s.opt.IrrigationTime)
			eq := (rate*s.opt.Residual + wet*s.opt.FieldCapacity) / (rate + wet)
			s.theta = eq + (s.theta-eq)*math.Exp(-(rate+wet)*float64(h))
		}
		s.last = s.last.Add(h)
		dt -= h
	}
	s.last = t
}

// nextEvent draws the time of the watering event after t, or zero if
// there are none.
func (s *Soil) nextEvent(t time.Time) time.Time {
	if s.opt.MeanInterval < 0 {
		return time.Time{}
	}
	return t.Add(max(time.Duration(s.rng.ExpFloat64()*float64(s.opt.MeanInterval)), time.Second))
}
