package sht4x

import (
	"context"
	"time"
)

// SetWait replaces how s waits for the chip, so that tests and benchmarks
// can drive a fake clock.
func SetWait(s *Sensor, wait func(ctx context.Context, d time.Duration) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wait = wait
}
