package gpiosim

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/tributary-iot/tributary/sim"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newPin(t *testing.T, opt Options) *Pin {
	t.Helper()
	if opt.Name == "" {
		opt.Name = "SIM_" + strings.ReplaceAll(t.Name(), "/", "_")
	}
	return New(opt)
}

// drain takes every queued edge without waiting and returns how many.
func drain(p *Pin) int {
	n := 0
	for p.WaitForEdge(0) {
		n++
	}
	return n
}

func TestEdgesQueue(t *testing.T) {
	for _, tc := range []struct {
		edge gpio.Edge
		want int // of 6 changes starting Low→High
	}{
		{gpio.BothEdges, 6},
		{gpio.RisingEdge, 3},
		{gpio.FallingEdge, 3},
	} {
		p := newPin(t, Options{})
		if err := p.In(gpio.Float, tc.edge); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			p.Set(i%2 == 0)
		}
		if got := drain(p); got != tc.want {
			t.Errorf("%s: %d edges taken after 6 changes, want %d (none lost)", tc.edge, got, tc.want)
		}
		if s := p.Stats(); s.Edges != 6 || s.Queued != uint64(tc.want) || s.Dropped != 0 {
			t.Errorf("%s: stats %+v", tc.edge, s)
		}
	}
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	p := newPin(t, Options{QueueSize: 4})
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	for i := range 7 { // High Low High Low High Low High
		p.Set(i%2 == 0)
	}
	// Kept: the last four, the first being High→Low (edge 4 of 7).
	if got := p.Queued(); got != 4 {
		t.Fatalf("%d queued, want 4", got)
	}
	if s := p.Stats(); s.Dropped != 3 {
		t.Errorf("dropped %d, want 3", s.Dropped)
	}
	if got := p.queue[0]; got != gpio.Low {
		t.Errorf("oldest kept edge went %s, want Low (the 4th change)", got)
	}
	// In empties the queue.
	if err := p.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	if got := drain(p); got != 0 {
		t.Errorf("%d edges after In, want the queue emptied", got)
	}
}

