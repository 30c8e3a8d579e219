package proctest

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// Run is a binary's run function running in a goroutine of the test, with
// its log: the in-process twin of Proc.
type Run struct {
	Log *Log

	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	stopped bool  // Stop has returned
	err     error // what f returned
}

// Go runs f in a goroutine, with its log written to Log, until Stop or the
// end of the test. At the end of the test it stops f and fails the test if
// f returned an error that the test did not take with Stop.
func Go(tb testing.TB, f func(ctx context.Context, log io.Writer) error) *Run {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{Log: &Log{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f(ctx, r.Log) }()
	tb.Cleanup(func() {
		r.mu.Lock()
		taken := r.stopped
		r.mu.Unlock()
		if err := r.Stop(tb); err != nil && !taken {
			tb.Errorf("run: %v", err)
		}
	})
	return r
}

// Stop cancels f's context and returns what f returned, failing the test if
// f has not returned within 30 s. It may be called more than once.
func (r *Run) Stop(tb testing.TB) error {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return r.err
	}
	r.cancel()
	select {
	case r.err = <-r.done:
	case <-time.After(30 * time.Second):
		tb.Fatal("run did not return within 30s of cancellation")
	}
	r.stopped = true
	return r.err
}
