package pulse

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

// DefaultMinSpacing is the shortest time between two counted pulses when
// not told otherwise: longer than a reed switch bounces (a few ms), far
// shorter than the fastest tipping bucket (about one tip a second in a
// cloudburst) or cup anemometer (about 40 pulses a second in a gale).
const DefaultMinSpacing = 10 * time.Millisecond

// DefaultPoll is the longest the counting goroutine waits for an edge
// before it looks whether Close was called.
const DefaultPoll = 100 * time.Millisecond

// Options configure a Counter. The zero value counts the closings of a
// contact to ground (falling edges, with the pin's pull-up) as pulses, in
// pulses and pulses per second; each field says its default.
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "pulse".
	Name string
	// Edge is the edge that is a pulse: gpio.FallingEdge (default, a
	// contact to ground closing), gpio.RisingEdge, or gpio.BothEdges
	// (every change). gpio.NoEdge means the default.
	Edge gpio.Edge
	// Pull is the pin's pull resistor: gpio.PullUp (default), gpio.PullDown
	// or gpio.Float. gpio.PullNoChange means the default.
	Pull gpio.Pull
	// MinSpacing is the shortest time between two counted pulses: an edge
	// sooner than that after the last counted one is taken for bounce and
	// ignored. Default DefaultMinSpacing; negative: every edge counts (a
	// clean electronic output such as a hall-effect flow sensor's).
	MinSpacing time.Duration
	// Scale is the quantity one pulse stands for, in Unit: 0.2794 (mm) for
	// a tipping-bucket rain gauge, 1/450 (L) for a YF-S201 flow sensor.
	// Default 1.
	Scale float64
	// Unit is the unit of the count (e.g. "mm", "L"). Default "1"
	// (pulses).
	Unit string
	// RatePer is the time unit of the rate: time.Second (default),
	// time.Minute or time.Hour (rain is given in mm/h).
	RatePer time.Duration
	// RateUnit is the unit of the rate. Default Unit per RatePer: "/s"
	// (sensors.UnitPerSecond) for pulses per second, "mm/h" for Unit "mm"
	// and RatePer time.Hour. Required if RatePer is not a second, a minute
	// or an hour.
	RateUnit string
	// Now is the clock of edges and reads. Default time.Now; tests inject
	// a virtual clock.
	Now func() time.Time
	// Poll bounds each wait for an edge: how long Close may take. Default
	// DefaultPoll.
	Poll time.Duration
}

// Counter counts pulses on a GPIO pin (a tipping-bucket rain gauge, a flow
// meter, a reed-switch anemometer) in a goroutine of its own, started by
// New and stopped by Close. Each Read reports the count since New, scaled,
// and the rate since the previous Read.
//
// It borrows the pin: it configures it as an input with edge detection and
// never closes or halts it. It is safe for concurrent use.
type Counter struct {
	name       string
	pin        gpio.PinIn
	spacing    time.Duration
	scale      float64
	unit       string
	ratePer    time.Duration
	rateUnit   string
	now        func() time.Time
	poll       time.Duration
	stop, done chan struct{}

	mu      sync.Mutex
	count   uint64    // pulses counted since New
	ignored uint64    // edges ignored as bounce
	lastAt  time.Time // of the last counted pulse; zero before the first
	readAt  time.Time // of the previous Read (New before the first)
	readN   uint64    // count at the previous Read
	closed  bool
}

// Open returns a counter on the pin registered with gpioreg as pinName
// ("GPIO17" on a Raspberry Pi once host.Init has run; an emulated pin's
// name in simulation). It fails with an error wrapping sensors.ErrNoDevice
// if there is no such pin.
func Open(pinName string, opt Options) (*Counter, error) {
	p := gpioreg.ByName(pinName)
	if p == nil {
		return nil, fmt.Errorf("pulse: pin %q: %w", pinName, sensors.ErrNoDevice)
	}
	return New(p, opt)
}

