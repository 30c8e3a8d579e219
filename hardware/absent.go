package hardware

import (
	"context"
	"fmt"
	"sync"

	"github.com/tributary-iot/tributary/sensors"
)

// absent returns a stand-in for sp, whose hardware failed to open with
// err: each Read tries to open it again and, until that succeeds, fails
// with the open's error, so that the agent shows the sensor down with the
// error's kind and retries it with its backoff. Once open, it is the
// sensor.
func (h *opener) absent(sp spec, err error) sensors.Sensor {
	a := &absent{spec: sp, h: h, ready: make(chan struct{}), lastErr: err}
	if sp.driver.kind() == kindGPIO {
		return &absentWatcher{a}
	}
	return a
}

// absent is a sensor whose hardware is missing; see opener.absent.
type absent struct {
	spec spec
	h    *opener

	mu      sync.Mutex
	s       sensors.Sensor // nil until opened
	ready   chan struct{}  // closed once s is set
	lastErr error
	closed  bool
}

func (a *absent) Name() string { return a.spec.name }

// Read opens the sensor if it is not yet, then reads it.
func (a *absent) Read(ctx context.Context) ([]sensors.Sample, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, fmt.Errorf("sensor %s: read after Close", a.spec.name)
	}
	if a.s == nil {
		s, err := a.h.open(a.spec)
		if err != nil {
			a.lastErr = err
			a.mu.Unlock()
			return nil, err
		}
		a.s = s
		close(a.ready)
		a.h.log.Info(fmt.Sprintf("sensor %s: hardware found; reading it", a.spec.name))
	}
	s := a.s
	a.mu.Unlock()
	return s.Read(ctx)
}

// Close closes the sensor if it was opened.
func (a *absent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	s := a.s
	a.mu.Unlock()
	if c, ok := s.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// absentWatcher is an absent sensor that reports changes once opened.
type absentWatcher struct{ *absent }

// Watch waits for the sensor to be opened, then watches it.
func (a *absentWatcher) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w, ok := a.s.(sensors.Watcher); ok {
		return w.Watch(ctx, emit)
	}
	<-ctx.Done()
	return ctx.Err()
}
