package gpioin_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/gpioin"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/gpiosim/gpiosimtest"
)

// await bounds every wait of these tests, the pulse trains' contexts
// included; nothing normally comes near it. Generous: under qemu on a
// loaded machine, ten 400 ms pulses took longer than 10 s.
const await = time.Minute

// contact returns a registered, emulated door contact to ground, closed,
// named after the test.
func contact(t *testing.T, opt gpiosim.Options) *gpiosim.Pin {
	t.Helper()
	return gpiosimtest.Register(t, opt)
}

// watch runs s.Watch until the test ends and returns its changes' values.
func watch(t *testing.T, s *gpioin.Sensor) <-chan float64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan float64, 1000)
	done := make(chan error)
	go func() {
		done <- s.Watch(ctx, func(ss []sensors.Sample) {
			if len(ss) != 1 {
				t.Errorf("Watch emitted %d samples, want 1", len(ss))
			}
			ch <- ss[0].Value
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	return ch
}

// next returns the next change, failing after await.
func next(t *testing.T, ch <-chan float64) float64 {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(await):
		t.Fatal("no change reported")
		return -1
	}
}

func read(t *testing.T, s *gpioin.Sensor) sensors.Sample {
	t.Helper()
	ss, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		t.Fatalf("Read returned %d samples, want 1", len(ss))
	}
	if err := ss[0].Validate(); err != nil {
		t.Fatal(err)
	}
	return ss[0]
}

func TestOpen(t *testing.T) {
	p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	s, err := gpioin.Open(p.Name(), gpioin.Options{Metric: sensors.MetricDoor})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "door" || p.Pull() != gpio.PullUp {
		t.Errorf("name %q, pull %s: want the defaults door, PullUp", s.Name(), p.Pull())
	}
	_, err = gpioin.Open("SIM_NO_SUCH_PIN", gpioin.Options{})
	if got := sensors.ErrorKind(err); got != "no_device" {
		t.Errorf("Open of a missing pin: %v (kind %q), want no_device", err, got)
	}
	for _, opt := range []gpioin.Options{{Name: "bad name"}, {Metric: "Bad"}, {Pull: 9}} {
		if _, err := gpioin.New(p, opt); err == nil {
			t.Errorf("New with %+v succeeded", opt)
		}
	}
}

func TestReadHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wiring gpiosim.Wiring
		opt    gpioin.Options
		closed float64 // value with the source Low
	}{
		{"door", gpiosim.ContactToGround, gpioin.Options{Metric: sensors.MetricDoor}, sensors.DoorClosed},
		{"inverted", gpiosim.ContactToGround, gpioin.Options{Invert: true}, 1},
		{"pir", gpiosim.PushPull, gpioin.Options{Metric: sensors.MetricMotion, Pull: gpio.PullDown}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := contact(t, gpiosim.Options{Wiring: tc.wiring})
			s, err := gpioin.New(p, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(t, s); got.Value != tc.closed || got.Unit != sensors.UnitOne {
				t.Fatalf("Read = %+v, want %v", got, tc.closed)
			}
			p.Set(gpio.High)
			if got := read(t, s).Value; got != 1-tc.closed {
				t.Errorf("after a change, Read = %v, want %v", got, 1-tc.closed)
			}
			if got := read(t, s).Value; got != 1-tc.closed {
				t.Errorf("again: Read = %v, want %v", got, 1-tc.closed)
			}
		})
	}
}

func TestReadDebounces(t *testing.T) {
	// Without Watch, a level that does not hold over the debounce time is
	// not taken; Read still answers, with the last state.
	p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	s, err := gpioin.New(p, gpioin.Options{Debounce: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), await)
	defer cancel()
	got := make(chan float64)
	p.Set(gpio.High)
	go func() {
		v, err := s.Read(ctx)
		if err != nil {
			t.Error(err)
			got <- -1
			return
		}
		got <- v[0].Value
	}()
	// Let Read sample once or twice, then close the contact again.
	for p.Stats().Reads < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	p.Set(gpio.Low)
	if v := <-got; v != 0 {
		t.Errorf("Read took a 1 that did not hold: %v", v)
	}
	// A Read whose context ends while it debounces fails with ctx's error.
	p.Set(gpio.High)
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	if _, err := s.Read(short); !errors.Is(err, context.DeadlineExceeded) || sensors.ErrorKind(err) != "timeout" {
		t.Errorf("Read with a short context: %v, want a timeout", err)
	}
}

