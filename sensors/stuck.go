package sensors

import (
	"fmt"
	"slices"
)

// DefaultStuckAfter is how many identical raw readings in a row a
// StuckDetector takes for a stuck chip when not told otherwise: at a read a
// second, five minutes of not one least-significant bit of change, which
// the noise of every supported ADC makes implausible.
const DefaultStuckAfter = 300

// StuckDetector notices a chip that keeps returning the very same raw ADC
// words: a frozen measurement (a chip stuck in sleep mode, a latched
// register, a hung 1-wire slave). Drivers feed it the raw values of each
// read (not the converted ones, whose rounding can hide change). It is not
// safe for concurrent use; a sensor's reads are sequential.
type StuckDetector struct {
	after int
	last  []uint64
	same  int
}

// NewStuckDetector returns a detector that reports a stuck value once the
// same raw words have been seen after times in a row (DefaultStuckAfter if
// after is 0). after = 1 would report every read; use 2 or more. A
// negative after turns detection off: it returns nil, whose Check always
// passes, for inputs that may legitimately hold still.
func NewStuckDetector(after int) *StuckDetector {
	if after < 0 {
		return nil
	}
	if after == 0 {
		after = DefaultStuckAfter
	}
	return &StuckDetector{after: after}
}

// Check records one read's raw words and returns an error wrapping ErrStuck
// if they equal the previous after-1 reads' words. Any change resets it.
func (d *StuckDetector) Check(raw ...uint64) error {
	if d == nil {
		return nil
	}
	if slices.Equal(raw, d.last) {
		d.same++
	} else {
		d.last = append(d.last[:0], raw...)
		d.same = 1
	}
	if d.same >= d.after {
		return fmt.Errorf("%w: raw %#x unchanged for %d reads", ErrStuck, raw, d.same)
	}
	return nil
}

// Reset forgets what was seen, as after the chip was re-initialised.
func (d *StuckDetector) Reset() {
	if d == nil {
		return
	}
	d.last = d.last[:0]
	d.same = 0
}
