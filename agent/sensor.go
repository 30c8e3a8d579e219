package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// Sensor states, as Health reports them.
const (
	SensorStarting = "starting" // not read yet
	SensorOK       = "ok"       // the last read succeeded
	SensorFailing  = "failing"  // the last read failed, fewer than DownAfter in a row
	SensorDown     = "down"     // DownAfter or more reads in a row failed; retried with backoff
)

// SensorHealth is what the agent knows of one sensor.
type SensorHealth struct {
	Sensor string `json:"sensor"`
	State  string `json:"state"`
	// Simulated is SensorConfig.Simulated: a simulation stands in for
	// missing hardware.
	Simulated bool `json:"simulated"`
	// Errors is how many reads failed in a row (0 when the last succeeded).
	Errors int `json:"errors"`
	// LastError and LastErrorKind describe the most recent failure, if any
	// (kinds as sensors.ErrorKind); they stay after a recovery.
	LastError     string `json:"last_error,omitempty"`
	LastErrorKind string `json:"last_error_kind,omitempty"`
	// LastOK is when a read last succeeded (zero if never).
	LastOK time.Time `json:"last_ok,omitzero"`
	// NextRead is when the agent reads the sensor next.
	NextRead time.Time `json:"next_read,omitzero"`
}

// sensorRun is one sensor's loop and its health.
type sensorRun struct {
	cfg SensorConfig
	lim *lograte.Limiter // used by the loop goroutine only

	// The loop hands each Read to the sensor's reader goroutine (startReader)
	// and waits for it at most cfg.Timeout. Used by the loop goroutine only.
	reads   chan context.Context // a Read to run, with its context
	results chan readResult      // its result; buffered, so a late one never blocks
	running time.Time            // when the Read still running began; zero if none

	mu      sync.Mutex
	h       SensorHealth
	invalid *lograte.Limiter // of invalid samples, from the loop and the watcher
}

// Health reports the state of every sensor, in configuration order. It is
// safe to call at any time, also before Run.
func (a *Agent) Health() []SensorHealth {
	out := make([]SensorHealth, len(a.sensors))
	for i, s := range a.sensors {
		s.mu.Lock()
		out[i] = s.h
		s.mu.Unlock()
	}
	return out
}

// sample reads s now and then every interval until ctx ends. After a failed
// read it retries on the interval; once the sensor is down (DownAfter
// failures in a row), it backs off exponentially, with jitter, up to
// SensorBackoffMax, so that a missing chip does not keep a bus busy. A
// sensor that answers again is back on its interval at once. Each read is
// bounded by the sensor's timeout (sensorRun.read).
func (a *Agent) sample(ctx context.Context, s *sensorRun) {
	s.startReader()
	defer close(s.reads) // the reader ends once its Read, if any, returns
	if w, ok := s.cfg.Sensor.(sensors.Watcher); ok {
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.watch(ctx, s, w)
		}()
		defer func() { <-done }() // Run returns only once Watch has
	}
	next := time.Now()
	for {
		failures := a.readOnce(ctx, s)
		now := time.Now()
		wait := s.cfg.Interval
		if failures >= a.opt.DownAfter {
			wait = a.sensorBackoff(s.cfg.Interval, failures-a.opt.DownAfter)
			next = now.Add(wait)
		} else {
			// Keep the cadence: the next tick after now.
			next = next.Add(wait)
			if next.Before(now) {
				next = now.Add(wait - now.Sub(next)%wait)
			}
		}
		s.mu.Lock()
		s.h.NextRead = a.opt.Now().Add(next.Sub(now))
		s.mu.Unlock()
		if !backoff.Sleep(ctx, next.Sub(now)) {
			return
		}
	}
}

// sensorBackoff is the wait before the n-th (0-based) retry of a down
// sensor: full jitter up to min(SensorBackoffMax, interval*2^(n+1))
// (internal/backoff), but never less than the interval.
func (a *Agent) sensorBackoff(interval time.Duration, n int) time.Duration {
	p := backoff.Policy{Min: min(2*interval, a.opt.SensorBackoffMax), Max: a.opt.SensorBackoffMax}
	return max(interval, p.Delay(n))
}