func TestWatchOneChangePerBounce(t *testing.T) {
	t.Parallel()
	p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	s, err := gpioin.New(p, gpioin.Options{Metric: sensors.MetricDoor})
	if err != nil {
		t.Fatal(err)
	}
	ch := watch(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), await)
	defer cancel()
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Open and shut the door ten times; the contact bounces at each
	// change. Exactly one change each time, in order. (Each burst of
	// bounces comes at once: in real time on a loaded machine, the
	// scheduler would stretch a timed 5 ms bounce past the debounce time;
	// TestWatchIgnoresGlitches times its storm.)
	bounce := gpiosim.PulseOptions{Active: gpio.High, Width: 200 * time.Millisecond, Gap: 200 * time.Millisecond,
		Bounces: 5, ReleaseBounces: 5}
	pulsed := make(chan error, 1)
	go func() { pulsed <- p.Pulse(ctx, 10, bounce) }()
	for i := range 20 {
		want := float64(1 - i%2)
		if got := next(t, ch); got != want {
			t.Fatalf("change %d reported %v, want %v: a bounce counted", i, got, want)
		}
		// The heartbeat agrees with what Watch reported.
		if got := read(t, s).Value; got != want {
			t.Fatalf("after change %d Read = %v, want %v", i, got, want)
		}
	}
	if err := <-pulsed; err != nil {
		t.Fatal(err)
	}
	if n := len(ch); n != 0 {
		t.Errorf("%d more changes after the last: bounces reported", n)
	}
	if st := p.Stats(); st.Edges != 10*(2+2*5+2*5) {
		t.Errorf("pin saw %d edges, want 220: the bounces were not emulated", st.Edges)
	}
}

func TestWatchIgnoresGlitches(t *testing.T) {
	p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround, Seed: 7})
	s, err := gpioin.New(p, gpioin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := watch(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), await)
	defer cancel()
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// A 2 ms glitch and a 20 ms chatter storm, each back to the closed
	// level: no change. Then the door opens, shuts and opens: exactly
	// those three changes.
	p.Set(gpio.High)
	time.Sleep(2 * time.Millisecond)
	p.Set(gpio.Low)
	if err := p.Chatter(ctx, 20*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	// Under qemu a 20 ms storm toggles far fewer times than natively;
	// a handful of edges is a storm all the same.
	if p.Stats().Edges < 4 {
		t.Errorf("only %d edges: the storm did not happen", p.Stats().Edges)
	}
	for i, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
		p.Set(l)
		if got, want := next(t, ch), float64(boolInt(l == gpio.High)); got != want {
			t.Fatalf("change %d: %v, want %v", i, got, want)
		}
	}
	if n := len(ch); n != 0 {
		t.Errorf("%d more changes: the glitch or the storm was reported", n)
	}
}

func TestWatchHonoursContext(t *testing.T) {
	p := contact(t, gpiosim.Options{})
	s, err := gpioin.New(p, gpioin.Options{Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx, func([]sensors.Sample) {}) }()
	wctx, stop := context.WithTimeout(context.Background(), await)
	defer stop()
	if err := p.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(wctx, func([]sensors.Sample) {}); err == nil {
		t.Error("a second Watch ran alongside the first")
	}
	// Idle, it waits on edges: a few WaitForEdge per Poll, no busy loop.
	before := p.Stats()
	time.Sleep(200 * time.Millisecond)
	after := p.Stats()
	if calls := after.Waits + after.Reads - before.Waits - before.Reads; calls > 30 {
		t.Errorf("%d pin calls in 200 ms idle at a 20 ms poll: busy loop", calls)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	case <-wctx.Done():
		t.Fatal("Watch did not return after its context ended")
	}
}

// noEdges is a pin whose edge detection is broken: In accepts edges but
// none ever arrive (edges lost, as sysfs can lose them).
type noEdges struct{ *gpiosim.Pin }

func (p noEdges) WaitForEdge(timeout time.Duration) bool {
	time.Sleep(timeout)
	return false
}

// edgeless is a pin that cannot detect edges at all.
type edgeless struct{ *gpiosim.Pin }

func (p edgeless) In(pull gpio.Pull, edge gpio.Edge) error {
	if edge != gpio.NoEdge {
		return errors.New("no interrupt for this pin")
	}
	return p.Pin.In(pull, edge)
}

