package gpioin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// DefaultDebounce is how long a level must hold to count when not told
// otherwise: longer than a reed switch or push button bounces (1 to 10 ms),
// short enough that a door is reported at once.
const DefaultDebounce = 50 * time.Millisecond

// DefaultPoll is the longest a watcher waits for an edge before it looks
// at ctx and re-reads the level.
const DefaultPoll = 100 * time.Millisecond

// Options configure a Sensor. The zero value reads a contact to ground
// with the pin's pull-up, reported as metric "state"; each field says its
// default.
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default the Metric.
	Name string
	// Metric is the metric reported: sensors.MetricState (default),
	// sensors.MetricDoor (0 closed, 1 open) or sensors.MetricMotion (0
	// still, 1 motion), or any valid metric name; the value is 0 or 1,
	// unit "1".
	Metric string
	// Pull is the pin's pull resistor: gpio.PullUp (default, for a contact
	// to ground), gpio.PullDown (a contact to 3.3 V) or gpio.Float (a
	// sensor that drives the line both ways, such as a PIR module, or an
	// external resistor). gpio.PullNoChange means the default.
	Pull gpio.Pull
	// Invert reports a low pin as 1 (active low). Default false: high is 1.
	// A normally-open door switch to ground with a pull-up reads low when
	// the door is shut: that is already 0 (closed) without Invert.
	Invert bool
	// Debounce is how long a level must hold, with no edge, before it
	// counts. Default DefaultDebounce; negative: none, every level seen
	// after an edge counts.
	Debounce time.Duration
	// Poll bounds each wait for an edge: how late Watch notices that ctx
	// ended, and how often it re-reads the level in case an edge was lost.
	// Default DefaultPoll.
	Poll time.Duration
}

// Sensor is a digital input on a GPIO pin: a door or window contact, a PIR
// motion detector, any switch. It reports the debounced level as 0 or 1:
// on demand (Read, a heartbeat) and as each change happens (Watch).
//
// It borrows the pin: it configures it as an input with edge detection and
// never closes or halts it. It is safe for concurrent use; one Watch at a
// time.
type Sensor struct {
	name     string
	metric   string
	pin      gpio.PinIn
	pull     gpio.Pull
	invert   bool
	debounce time.Duration
	poll     time.Duration
	edgeErr  error // why the pin cannot detect edges; nil if it can

	mu       sync.Mutex
	stable   gpio.Level // the debounced level
	watching bool
}

// Open returns a sensor on the pin registered with gpioreg as pinName
// ("GPIO17" on a Raspberry Pi once host.Init has run; an emulated pin's
// name in simulation). It fails with an error wrapping sensors.ErrNoDevice
// if there is no such pin.
func Open(pinName string, opt Options) (*Sensor, error) {
	p := gpioreg.ByName(pinName)
	if p == nil {
		return nil, fmt.Errorf("gpioin: pin %q: %w", pinName, sensors.ErrNoDevice)
	}
	return New(p, opt)
}

