// Package sensorstest holds fakes for tests of sensors and their drivers:
// a fake sensors.Sensor and a fake Clock (for sensors.Sleep and an emulated
// chip's Now). They are plain structs with exported fields, no mocking
// framework.
package sensorstest

import (
	"context"
	"sync"

	"github.com/tributary-iot/tributary/sensors"
)

// Sensor is a fake sensor. Set its fields before handing it to an agent;
// afterwards change the failure only through SetErr. It is safe for
// concurrent use.
type Sensor struct {
	// ID is what Name returns.
	ID string
	// Samples is what every successful Read returns (a copy).
	Samples []sensors.Sample

	mu    sync.Mutex
	err   error
	reads int
	fails int
}

// Name returns s.ID.
func (s *Sensor) Name() string { return s.ID }

// Read returns a copy of s.Samples, or the error set with SetErr.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.err != nil {
		s.fails++
		return nil, s.err
	}
	return append([]sensors.Sample(nil), s.Samples...), nil
}

// SetErr makes every following Read fail with err (nil: succeed again).
func (s *Sensor) SetErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Reads returns how many times Read was called, and how many of those failed.
func (s *Sensor) Reads() (reads, fails int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads, s.fails
}
