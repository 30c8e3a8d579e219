package sensorstest

import (
	"context"
	"sync"
	"time"
)

// DefaultStart is what a Clock reads before it moves, unless Start says
// otherwise.
var DefaultStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Clock is a fake clock that moves only when told: share it between an
// emulated chip (its Now) and a driver (its wait, Sleep), so that a
// driver's wait for the chip passes at once and exactly. Set Start before
// first use; it is safe for concurrent use after that.
type Clock struct {
	// Start is what the clock reads before it first moves. Default (zero)
	// DefaultStart.
	Start time.Time

	mu    sync.Mutex
	moved time.Duration
}

// Now returns Start plus every Advance and Sleep so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.Start
	if start.IsZero() {
		start = DefaultStart
	}
	return start.Add(c.moved)
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moved += d
}

// Set moves the clock to read t, forward or back: a wall clock stepped by
// a time daemon, or time passing for a component that takes a Now func.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.Start
	if start.IsZero() {
		start = DefaultStart
	}
	c.moved = t.Sub(start)
}

// Sleep is a driver's wait (sensors.Sleep) on this clock: it returns ctx's
// error if ctx has ended, or else advances the clock d and returns at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}