// New returns a sensor on p, after configuring p as an input with the pull
// resistor and edge detection on both edges. If p cannot detect edges, New
// still succeeds with the pin configured without them: Read works and
// Watch returns the reason. The level read now is taken as the debounced
// state.
func New(p gpio.PinIn, opt Options) (*Sensor, error) {
	if p == nil {
		return nil, errors.New("gpioin: nil pin")
	}
	if opt.Metric == "" {
		opt.Metric = sensors.MetricState
	}
	if opt.Name == "" {
		opt.Name = opt.Metric
	}
	if !reading.ValidID(opt.Name) {
		return nil, fmt.Errorf("gpioin: invalid sensor name %q", opt.Name)
	}
	if err := (sensors.Sample{Metric: opt.Metric, Unit: sensors.UnitOne}).Validate(); err != nil {
		return nil, fmt.Errorf("gpioin: metric: %w", err)
	}
	if opt.Pull == gpio.PullNoChange {
		opt.Pull = gpio.PullUp
	}
	if opt.Pull > gpio.PullUp {
		return nil, fmt.Errorf("gpioin: invalid pull %s", opt.Pull)
	}
	if opt.Debounce == 0 {
		opt.Debounce = DefaultDebounce
	}
	if opt.Debounce < 0 {
		opt.Debounce = 0
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	s := &Sensor{
		name: opt.Name, metric: opt.Metric, pin: p, pull: opt.Pull,
		invert: opt.Invert, debounce: opt.Debounce, poll: opt.Poll,
	}
	if err := p.In(opt.Pull, gpio.BothEdges); err != nil {
		s.edgeErr = err
		if err := p.In(opt.Pull, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("gpioin: configure %s as input: %w: %w", p, sensors.ErrBus, err)
		}
	}
	s.stable = p.Read()
	return s, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// Read returns the debounced state as one sample: the metric, 0 or 1,
// unit "1".
//
// While Watch runs, that is the state Watch last reported. Otherwise Read
// debounces on its own: if the pin reads differently from the last state,
// it samples the pin over the debounce time (blocking that long at most,
// or until ctx ends) and takes the new level only if it held throughout.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	stable, watching := s.stable, s.watching
	s.mu.Unlock()
	if !watching {
		if l := s.pin.Read(); l != stable {
			held, err := s.holds(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("gpioin %s: debounce: %w", s.name, err)
			}
			s.mu.Lock()
			if held && !s.watching {
				s.stable = l
			}
			stable = s.stable
			s.mu.Unlock()
		}
	}
	return []sensors.Sample{s.sample(stable)}, nil
}

// holds samples the pin five times over the debounce time and reports
// whether it read l every time.
func (s *Sensor) holds(ctx context.Context, l gpio.Level) (bool, error) {
	const samples = 5
	step := s.debounce / samples
	if step <= 0 {
		return true, nil
	}
	for range samples {
		if err := sensors.Sleep(ctx, step); err != nil {
			return false, err
		}
		if s.pin.Read() != l {
			return false, nil
		}
	}
	return true, nil
}

// Watch reports each debounced change of the level, as one sample like
// Read's, until ctx ends; then it returns ctx's error. See sensors.Watcher.
//
// It waits for edges (never polling the level in a loop): after the last
// edge of a burst, once the debounce time has passed with no other edge,
// it reads the level and reports it if it differs from the last state. A
// contact that bounces for 5 ms is one change; a level that flickers and
// comes back within the debounce time is none. Edges lost by the kernel
// (a full event queue, sysfs collapsing several) are caught by the re-read
// every Poll. Watch returns at once with an error if the pin cannot detect
// edges or another Watch is running.
func (s *Sensor) Watch(ctx context.Context, emit func([]sensors.Sample)) error {
	if s.edgeErr != nil {
		return fmt.Errorf("gpioin %s: pin %s cannot detect edges: %w", s.name, s.pin, s.edgeErr)
	}
	s.mu.Lock()
	if s.watching {
		s.mu.Unlock()
		return fmt.Errorf("gpioin %s: already watched", s.name)
	}
	s.watching = true
	stable := s.stable
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.watching = false
		s.mu.Unlock()
	}()

	// A change since the last state (before Watch, or while it was not
	// running) counts like an edge now.
	pending := s.pin.Read() != stable
	last := time.Now() // of the latest edge, while pending
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		wait := s.poll
		if pending {
			wait = s.debounce - time.Since(last)
			if wait <= 0 {
				pending = false
				if l := s.pin.Read(); l != stable {
					stable = l
					s.mu.Lock()
					s.stable = l
					s.mu.Unlock()
					emit([]sensors.Sample{s.sample(l)})
				}
				continue
			}
			wait = min(wait, s.poll)
		}
		// Never 0 or negative: gpioioctl takes 0 for "forever" and a
		// negative timeout for "don't wait".
		if s.pin.WaitForEdge(max(wait, time.Millisecond)) {
			pending, last = true, time.Now()
			continue
		}
		if !pending && s.pin.Read() != stable {
			pending, last = true, time.Now() // an edge went missing
		}
	}
}

// sample is the sample of level l.
func (s *Sensor) sample(l gpio.Level) sensors.Sample {
	v := 0.0
	if (l == gpio.High) != s.invert {
		v = 1
	}
	return sensors.Sample{Metric: s.metric, Value: v, Unit: sensors.UnitOne}
}

var (
	_ sensors.Sensor  = (*Sensor)(nil)
	_ sensors.Watcher = (*Sensor)(nil)
)
