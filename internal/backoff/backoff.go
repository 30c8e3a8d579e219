// Package backoff is the one retry policy of Tributary's clients: capped
// exponential backoff with full jitter, and a sleep that ends with its
// context.
//
// Full jitter (a wait drawn uniformly from zero to the exponential ceiling)
// is what a fleet needs: agents, bridges and relays that lost the same
// server at once neither come back in lockstep nor wait long after it is
// back.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is capped exponential backoff with full jitter. The zero value
// never waits.
type Policy struct {
	// Min is the ceiling of the first wait; each later attempt doubles it.
	Min time.Duration
	// Max caps the ceiling. A Max below Min counts as Min.
	Max time.Duration
}

// Ceiling is the longest wait before retry attempt (0-based):
// min(Max, Min·2^attempt), without overflow.
func (p Policy) Ceiling(attempt int) time.Duration {
	hi := max(p.Max, p.Min)
	if p.Min <= 0 {
		return 0
	}
	if attempt < 0 {
		attempt = 0
	}
	if attempt >= 62 || p.Min > hi>>attempt {
		return hi
	}
	return p.Min << attempt
}

// Delay is the wait before retry attempt (0-based): uniformly random in
// [0, Ceiling(attempt)].
func (p Policy) Delay(attempt int) time.Duration {
	c := p.Ceiling(attempt)
	if c <= 0 {
		return 0
	}
	return rand.N(c + 1)
}

// Sleep waits d or until ctx ends, whichever comes first; it reports
// whether it waited all of d. A d of zero or less returns true at once
// unless ctx has ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
