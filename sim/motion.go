package sim

import (
	"math/rand/v2"
	"sync"
	"time"
)

// MotionOptions configure a Motion. The zero value is a hallway passed now
// and then, seen by an HC-SR501 with its pots turned fully anticlockwise and
// its jumper in H (repeat trigger), as most boards ship; each field says
// its default.
type MotionOptions struct {
	// Seed selects the random stream. Equal seeds give equal rooms.
	Seed uint64
	// MeanVacant is how long nobody is in the sensor's field on average
	// between visits (arrivals are a Poisson process). Default 10 minutes.
	MeanVacant time.Duration
	// MeanVisit is how long a visit lasts on average (exponentially
	// distributed, at least 2 s). Default 2 minutes.
	MeanVisit time.Duration
	// MeanMoveGap is the mean time between movements large enough to
	// trigger the PIR while someone is there (a Poisson process). Arriving
	// and leaving are movements too. Default 10 seconds.
	MeanMoveGap time.Duration
	// Hold is the HC-SR501's time delay (its Tx pot, about 3 s to 5 min):
	// how long the output stays high after a trigger. Default 5 seconds.
	Hold time.Duration
	// Block is the lockout after the output falls, during which the
	// HC-SR501 ignores movement (fixed at about 2.5 s on the board).
	// Default 2.5 seconds; negative means none.
	Block time.Duration
	// SingleTrigger models the jumper in L: a movement while the output is
	// high does not extend it, so a busy room gives pulses of Hold, each
	// followed by Block. The default (false) is the jumper in H: every
	// movement restarts Hold, so the output stays high while someone moves.
	SingleTrigger bool
}

// MotionState is what a PIR sees at one moment.
type MotionState struct {
	Occupied bool // someone is in the sensor's field
	Output   bool // the sensor's output is high (motion reported)
}

// Motion models a passive-infrared motion sensor such as the HC-SR501 in a
// room: people arrive at random, stay a while and move now and then; each
// movement triggers the sensor unless it is in its lockout, and the output
// stays high for the hold time after a trigger (restarted by each movement
// in repeat-trigger mode). The sensor's one-minute warm-up after power-on
// is not modelled. The room starts vacant with the output low at the first
// time it is asked about. Motion is safe for concurrent use.
type Motion struct {
	opt MotionOptions

	mu         sync.Mutex
	rng        *rand.Rand
	started    bool
	last       time.Time
	occupied   bool
	nextToggle time.Time // next arrival (vacant) or departure (occupied)
	nextMove   time.Time // next movement; meaningful while occupied
	highUntil  time.Time // the output is high before this time
}

// NewMotion returns a motion model with the options applied.
func NewMotion(opt MotionOptions) *Motion {
	if opt.MeanVacant <= 0 {
		opt.MeanVacant = 10 * time.Minute
	}
	if opt.MeanVisit <= 0 {
		opt.MeanVisit = 2 * time.Minute
	}
	if opt.MeanMoveGap <= 0 {
		opt.MeanMoveGap = 10 * time.Second
	}
	if opt.Hold <= 0 {
		opt.Hold = 5 * time.Second
	}
	switch {
	case opt.Block == 0:
		opt.Block = 2500 * time.Millisecond
	case opt.Block < 0:
		opt.Block = 0
	}
	return &Motion{opt: opt, rng: newRand(opt.Seed, 0x9123)}
}

// Options returns the options in effect, defaults filled in.
func (m *Motion) Options() MotionOptions { return m.opt }

// Active reports whether the sensor's output is high at t: At(t).Output.
func (m *Motion) Active(t time.Time) bool { return m.At(t).Output }

// At returns the state at t, advancing the model from the last time it was
// asked. A t before that time is treated as that time.
func (m *Motion) At(t time.Time) MotionState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started || t.Sub(m.last) > 1000*(m.opt.MeanVacant+m.opt.MeanVisit) {
		// First call, or a long gap (a suspended clock, a sparse caller):
		// start vacant rather than replay every visit in between.
		m.started = true
		m.last = t
		m.occupied = false
		m.highUntil = time.Time{}
		m.nextToggle = t.Add(m.spell(m.opt.MeanVacant))
	}
	if t.Before(m.last) {
		t = m.last
	}
	for {
		ev, move := m.nextToggle, false
		if m.occupied && m.nextMove.Before(ev) {
			ev, move = m.nextMove, true
		}
		if ev.After(t) {
			break
		}
		if move {
			m.trigger(ev)
			m.nextMove = ev.Add(m.spell(m.opt.MeanMoveGap))
			continue
		}
		m.occupied = !m.occupied
		m.trigger(ev) // walking in or out is a movement
		if m.occupied {
			m.nextMove = ev.Add(m.spell(m.opt.MeanMoveGap))
			// Crossing the field takes a moment: visits last 2 s at least.
			m.nextToggle = ev.Add(max(m.spell(m.opt.MeanVisit), 2*time.Second))
		} else {
			m.nextToggle = ev.Add(m.spell(m.opt.MeanVacant))
		}
	}
	m.last = t
	return MotionState{Occupied: m.occupied, Output: t.Before(m.highUntil)}
}

// trigger is a movement at t, seen by the sensor as its output and lockout
// allow.
func (m *Motion) trigger(t time.Time) {
	switch {
	case t.Before(m.highUntil): // output high
		if !m.opt.SingleTrigger {
			m.highUntil = t.Add(m.opt.Hold)
		}
	case t.Before(m.highUntil.Add(m.opt.Block)): // locked out
	default:
		m.highUntil = t.Add(m.opt.Hold)
	}
}

// spell draws an exponentially distributed duration with the given mean, at
// least a millisecond.
func (m *Motion) spell(mean time.Duration) time.Duration {
	return max(time.Duration(m.rng.ExpFloat64()*float64(mean)), time.Millisecond)
}