func TestWaitForEdgeBlocks(t *testing.T) {
	p := newPin(t, Options{})
	if p.WaitForEdge(time.Hour) {
		t.Fatal("WaitForEdge true on a pin not configured for edges")
	}
	if err := p.In(gpio.Float, gpio.RisingEdge); err != nil {
		t.Fatal(err)
	}
	if p.WaitForEdge(5 * time.Millisecond) {
		t.Fatal("WaitForEdge true with no edge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		do   func()
		want bool
	}{
		{"edge", func() { p.Set(gpio.High) }, true},
		{"other edge", func() { p.Set(gpio.Low); p.Set(gpio.High) }, true},
		{"halt", func() { _ = p.Halt() }, false},
		{"in", func() { _ = p.In(gpio.PullNoChange, gpio.RisingEdge) }, false},
	} {
		p.Set(gpio.Low)
		drain(p)
		got := make(chan bool)
		go func() { got <- p.WaitForEdge(-1) }()
		if err := p.WaitIdle(ctx); err != nil {
			t.Fatalf("%s: waiter never blocked: %v", tc.name, err)
		}
		tc.do()
		select {
		case g := <-got:
			if g != tc.want {
				t.Errorf("%s: WaitForEdge = %v, want %v", tc.name, g, tc.want)
			}
		case <-ctx.Done():
			t.Fatalf("%s: WaitForEdge still blocked", tc.name)
		}
	}
}

func TestContactWiringAndPull(t *testing.T) {
	p := newPin(t, Options{Wiring: ContactToGround, Level: gpio.High}) // open contact, default pull-down
	if got := p.Read(); got != gpio.Low {
		t.Fatalf("open contact with the default pull-down reads %s, want Low", got)
	}
	if err := p.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	if got := p.Read(); got != gpio.High {
		t.Fatalf("open contact with pull-up reads %s, want High", got)
	}
	if drain(p) != 0 {
		t.Fatal("changing the pull queued an edge")
	}
	p.Set(gpio.Low)
	if got := p.Read(); got != gpio.Low {
		t.Fatalf("closed contact reads %s", got)
	}
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	p.Set(gpio.High)
	if got := p.Read(); got != gpio.Low {
		t.Errorf("floating open contact reads %s, want the Low it had", got)
	}
	if got := p.Pull(); got != gpio.Float {
		t.Errorf("Pull = %s", got)
	}
}

func TestStuck(t *testing.T) {
	p := newPin(t, Options{})
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	p.SetStuck(true)
	for i := range 10 {
		p.Set(i%2 == 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Chatter(ctx, 5*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if n := drain(p); n != 0 || p.Read() != gpio.Low {
		t.Fatalf("stuck pin: %d edges, level %s; want none, Low", n, p.Read())
	}
	p.Set(gpio.High)
	p.SetStuck(false)
	if n := drain(p); n != 1 || p.Read() != gpio.High {
		t.Fatalf("unstuck: %d edges, level %s; want one to High", n, p.Read())
	}
}

func TestChatter(t *testing.T) {
	c := NewClock(t0)
	p := newPin(t, Options{Clock: c, Seed: 1, QueueSize: 1 << 20})
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	p.Set(gpio.High)
	drain(p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var edges int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p.WaitForEdge(-1) {
			edges++
		}
	}()
	if err := p.Chatter(ctx, 100*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	_ = p.Halt()
	<-done
	// 100 ms at a mean of 500 µs: about 200 toggles, ending where it began.
	if edges < 150 || edges > 250 || edges%2 != 0 {
		t.Errorf("%d edges in a 100 ms storm, want about 200, even", edges)
	}
	if p.Read() != gpio.High {
		t.Errorf("after the storm the pin reads %s, want the source's High", p.Read())
	}
	if got := c.Now().Sub(t0); got < 100*time.Millisecond || got > 110*time.Millisecond {
		t.Errorf("virtual clock advanced %v, want about 100ms", got)
	}
}

// record takes every edge of p until Halt, noting the level after it and
// the clock's time.
type record struct {
	mu    sync.Mutex
	times []time.Duration
	lvls  []gpio.Level
	done  chan struct{}
}

func recordEdges(p *Pin, c *Clock) *record {
	r := &record{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for p.WaitForEdge(-1) {
			r.mu.Lock()
			r.times = append(r.times, c.Now().Sub(t0))
			r.lvls = append(r.lvls, p.Read())
			r.mu.Unlock()
		}
	}()
	return r
}

func TestPulseLockstep(t *testing.T) {
	c := NewClock(t0)
	p := newPin(t, Options{Wiring: ContactToGround, Level: gpio.High, Clock: c})
	if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	r := recordEdges(p, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt := PulseOptions{Width: 50 * time.Millisecond, Gap: 50 * time.Millisecond, Bounces: 2, ReleaseBounces: 1, BounceGap: time.Millisecond}
	if err := p.Pulse(ctx, 1000, opt); err != nil {
		t.Fatal(err)
	}
	_ = p.Halt()
	<-r.done
	// Each pulse: falls at 0, 2, 4 ms (bounces), one more at 54 ms (release
	// bounce); a pulse takes 4+50+2+50 = 106 ms.
	if len(r.times) != 4000 {
		t.Fatalf("%d falling edges, want 4000", len(r.times))
	}
	for i, want := range []time.Duration{0, 2, 4, 55, 106, 108, 110, 161} {
		if got := r.times[i]; got != want*time.Millisecond {
			t.Fatalf("edge %d at %v, want %v", i, got, want*time.Millisecond)
		}
	}
	if s := p.Stats(); s.Dropped != 0 || s.Edges != 1000*(2+4+2) {
		t.Errorf("stats %+v", s)
	}
}

func TestFollowModels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("level", func(t *testing.T) {
		c := NewClock(t0)
		p := newPin(t, Options{Clock: c})
		if err := p.In(gpio.PullDown, gpio.BothEdges); err != nil {
			t.Fatal(err)
		}
		r := recordEdges(p, c)
		// High during [1s, 3s) and from 5s on.
		level := func(tt time.Time) gpio.Level {
			d := tt.Sub(t0)
			return gpio.Level(d >= time.Second && d < 3*time.Second || d >= 5*time.Second)
		}
		fctx, stop := context.WithCancel(ctx)
		errc := make(chan error)
		go func() { errc <- p.FollowLevel(fctx, level, FollowOptions{Step: 100 * time.Millisecond}) }()
		if err := c.WaitUntil(ctx, t0.Add(6*time.Second)); err != nil {
			t.Fatal(err)
		}
		stop()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("FollowLevel returned %v, want context.Canceled", err)
		}
		_ = p.Halt()
		<-r.done
		want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second}
		if len(r.times) != len(want) {
			t.Fatalf("edges at %v, want %v", r.times, want)
		}
		for i := range want {
			if r.times[i] != want[i] || r.lvls[i] != (i%2 == 0) {
				t.Errorf("edge %d at %v to %s, want %v", i, r.times[i], r.lvls[i], want[i])
			}
		}
	})

	t.Run("count", func(t *testing.T) {
		c := NewClock(t0)
		p := newPin(t, Options{Wiring: ContactToGround, Clock: c})
		if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			t.Fatal(err)
		}
		r := recordEdges(p, c)
		// One pulse per second up to 20 s, plus a burst of 5 at 10 s. (The
		// virtual clock runs ahead until the test stops it.)
		count := func(tt time.Time) uint64 {
			s := min(uint64(tt.Sub(t0)/time.Second), 20)
			if s >= 10 {
				s += 5
			}
			return s
		}
		fctx, stop := context.WithCancel(ctx)
		errc := make(chan error)
		opt := FollowOptions{Step: 50 * time.Millisecond, Pulse: PulseOptions{Width: 20 * time.Millisecond, Gap: 20 * time.Millisecond}}
		go func() { errc <- p.FollowCount(fctx, count, opt) }()
		if err := c.WaitUntil(ctx, t0.Add(20*time.Second+500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		stop()
		<-errc
		_ = p.Halt()
		<-r.done
		if got, want := len(r.times), 25; got != want {
			t.Fatalf("%d pulses, want %d", got, want)
		}
		// The burst is spread at Width+Gap = 40 ms.
		if d := r.times[11] - r.times[10]; d != 40*time.Millisecond {
			t.Errorf("burst pulses %v apart, want 40ms", d)
		}
	})

	t.Run("door", func(t *testing.T) {
		// The adapters see the models as wired: door open is High with
		// a pull-up, motion is High, tips are pulses.
		door := sim.NewDoor(sim.DoorOptions{Seed: 1, MeanClosed: time.Second, MeanOpen: time.Second})
		motion := sim.NewMotion(sim.MotionOptions{Seed: 1})
		rain := sim.NewRain(sim.RainOptions{Seed: 1, MeanDry: time.Second, MeanIntensity: 100})
		dl, ml, rc := DoorLevel(door), MotionLevel(motion), RainCount(rain)
		var opens, moves int
		rc(t0)
		for s := range 3600 {
			tt := t0.Add(time.Duration(s) * time.Second)
			if dl(tt) != gpio.Level(door.Open(tt)) || ml(tt) != gpio.Level(motion.Active(tt)) {
				t.Fatalf("adapter disagrees with its model at %v", tt)
			}
			if dl(tt) == gpio.High {
				opens++
			}
			if ml(tt) == gpio.High {
				moves++
			}
		}
		end := t0.Add(3600 * time.Second)
		if got, want := rc(end), rain.At(end).Tips; got != want || got == 0 {
			t.Errorf("RainCount = %d, want the model's %d tips (> 0)", got, want)
		}
		if opens == 0 || moves == 0 {
			t.Errorf("door open %d s, motion %d s in an hour: a model never changes", opens, moves)
		}
	})
}

func TestRegister(t *testing.T) {
	p := newPin(t, Options{Number: 17})
	if err := p.Register(); err != nil {
		t.Fatal(err)
	}
	if got := gpioreg.ByName(p.Name()); got != gpio.PinIO(p) {
		t.Fatalf("gpioreg.ByName(%q) = %v, want the pin", p.Name(), got)
	}
	if err := p.Register(); err == nil {
		t.Error("registered twice")
	}
	if err := p.Unregister(); err != nil {
		t.Fatal(err)
	}
	if gpioreg.ByName(p.Name()) != nil {
		t.Error("still registered after Unregister")
	}
	if p.Number() != 17 || p.SetFunc(gpio.OUT_HIGH) != nil || p.Func() != gpio.OUT_HIGH || p.SetFunc(gpio.CLK) == nil ||
		p.SetFunc(gpio.IN) != nil || p.Func() != gpio.IN_LOW {
		t.Errorf("number or functions wrong: %d, %s", p.Number(), p.Func())
	}
}
