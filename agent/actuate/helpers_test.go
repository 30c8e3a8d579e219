package actuate_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/agent/actuate/actuatetest"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sensors"
)

// wait bounds every wait of these tests: generous, for a loaded machine.
const wait = time.Minute

const device = "dev-1"

// testConfig: heater (switch), fan (level 0..100), valve (switch, 3 a
// minute), lamp (switch, holds); heater and fan interlocked.
func testConfig(dir string) actuate.Config {
	return actuate.Config{
		Device: device,
		Actuators: []actuate.Spec{
			{Name: "heater", Label: "Heater, bench 2", Kind: command.KindSwitch},
			{Name: "fan", Kind: command.KindLevel, Min: 20, Max: 100},
			{Name: "valve", Kind: command.KindSwitch, PerMinute: 3},
			{Name: "lamp", Kind: command.KindSwitch, Hold: true},
		},
		Interlocks: [][]string{{"heater", "fan"}},
		SafeAfter:  5 * time.Minute,
		StateDir:   dir,
	}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a controller over fake outputs with a fake clock.
type rig struct {
	t       *testing.T
	cfg     actuate.Config
	clk     *actuatetest.Clock
	outs    map[string]*actuatetest.Output
	c       *actuate.Controller
	reg     *prometheus.Registry
	events  chan command.Event
	logs    *syncBuffer
	trusted atomic.Bool
	// onTrusted, if it holds a func, is called once by the next ClockTrusted.
	onTrusted atomic.Value
	cancel    context.CancelFunc
	done      chan error
}

// newRig makes a controller of cfg (outputs named after its actuators,
// Initial from initial) without running it.
func newRig(t *testing.T, cfg actuate.Config, initial map[string]float64, opt actuate.Options) *rig {
	t.Helper()
	r := &rig{t: t, cfg: cfg, clk: &actuatetest.Clock{}, outs: map[string]*actuatetest.Output{},
		reg: prometheus.NewRegistry(), events: make(chan command.Event, 100000), logs: &syncBuffer{}}
	r.trusted.Store(true)
	var outs []actuators.Output
	for _, s := range cfg.Actuators {
		o := &actuatetest.Output{ID: s.Name, Initial: initial[s.Name]}
		r.outs[s.Name] = o
		outs = append(outs, o)
	}
	opt.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opt.Registerer = r.reg
	opt.Now = r.clk.Now
	opt.NewTimer = func(at time.Time) actuate.Timer { return r.clk.NewTimer(at) }
	opt.ClockTrusted = func() bool {
		if f, ok := r.onTrusted.Swap(func() {}).(func()); ok {
			f()
		}
		return r.trusted.Load()
	}
	opt.Report = func(ev command.Event) { r.events <- ev }
	c, err := actuate.New(cfg, outs, opt)
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

// start runs the controller until the test ends (or stop).
func (r *rig) start() *rig {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.c.Run(ctx) }()
	r.t.Cleanup(r.stop)
	return r
}

// stop cancels Run and waits for it to return.
func (r *rig) stop() {
	r.t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(wait):
		r.t.Fatal("Run did not return within a minute of its context's end")
	}
}

// ids numbers the commands of every rig: ids stay unique across the
// controllers of one state dir.
var ids atomic.Int64

// cmd makes a command for the device, recorded now, due in 30 s.
func (r *rig) cmd(actuator string, v float64) command.Command {
	now := r.clk.Now().Truncate(time.Millisecond)
	return command.Command{ID: fmt.Sprintf("c-%d", ids.Add(1)), Device: device, Actuator: actuator, Value: v,
		Deadline: now.Add(30 * time.Second), By: "alice", At: now}
}

// submit submits c, failing the test on an error.
func (r *rig) submit(c command.Command) command.Command {
	r.t.Helper()
	if err := r.c.Submit(c); err != nil {
		r.t.Fatalf("Submit(%s): %v", c.ID, err)
	}
	return c
}

// next returns the next event.
func (r *rig) next() command.Event {
	r.t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(wait):
		r.t.Fatal("no event within a minute")
		return command.Event{}
	}
}

// status returns the next event, which must be a status of id in state.
func (r *rig) status(id string, state command.State) command.Status {
	r.t.Helper()
	ev := r.next()
	if ev.Status == nil {
		r.t.Fatalf("got a command event %+v, want status %s of %s", ev.Command, state, id)
	}
	s := *ev.Status
	if s.ID != id || s.State != state || s.Device != device {
		r.t.Fatalf("got status %+v, want %s of %s on %s", s, state, id, device)
	}
	if err := s.Validate(); err != nil {
		r.t.Fatalf("status %+v: %v", s, err)
	}
	return s
}

// outcome expects accepted then the final state of id, and returns the final status.
func (r *rig) outcome(id string, state command.State, reason string) command.Status {
	r.t.Helper()
	r.status(id, command.Accepted)
	s := r.status(id, state)
	if s.Reason != reason {
		r.t.Fatalf("%s %s: reason %q (%s), want %q", id, state, s.Reason, s.Detail, reason)
	}
	return s
}

// apply submits a command and expects it applied.
func (r *rig) apply(actuator string, v float64) command.Command {
	r.t.Helper()
	c := r.submit(r.cmd(actuator, v))
	r.outcome(c.ID, command.Applied, "")
	return c
}

// barrier submits a command to an unknown actuator and waits for its
// refusal: every command submitted before it, and the start, are done.
func (r *rig) barrier() {
	r.t.Helper()
	c := r.submit(r.cmd("nope", 1))
	r.outcome(c.ID, command.Refused, command.ReasonUnknownActuator)
}

// noEvent checks that no event is waiting.
func (r *rig) noEvent() {
	r.t.Helper()
	select {
	case ev := <-r.events:
		r.t.Fatalf("unexpected event %s", ev.AppendJSON(nil))
	default:
	}
}

// watch starts watching actuator's state sensor; the returned channel gets
// every sample, the first being the state at the start.
func (r *rig) watch(actuator string) <-chan sensors.Sample {
	r.t.Helper()
	ch := make(chan sensors.Sample, 1000)
	for _, s := range r.c.Sensors() {
		if s.Name() != actuator {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.(sensors.Watcher).Watch(ctx, func(ss []sensors.Sample) {
				for _, x := range ss {
					ch <- x
				}
			})
		}()
		r.t.Cleanup(func() { cancel(); <-done })
		return ch
	}
	r.t.Fatalf("no sensor %s", actuator)
	return nil
}

// sample returns the next sample of ch.
func sample(t *testing.T, ch <-chan sensors.Sample) sensors.Sample {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("no state sample within a minute")
		return sensors.Sample{}
	}
}

// awaitValue reads samples of ch until one has value v.
func awaitValue(t *testing.T, ch <-chan sensors.Sample, v float64) {
	t.Helper()
	for {
		if s := sample(t, ch); s.Value == v {
			return
		}
	}
}

// values returns the values set on actuator's output.
func (r *rig) values(actuator string) []float64 { return r.outs[actuator].Values() }

// metrics compares the registry's metrics named in names with want
// (text exposition format).
func (r *rig) metrics(want string, names ...string) {
	r.t.Helper()
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want), names...); err != nil {
		r.t.Error(err)
	}
}
