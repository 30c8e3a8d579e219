package sim

import (
	"math/rand/v2"
	"sync"
	"time"
)

// DoorOptions configure a Door. The zero value is a door used now and then;
// each field says its default.
type DoorOptions struct {
	// Seed selects the random stream. Equal seeds give equal doors.
	Seed uint64
	// MeanClosed is how long the door stays closed on average between
	// openings (openings are a Poisson process). Default 5 minutes.
	MeanClosed time.Duration
	// MeanOpen is how long it stays open on average (exponentially
	// distributed). Default 20 seconds.
	MeanOpen time.Duration
}

// Door models a door contact: closed most of the time, opening at random
// (exponentially distributed closed spells) and staying open a while. It
// starts closed at the first time it is asked about. It is safe for
// concurrent use.
type Door struct {
	opt DoorOptions

	mu   sync.Mutex
	rng  *rand.Rand
	open bool
	next time.Time // when the state flips next; zero before the first Open
}

// NewDoor returns a door with the options applied.
func NewDoor(opt DoorOptions) *Door {
	if opt.MeanClosed <= 0 {
		opt.MeanClosed = 5 * time.Minute
	}
	if opt.MeanOpen <= 0 {
		opt.MeanOpen = 20 * time.Second
	}
	return &Door{opt: opt, rng: newRand(opt.Seed, 0xd002)}
}

// Options returns the options in effect, defaults filled in.
func (d *Door) Options() DoorOptions { return d.opt }

// Open reports whether the door is open at t. A t before the latest time
// asked about is treated as that time.
func (d *Door) Open(t time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next.IsZero() {
		d.next = t.Add(d.spell(d.opt.MeanClosed))
	}
	// After a long gap (a suspended clock, a sparse caller) restart the
	// process instead of replaying every spell in between.
	if t.Sub(d.next) > 1000*(d.opt.MeanClosed+d.opt.MeanOpen) {
		d.open = false
		d.next = t.Add(d.spell(d.opt.MeanClosed))
	}
	for !t.Before(d.next) {
		d.open = !d.open
		mean := d.opt.MeanClosed
		if d.open {
			mean = d.opt.MeanOpen
		}
		d.next = d.next.Add(d.spell(mean))
	}
	return d.open
}

// spell draws an exponentially distributed duration with the given mean, at
// least a millisecond.
func (d *Door) spell(mean time.Duration) time.Duration {
	return max(time.Duration(d.rng.ExpFloat64()*float64(mean)), time.Millisecond)
}