// New configures p as an input detecting opt.Edge with the pull resistor
// and starts counting. It fails with an error wrapping sensors.ErrBus if
// the pin cannot detect edges: a counter cannot work without them.
func New(p gpio.PinIn, opt Options) (*Counter, error) {
	if p == nil {
		return nil, errors.New("pulse: nil pin")
	}
	if opt.Name == "" {
		opt.Name = "pulse"
	}
	if !reading.ValidID(opt.Name) {
		return nil, fmt.Errorf("pulse: invalid sensor name %q", opt.Name)
	}
	if opt.Edge == gpio.NoEdge {
		opt.Edge = gpio.FallingEdge
	}
	if opt.Edge < gpio.NoEdge || opt.Edge > gpio.BothEdges {
		return nil, fmt.Errorf("pulse: invalid edge %s", opt.Edge)
	}
	if opt.Pull == gpio.PullNoChange {
		opt.Pull = gpio.PullUp
	}
	if opt.Pull > gpio.PullUp {
		return nil, fmt.Errorf("pulse: invalid pull %s", opt.Pull)
	}
	if opt.MinSpacing == 0 {
		opt.MinSpacing = DefaultMinSpacing
	}
	if opt.MinSpacing < 0 {
		opt.MinSpacing = 0
	}
	if opt.Scale == 0 {
		opt.Scale = 1
	}
	if opt.Scale < 0 {
		return nil, fmt.Errorf("pulse: negative scale %v", opt.Scale)
	}
	if opt.Unit == "" {
		opt.Unit = sensors.UnitOne
	}
	if opt.RatePer == 0 {
		opt.RatePer = time.Second
	}
	if opt.RatePer < 0 {
		return nil, fmt.Errorf("pulse: negative rate period %v", opt.RatePer)
	}
	if opt.RateUnit == "" {
		per := map[time.Duration]string{time.Second: "/s", time.Minute: "/min", time.Hour: "/h"}[opt.RatePer]
		if per == "" {
			return nil, fmt.Errorf("pulse: rate per %v needs a RateUnit", opt.RatePer)
		}
		opt.RateUnit = per
		if opt.Unit != sensors.UnitOne {
			opt.RateUnit = opt.Unit + per
		}
	}
	for _, u := range []string{opt.Unit, opt.RateUnit} {
		if err := (sensors.Sample{Metric: sensors.MetricCount, Unit: u}).Validate(); err != nil {
			return nil, fmt.Errorf("pulse: unit: %w", err)
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if err := p.In(opt.Pull, opt.Edge); err != nil {
		return nil, fmt.Errorf("pulse: configure %s for %s: %w: %w", p, opt.Edge, sensors.ErrBus, err)
	}
	c := &Counter{
		name: opt.Name, pin: p, spacing: opt.MinSpacing, scale: opt.Scale,
		unit: opt.Unit, ratePer: opt.RatePer, rateUnit: opt.RateUnit, now: opt.Now, poll: opt.Poll,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	c.readAt = c.now()
	go c.run()
	return c, nil
}

// run counts edges until Close. It blocks in WaitForEdge; it never polls
// the level.
func (c *Counter) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		// Never 0 or negative: gpioioctl takes 0 for "forever".
		if !c.pin.WaitForEdge(c.poll) {
			continue
		}
		// The kernel's event carries a timestamp, but periph drops it: the
		// edge is timed when it is taken, which is within microseconds
		// unless the machine is overloaded.
		t := c.now()
		c.mu.Lock()
		if c.lastAt.IsZero() || t.Sub(c.lastAt) >= c.spacing {
			c.count++
			c.lastAt = t
		} else {
			c.ignored++
		}
		c.mu.Unlock()
	}
}

// Name returns the sensor's name.
func (c *Counter) Name() string { return c.name }

// Read returns two samples: sensors.MetricCount, the pulses counted since
// New times Scale, in Unit; and sensors.MetricRate, the scaled pulses per
// RatePer since the previous Read (since New for the first), in RateUnit
// (0 if no time has passed). It does not block and cannot fail but for a
// context already ended or a closed counter.
func (c *Counter) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("pulse %s: read after Close", c.name)
	}
	n, dn := c.count, c.count-c.readN
	rate := 0.0
	if dt := now.Sub(c.readAt); dt > 0 {
		rate = float64(dn) * c.scale * float64(c.ratePer) / float64(dt)
	}
	c.readAt, c.readN = now, n
	return []sensors.Sample{
		{Metric: sensors.MetricCount, Value: float64(n) * c.scale, Unit: c.unit},
		{Metric: sensors.MetricRate, Value: rate, Unit: c.rateUnit},
	}, nil
}

// Count returns the pulses counted since New (unscaled) and the edges
// ignored as bounce.
func (c *Counter) Count() (pulses, ignored uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count, c.ignored
}

// Close stops counting and waits for the counting goroutine to end (up to
// Poll). Later Reads fail. It does not close the pin.
func (c *Counter) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
	return nil
}

var _ sensors.Sensor = (*Counter)(nil)