// readOnce reads s once and queues its readings. It returns how many reads
// in a row have now failed.
func (a *Agent) readOnce(ctx context.Context, s *sensorRun) int {
	name := s.cfg.Sensor.Name()
	samples, err := s.read(ctx)
	if ctx.Err() != nil {
		return 0 // stopping; a read cut short is not an error
	}
	if err != nil {
		kind := sensors.ErrorKind(err)
		a.m.sensorErrors.WithLabelValues(name, kind).Inc()
		a.m.sensorUp.WithLabelValues(name).Set(0)
		s.mu.Lock()
		s.h.Errors++
		s.h.LastError, s.h.LastErrorKind = err.Error(), kind
		s.h.State = SensorFailing
		if s.h.Errors >= a.opt.DownAfter {
			s.h.State = SensorDown
		}
		failures := s.h.Errors
		s.mu.Unlock()
		if n, ok := s.lim.Fail(a.opt.Now()); ok {
			a.log.Warn("sensor read failed", "sensor", name, "kind", kind, "err", err, "errors_since_last_log", n)
		}
		return failures
	}
	if n, ok := s.lim.OK(); ok {
		a.log.Info("sensor recovered", "sensor", name, "errors", n)
	}
	s.mu.Lock()
	s.h.State, s.h.Errors, s.h.LastOK = SensorOK, 0, a.opt.Now()
	s.mu.Unlock()
	a.m.sensorUp.WithLabelValues(name).Set(1)
	a.emitSamples(s, samples)
	return 0
}

// readResult is what one Read returned.
type readResult struct {
	samples []sensors.Sample
	err     error
}

// startReader starts the goroutine that runs s's Reads, one at a time, until
// s.reads is closed.
func (s *sensorRun) startReader() {
	s.reads = make(chan context.Context, 1)
	s.results = make(chan readResult, 1)
	go func() {
		for ctx := range s.reads {
			samples, err := safeRead(ctx, s.cfg.Sensor)
			s.results <- readResult{samples, err}
		}
	}()
}

// read runs one Read and waits for it at most s.cfg.Timeout, or until ctx
// ends. A Read still running then is abandoned to its goroutine: read
// returns a timeout error, and so does every later call until that Read
// has returned, so that the sensor is never read twice at a time.
func (s *sensorRun) read(ctx context.Context) ([]sensors.Sample, error) {
	if !s.running.IsZero() {
		select {
		case <-s.results: // too late to be of use
			s.running = time.Time{}
		default:
			return nil, &readTimeout{running: time.Since(s.running), timeout: s.cfg.Timeout}
		}
	}
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.reads <- rctx
	select {
	case r := <-s.results:
		return r.samples, r.err
	case <-rctx.Done():
	}
	select {
	case r := <-s.results: // returned as its context ended
		return r.samples, r.err
	default:
	}
	s.running = began
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, &readTimeout{running: time.Since(began), timeout: s.cfg.Timeout}
}

// readTimeout is a Read still running after its timeout. Its kind is
// "timeout": it unwraps to context.DeadlineExceeded.
type readTimeout struct {
	running, timeout time.Duration
}

func (e *readTimeout) Error() string {
	return fmt.Sprintf("read still running after %v (timeout %v)", e.running.Round(time.Millisecond), e.timeout)
}

func (e *readTimeout) Unwrap() error { return context.DeadlineExceeded }

// watch runs a Watcher's Watch until ctx ends, queueing each change.
func (a *Agent) watch(ctx context.Context, s *sensorRun, w sensors.Watcher) {
	err := safeWatch(ctx, w, func(samples []sensors.Sample) { a.emitSamples(s, slices.Clone(samples)) })
	if err != nil && ctx.Err() == nil {
		a.log.Warn("sensor cannot report changes as they happen; reading it on its interval only",
			"sensor", s.cfg.Sensor.Name(), "err", err)
	}
}

// emitSamples turns samples of s into readings and queues them (emit
// stamps them); an invalid sample is counted and dropped.
func (a *Agent) emitSamples(s *sensorRun, samples []sensors.Sample) {
	name := s.cfg.Sensor.Name()
	rs := make([]reading.Reading, 0, len(samples))
	for _, smp := range samples {
		r := reading.Reading{Device: a.cfg.Device, Sensor: name, Metric: smp.Metric, Value: smp.Value, Unit: smp.Unit, Time: validTime, Seq: 1}
		if err := r.Validate(); err != nil {
			a.m.sensorErrors.WithLabelValues(name, "invalid").Inc()
			a.lose(DropInvalid, 1)
			s.mu.Lock()
			n, ok := s.invalid.Fail(a.opt.Now())
			s.mu.Unlock()
			if ok {
				a.log.Warn("sensor returned an invalid sample", "sensor", name, "err", err, "errors_since_last_log", n)
			}
			continue
		}
		rs = append(rs, r) // emit stamps it
	}
	a.emit(name, rs)
}

// validTime is any time reading.Validate accepts; samples are validated
// before the clock is known to be right.
var validTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// errPanic is the kind of a read that panicked: a driver bug, counted like
// any failure instead of taking the agent down.
var errPanic = errors.New("sensor panicked")

// safeRead is s.Read, with a panic turned into an error.
func safeRead(ctx context.Context, s sensors.Sensor) (samples []sensors.Sample, err error) {
	defer func() {
		if p := recover(); p != nil {
			samples, err = nil, fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return s.Read(ctx)
}

// safeWatch is w.Watch, with a panic turned into an error.
func safeWatch(ctx context.Context, w sensors.Watcher, emit func([]sensors.Sample)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return w.Watch(ctx, emit)
}
