package actuatetest

import (
	"sync"
	"time"
)

// DefaultStart is what a Clock reads before it moves, unless Start says
// otherwise.
var DefaultStart = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

// Clock is a fake clock that moves only when told, with timers that fire
// when it reaches them: give its Now and NewTimer to actuate.Options. A
// timer set for a time the clock has reached fires at once, so a test may
// move the clock before or after the controller sets its timer and the
// timer fires either way. Set Start before first use; it is safe for
// concurrent use after that.
type Clock struct {
	// Start is what the clock reads before it first moves. Default (zero)
	// DefaultStart.
	Start time.Time

	mu     sync.Mutex
	moved  time.Duration
	timers map[*Timer]struct{}
}

// Timer is a timer of a Clock; it satisfies actuate.Timer.
type Timer struct {
	c  *Clock
	at time.Time
	ch chan time.Time
}

// Now returns Start plus every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

func (c *Clock) now() time.Time {
	start := c.Start
	if start.IsZero() {
		start = DefaultStart
	}
	return start.Add(c.moved)
}

// Advance moves the clock d forward and fires every timer it reaches.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moved += d
	now := c.now()
	for t := range c.timers {
		if !t.at.After(now) {
			t.ch <- now
			delete(c.timers, t)
		}
	}
}

// NewTimer returns a timer that fires once the clock reads at or later:
// at once if it already does.
func (c *Clock) NewTimer(at time.Time) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Timer{c: c, at: at, ch: make(chan time.Time, 1)}
	if now := c.now(); !at.After(now) {
		t.ch <- now
		return t
	}
	if c.timers == nil {
		c.timers = map[*Timer]struct{}{}
	}
	c.timers[t] = struct{}{}
	return t
}

// Timers returns how many timers wait for the clock to move.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// C returns the channel the timer fires on.
func (t *Timer) C() <-chan time.Time { return t.ch }

// Stop stops the timer; it reports whether it was still waiting.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}