func TestWatchWithoutEdges(t *testing.T) {
	t.Run("lost", func(t *testing.T) {
		p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
		s, err := gpioin.New(noEdges{p}, gpioin.Options{Poll: 10 * time.Millisecond, Debounce: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ch := watch(t, s)
		p.Set(gpio.High)
		if got := next(t, ch); got != 1 {
			t.Fatalf("change %v, want 1 caught by the re-read", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
		s, err := gpioin.New(edgeless{p}, gpioin.Options{})
		if err != nil {
			t.Fatalf("New on a pin without edges: %v, want a sensor that reads", err)
		}
		if err := s.Watch(context.Background(), func([]sensors.Sample) {}); err == nil || !strings.Contains(err.Error(), "no interrupt") {
			t.Errorf("Watch = %v, want the pin's reason", err)
		}
		p.Set(gpio.High)
		if got := read(t, s).Value; got != 1 {
			t.Errorf("Read = %v, want 1", got)
		}
	})
}

func TestStuckPin(t *testing.T) {
	// A broken wire: the pin stops changing. Watch reports nothing, Read
	// keeps the last state; when the wire is mended the change comes.
	p := contact(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	s, err := gpioin.New(p, gpioin.Options{Metric: sensors.MetricDoor})
	if err != nil {
		t.Fatal(err)
	}
	ch := watch(t, s)
	p.SetStuck(true)
	p.Set(gpio.High)
	if got := read(t, s).Value; got != 0 {
		t.Errorf("stuck pin: Read = %v, want the frozen 0", got)
	}
	p.SetStuck(false)
	if got := next(t, ch); got != 1 {
		t.Errorf("mended: change %v, want 1", got)
	}
}

func TestModels(t *testing.T) {
	// The real driver watching pins driven by the door and PIR models:
	// changes alternate, and each agrees with the model about then.
	for _, tc := range []struct {
		name   string
		wiring gpiosim.Wiring
		opt    gpioin.Options
		level  gpiosim.LevelFunc
		bounce int
	}{
		{"door", gpiosim.ContactToGround, gpioin.Options{Metric: sensors.MetricDoor},
			gpiosim.DoorLevel(sim.NewDoor(sim.DoorOptions{Seed: 1, MeanClosed: 500 * time.Millisecond, MeanOpen: 500 * time.Millisecond})), 4},
		{"pir", gpiosim.PushPull, gpioin.Options{Metric: sensors.MetricMotion, Pull: gpio.Float},
			gpiosim.MotionLevel(sim.NewMotion(sim.MotionOptions{Seed: 1, MeanVacant: 500 * time.Millisecond, MeanVisit: 500 * time.Millisecond,
				MeanMoveGap: 100 * time.Millisecond, Hold: 150 * time.Millisecond, Block: 100 * time.Millisecond})), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := contact(t, gpiosim.Options{Wiring: tc.wiring})
			s, err := gpioin.New(p, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			ch := watch(t, s)
			// Note the model's changes as the pin follows it.
			var mu sync.Mutex
			type change struct {
				at time.Time
				l  gpio.Level
			}
			changes := []change{{time.Now(), gpio.Low}}
			level := func(tt time.Time) gpio.Level {
				l := tc.level(tt)
				mu.Lock()
				defer mu.Unlock()
				if l != changes[len(changes)-1].l {
					changes = append(changes, change{time.Now(), l})
				}
				return l
			}
			modelAt := func(tt time.Time) gpio.Level {
				mu.Lock()
				defer mu.Unlock()
				l := changes[0].l
				for _, c := range changes {
					if c.at.After(tt) {
						break
					}
					l = c.l
				}
				return l
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = p.FollowLevel(ctx, level, gpiosim.FollowOptions{Step: 5 * time.Millisecond,
					Pulse: gpiosim.PulseOptions{Bounces: tc.bounce, BounceGap: 300 * time.Microsecond}})
			}()
			defer func() { cancel(); <-done }()
			prev, disagree := 0.0, 0
			for i := range 6 {
				v := next(t, ch)
				if v == prev {
					t.Fatalf("change %d repeats %v", i, v)
				}
				prev = v
				// The level held 50 ms before it was reported: the model
				// said so 25 ms ago (unless this machine stalled).
				if m := modelAt(time.Now().Add(-25 * time.Millisecond)); float64(boolInt(m == gpio.High)) != v {
					disagree++
				}
			}
			if disagree > 1 {
				t.Errorf("%d of 6 changes disagree with the model", disagree)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
