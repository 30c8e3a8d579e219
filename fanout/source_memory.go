package fanout

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// MemorySource is a Source fed in process: what its Publish and SetStatus
// are given reaches the sink of its running Run. The edge can serve its own
// readings through one; tests feed a hub with one instead of Redis.
//
// The zero value is ready to use and not live ("waiting for the live feed").
// All methods are safe for concurrent use.
type MemorySource struct {
	mu      sync.RWMutex
	sink    Sink // while Run runs
	status  reading.Status
	changed bool // SetStatus was called
}

// Publish hands one reading of device, stamped ts (zero if unknown), to the
// running sink; raw is its canonical JSON, not modified afterwards. It never
// blocks. It reports false, dropping the reading, while Run is not running.
func (s *MemorySource) Publish(device string, ts time.Time, raw []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.sink == nil {
		return false
	}
	s.sink.Publish(device, ts, raw)
	return true
}

// PublishEvent hands one event frame about device to the running sink (see
// Sink.PublishEvent). It reports false, dropping it, while Run is not running.
func (s *MemorySource) PublishEvent(device string, frame []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.sink == nil {
		return false
	}
	s.sink.PublishEvent(device, frame)
	return true
}

// SetStatus records whether live readings flow, for Ready and for the sink,
// which gets it now if Run is running, or else when Run starts.
func (s *MemorySource) SetStatus(live bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.changed = reading.Status{Live: live, Reason: reason}, true
	if s.sink != nil {
		s.sink.SetStatus(live, reason)
	}
}

// Ready returns nil while the last SetStatus said live, and otherwise an
// error with its reason.
func (s *MemorySource) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case !s.changed:
		return errWaiting
	case s.status.Live:
		return nil
	case s.status.Reason == "":
		return errors.New("not live")
	}
	return errors.New(s.status.Reason)
}

var errWaiting = errors.New("waiting for the live feed")

// Run delivers to sink until ctx is done. It first gives sink the status of
// the last SetStatus, if any. Only one Run may run at a time.
func (s *MemorySource) Run(ctx context.Context, sink Sink) error {
	s.mu.Lock()
	if s.sink != nil {
		s.mu.Unlock()
		return errors.New("fanout: memory source already running")
	}
	s.sink = sink
	if s.changed {
		sink.SetStatus(s.status.Live, s.status.Reason)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.sink = nil
	s.mu.Unlock()
	return nil
}
