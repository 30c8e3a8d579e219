package actuate

import (
	"context"
	"sync"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sensors"
)

// watchQueue bounds the state samples a watcher holds for its emit; past
// it the oldest is dropped (the latest state is never lost).
const watchQueue = 64

// Sensors returns one sensor per actuator, named like it, whose Read
// returns the actuator's state (a switch: metric command.MetricOn, unit
// "1"; a level: command.MetricDuty, unit "%"). Each is a sensors.Watcher
// that emits the current state when it starts, then a sample on every change the controller makes (a command,
// max_on, a safe state), and on every safe state even when the value
// stays. Hand them to the agent like any sensor.
func (c *Controller) Sensors() []sensors.Sensor {
	ss := make([]sensors.Sensor, len(c.acts))
	for i, a := range c.acts {
		ss[i] = &stateSensor{c: c, a: a}
	}
	return ss
}

type stateSensor struct {
	c *Controller
	a *actuator
}

// Name returns the actuator's name.
func (s *stateSensor) Name() string { return s.a.spec.Name }

// Read returns the actuator's current state.
func (s *stateSensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.c.stMu.Lock()
	defer s.c.stMu.Unlock()
	return []sensors.Sample{s.a.sample()}, nil
}

// Watch emits the actuator's current state, then its state on each change,
// until ctx ends.
func (s *stateSensor) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	w := &watcher{wake: make(chan struct{}, 1)}
	s.c.stMu.Lock()
	if s.a.watchers == nil {
		s.a.watchers = map[*watcher]struct{}{}
	}
	s.a.watchers[w] = struct{}{}
	w.push(s.a.sample())
	s.c.stMu.Unlock()
	defer func() {
		s.c.stMu.Lock()
		delete(s.a.watchers, w)
		s.c.stMu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		}
		for _, smp := range w.take() {
			emit([]sensors.Sample{smp})
		}
	}
}

// sample is a's state as a sample. Call it under stMu.
func (a *actuator) sample() sensors.Sample {
	if a.spec.Kind == command.KindSwitch {
		return sensors.Sample{Metric: command.MetricOn, Value: a.value, Unit: sensors.UnitOne}
	}
	return sensors.Sample{Metric: command.MetricDuty, Value: a.value, Unit: sensors.UnitPercent}
}

// watcher is one Watch call's queue of samples.
type watcher struct {
	wake chan struct{}
	mu   sync.Mutex
	q    []sensors.Sample
}

func (w *watcher) push(s sensors.Sample) {
	w.mu.Lock()
	if len(w.q) >= watchQueue {
		w.q = w.q[1:]
	}
	w.q = append(w.q, s)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) take() []sensors.Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.q
	w.q = nil
	return q
}
