package gpiosim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/pin"
)

// DefaultQueueSize is the length of a pin's edge queue: the kernel's
// default event buffer of 16 events per requested line (gpio-cdev v2).
const DefaultQueueSize = 16

// Wiring is what drives the pin's level.
type Wiring int

const (
	// PushPull: the source drives both levels, as a PIR module's output or
	// a hall-effect sensor does. The level is what Set says; the pull
	// resistor does not matter.
	PushPull Wiring = iota
	// ContactToGround: a switch between the pin and ground, as a door reed
	// switch or a rain gauge's. Set(Low) closes the contact and the pin
	// reads Low; Set(High) opens it and the pull resistor decides: High
	// with a pull-up, Low with a pull-down, and with none (Float) the
	// floating pin keeps whatever level it had.
	ContactToGround
)

func (w Wiring) String() string {
	switch w {
	case PushPull:
		return "push-pull"
	case ContactToGround:
		return "contact-to-ground"
	}
	return fmt.Sprintf("Wiring(%d)", int(w))
}

// Options configure a Pin. Each field says its default.
type Options struct {
	// Name is the pin's name, under which Register registers it, e.g.
	// "SIM_GPIO17". Required.
	Name string
	// Number is the pin's number (Number()). Default -1.
	Number int
	// Wiring is what drives the level. Default PushPull.
	Wiring Wiring
	// Level is the source's level at the start (for a contact, Low is
	// closed). Default Low.
	Level gpio.Level
	// DefaultPull is the pull resistor before In sets one, as after reset.
	// Default gpio.PullDown, that of most of the Pi's GPIOs.
	DefaultPull gpio.Pull
	// QueueSize is how many edges wait for WaitForEdge before the oldest is
	// dropped. Default DefaultQueueSize.
	QueueSize int
	// Clock, if set, is the virtual time of the emulator's delays (see the
	// package documentation). Default nil: real time.
	Clock *Clock
	// Seed selects the random stream of Chatter. Equal seeds give equal
	// storms.
	Seed uint64
	// LogSize bounds the output change log (Changes): the oldest changes
	// are dropped beyond it. Default DefaultLogSize.
	LogSize int
	// OnOutput, if set, is called with each change the pin's driver makes
	// as an output (Out, PWM), after it is recorded, outside the pin's
	// lock and from the driver's goroutine: the simulator's hook to move
	// its models (a heater relay warming a climate). It must not block
	// long. Default nil.
	OnOutput func(Change)
}

// Stats count what happened on a pin.
type Stats struct {
	Edges   uint64 // level changes on the pin, queued or not
	Queued  uint64 // edges put in the queue (they matched the configured edges)
	Taken   uint64 // edges taken by WaitForEdge
	Dropped uint64 // queued edges dropped, oldest first, because the queue was full
	Waits   uint64 // WaitForEdge calls
	Reads   uint64 // Read calls
}

// Pin is an emulated GPIO input pin. It implements gpio.PinIO and
// pin.PinFunc, and is safe for concurrent use.
type Pin struct {
	opt Options

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change of state
	source  gpio.Level    // what the source drives (for a contact: Low = closed)
	wire    gpio.Level    // the pin's level
	pull    gpio.Pull
	edge    gpio.Edge
	stuck   bool
	queue   []gpio.Level // queued edges, by the level they went to; oldest first
	waiting int          // goroutines blocked in WaitForEdge
	gen     uint64       // bumped by In and Halt: pending waits return false
	stats   Stats
	rng     *rand.Rand

	out outState // output mode, what the driver drives (output.go)
}

// New returns a pin with the options applied. Its level follows from
// Options.Level, the wiring and the default pull; it detects no edges
// until In asks for them.
func New(opt Options) *Pin {
	if opt.Number == 0 {
		opt.Number = -1
	}
	if opt.DefaultPull == gpio.PullNoChange {
		opt.DefaultPull = gpio.PullDown
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = DefaultQueueSize
	}
	if opt.LogSize <= 0 {
		opt.LogSize = DefaultLogSize
	}
	p := &Pin{
		opt:     opt,
		changed: make(chan struct{}),
		source:  opt.Level,
		pull:    opt.DefaultPull,
		rng:     rand.New(rand.NewPCG(opt.Seed, 0x6910)),
	}
	p.wire = p.level(opt.Level)
	return p
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.opt.Name }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.opt.Name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.opt.Number }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc: an input until Out or PWM makes the pin an
// output, again an input after In.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.outFunc(); f != "" {
		return f
	}
	if p.wire == gpio.High {
		return gpio.IN_HIGH
	}
	return gpio.IN_LOW
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT, gpio.PWM} }

// SetFunc implements pin.PinFunc: IN, In/High and In/Low make the pin an
// input (as In with no change of pull, no edges); Out/High and Out/Low
// drive it as Out does.
func (p *Pin) SetFunc(f pin.Func) error {
	switch f {
	case gpio.IN, gpio.IN_HIGH, gpio.IN_LOW:
		return p.In(gpio.PullNoChange, gpio.NoEdge)
	case gpio.OUT_HIGH:
		return p.Out(gpio.High)
	case gpio.OUT_LOW:
		return p.Out(gpio.Low)
	}
	return fmt.Errorf("gpiosim %s: function %s not supported", p.opt.Name, f)
}

