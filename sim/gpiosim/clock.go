package gpiosim

import (
	"context"
	"sync"
	"time"
)

// Clock is a virtual clock for lockstep emulation: the emulator advances it
// (see Options.Clock), drivers read it through their injectable clock
// (e.g. pulse.Options.Now = clock.Now). It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	changed chan struct{} // closed and replaced at every Advance
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{t: start, changed: make(chan struct{})} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d forward; a d <= 0 does nothing.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitUntil blocks until the clock reads t or later, or until ctx ends
// (then it returns ctx's error).
func (c *Clock) WaitUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	for c.t.Before(t) {
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}