// Halt implements conn.Resource: a goroutine blocked in WaitForEdge returns
// false, as with gpioioctl.
func (p *Pin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.broadcast()
	return nil
}

// In implements gpio.PinIn: it sets the pull resistor (unless
// gpio.PullNoChange) and the edges to queue, and empties the queue. A
// level change due to the new pull queues no edge.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	if pull > gpio.PullUp {
		return fmt.Errorf("gpiosim %s: invalid pull %s", p.opt.Name, pull)
	}
	if edge < gpio.NoEdge || edge > gpio.BothEdges {
		return fmt.Errorf("gpiosim %s: invalid edge %s", p.opt.Name, edge)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	p.out.mode = modeIn
	if !p.stuck {
		p.wire = p.level(p.source)
	}
	p.queue = p.queue[:0]
	p.gen++
	p.broadcast()
	return nil
}

// Read implements gpio.PinIn: the level now.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Reads++
	return p.wire
}

// WaitForEdge implements gpio.PinIn: it takes the oldest queued edge and
// returns true, or blocks until an edge is queued (true), the timeout
// passes, or In or Halt is called (false). A negative timeout waits
// forever. It returns false at once if In has not asked for edges.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Waits++
	if p.edge == gpio.NoEdge {
		return false
	}
	gen := p.gen
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		if len(p.queue) > 0 {
			p.queue = append(p.queue[:0], p.queue[1:]...)
			p.stats.Taken++
			p.broadcast()
			return true
		}
		if p.gen != gen {
			return false
		}
		p.waiting++
		p.broadcast()
		ch := p.changed
		p.mu.Unlock()
		timedOut := false
		select {
		case <-ch:
		case <-expired:
			timedOut = true
		}
		p.mu.Lock()
		p.waiting--
		if timedOut {
			return false
		}
	}
}

// Pull implements gpio.PinIn: the pull resistor in effect.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return p.opt.DefaultPull }

// Set makes the source drive l (for a contact: Low closes it, High opens
// it). If the pin's level changes, that is an edge. While the pin is an
// output, its driver decides the level; the source's level is remembered
// for when it is an input again. While the pin is
// stuck, the level does not change; the source's level is remembered and
// applied when it comes unstuck.
func (p *Pin) Set(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setSource(l)
}

// setSource is Set; p.mu held.
func (p *Pin) setSource(l gpio.Level) {
	p.source = l
	if !p.stuck && p.out.mode == modeIn {
		p.setWire(p.level(l))
	}
}

// Source returns the level the source drives (what Set last said).
func (p *Pin) Source() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.source
}

// SetStuck freezes the pin's level (true), as with a broken wire or a dead
// sensor: it stops producing edges whatever the source does. SetStuck(false)
// lets the level follow the source again, which is an edge if they differ.
func (p *Pin) SetStuck(stuck bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stuck = stuck
	if !stuck && p.out.mode == modeIn {
		p.setWire(p.level(p.source))
	}
}

// Stats returns what happened on the pin so far.
func (p *Pin) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Queued returns how many edges wait in the queue.
func (p *Pin) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// WaitIdle blocks until the edge queue is empty and some goroutine waits in
// WaitForEdge, that is until the pin's consumer has taken every edge and
// finished with it, or until ctx ends. It is the lockstep of the virtual
// clock; tests also use it to await a driver that is ready.
func (p *Pin) WaitIdle(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 || p.waiting == 0 {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
		case <-ctx.Done():
			p.mu.Lock()
			return fmt.Errorf("gpiosim %s: wait for the consumer: %w", p.opt.Name, ctx.Err())
		}
	}
	return nil
}

// Register registers the pin with periph's gpioreg under its name, so that
// gpioreg.ByName(name) returns it. Registering a name twice is an error;
// Unregister undoes it.
func (p *Pin) Register() error {
	if p.opt.Name == "" {
		return errors.New("gpiosim: cannot register a pin without a name")
	}
	return gpioreg.Register(p)
}

// Unregister removes the pin from periph's gpioreg.
func (p *Pin) Unregister() error { return gpioreg.Unregister(p.opt.Name) }

// level is the pin's level when the source drives l; p.mu held.
func (p *Pin) level(l gpio.Level) gpio.Level {
	if p.opt.Wiring != ContactToGround || l == gpio.Low {
		return l
	}
	switch p.pull {
	case gpio.PullUp:
		return gpio.High
	case gpio.PullDown:
		return gpio.Low
	}
	return p.wire // floating: keeps its charge
}

// setWire changes the pin's level to l, queueing the edge if In asked for
// it; p.mu held.
func (p *Pin) setWire(l gpio.Level) {
	if l == p.wire {
		return
	}
	p.wire = l
	p.stats.Edges++
	kind := gpio.FallingEdge
	if l == gpio.High {
		kind = gpio.RisingEdge
	}
	if p.edge&kind == 0 {
		p.broadcast()
		return
	}
	if len(p.queue) == p.opt.QueueSize {
		p.queue = append(p.queue[:0], p.queue[1:]...)
		p.stats.Dropped++
	}
	p.queue = append(p.queue, l)
	p.stats.Queued++
	p.broadcast()
}

// broadcast wakes everything waiting for a change; p.mu held.
func (p *Pin) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

var (
	_ gpio.PinIO  = (*Pin)(nil)
	_ pin.PinFunc = (*Pin)(nil)
)
