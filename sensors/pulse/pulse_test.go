package pulse_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/pulse"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/gpiosim/gpiosimtest"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// await bounds every wait of these tests; nothing normally comes near it.
const await = 30 * time.Second

// gauge returns a registered, emulated reed switch to ground, open, named
// after the test.
func gauge(t testing.TB, opt gpiosim.Options) *gpiosim.Pin {
	t.Helper()
	opt.Level = gpio.High
	return gpiosimtest.Register(t, opt)
}

func newCounter(t testing.TB, p gpio.PinIn, opt pulse.Options) *pulse.Counter {
	t.Helper()
	c, err := pulse.New(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func read(t testing.TB, c *pulse.Counter) (count, rate sensors.Sample) {
	t.Helper()
	ss, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Metric != sensors.MetricCount || ss[1].Metric != sensors.MetricRate {
		t.Fatalf("Read = %+v, want count and rate", ss)
	}
	for _, s := range ss {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return ss[0], ss[1]
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), await)
	t.Cleanup(cancel)
	return ctx
}

type edgeless struct{ *gpiosim.Pin }

func (p edgeless) In(gpio.Pull, gpio.Edge) error { return errors.New("no interrupt for this pin") }

func TestOpen(t *testing.T) {
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	c, err := pulse.Open(p.Name(), pulse.Options{Name: "rain", Scale: 0.2794, Unit: "mm", RatePer: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	count, rate := read(t, c)
	if c.Name() != "rain" || count.Unit != "mm" || rate.Unit != "mm/h" || p.Pull() != gpio.PullUp {
		t.Errorf("name %q, units %q %q, pull %s", c.Name(), count.Unit, rate.Unit, p.Pull())
	}
	_, err = pulse.Open("SIM_NO_SUCH_PIN", pulse.Options{})
	if got := sensors.ErrorKind(err); got != "no_device" {
		t.Errorf("Open of a missing pin: %v (kind %q), want no_device", err, got)
	}
	_, err = pulse.New(edgeless{p}, pulse.Options{})
	if got := sensors.ErrorKind(err); got != "bus" || !strings.Contains(err.Error(), "no interrupt") {
		t.Errorf("New on a pin without edges: %v (kind %q), want bus and the reason", err, got)
	}
	for _, opt := range []pulse.Options{{Name: "a b"}, {Scale: -1}, {RatePer: 7 * time.Second}, {Unit: strings.Repeat("m", 20)}, {Edge: 9}} {
		if c, err := pulse.New(p, opt); err == nil {
			c.Close()
			t.Errorf("New with %+v succeeded", opt)
		}
	}
}

func TestCountExact(t *testing.T) {
	// Thousands of emulated pulses, in lockstep with a virtual clock, so
	// that the count is exact whatever this machine's load.
	for _, tc := range []struct {
		name    string
		n       int
		opt     pulse.Options
		pulse   gpiosim.PulseOptions
		want    uint64 // counted
		ignored uint64
	}{
		{"reed switch bouncing", 3000, pulse.Options{},
			gpiosim.PulseOptions{Width: 20 * time.Millisecond, Gap: 30 * time.Millisecond, Bounces: 3, BounceGap: 500 * time.Microsecond},
			3000, 3000 * 3},
		{"bouncing both ways", 1500, pulse.Options{MinSpacing: 15 * time.Millisecond},
			gpiosim.PulseOptions{Width: 5 * time.Millisecond, Gap: 30 * time.Millisecond, Bounces: 4, ReleaseBounces: 2, BounceGap: 200 * time.Microsecond},
			1500, 1500 * 6},
		{"hall sensor, rising", 4000, pulse.Options{Edge: gpio.RisingEdge, MinSpacing: -1, Pull: gpio.Float},
			gpiosim.PulseOptions{Width: time.Millisecond, Gap: time.Millisecond},
			4000, 0},
		{"both edges", 2000, pulse.Options{Edge: gpio.BothEdges},
			gpiosim.PulseOptions{Width: 20 * time.Millisecond, Gap: 20 * time.Millisecond},
			4000, 0},
		{"faster than MinSpacing merge", 3000, pulse.Options{},
			gpiosim.PulseOptions{Width: 2 * time.Millisecond, Gap: 2 * time.Millisecond},
			1000, 2000}, // counted at 0, 12, 24 ms...: every third
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := gpiosim.NewClock(t0)
			wiring := gpiosim.ContactToGround
			if tc.opt.Pull == gpio.Float {
				wiring = gpiosim.PushPull
			}
			p := gauge(t, gpiosim.Options{Wiring: wiring, Clock: clk})
			tc.opt.Now = clk.Now
			c := newCounter(t, p, tc.opt)
			if err := p.Pulse(ctxT(t), tc.n, tc.pulse); err != nil {
				t.Fatal(err)
			}
			if n, ign := c.Count(); n != tc.want || ign != tc.ignored {
				t.Errorf("counted %d, ignored %d; want %d, %d", n, ign, tc.want, tc.ignored)
			}
			if count, _ := read(t, c); count.Value != float64(tc.want) {
				t.Errorf("count sample %v, want %d", count.Value, tc.want)
			}
			if st := p.Stats(); st.Dropped != 0 {
				t.Errorf("%d edges dropped by the queue", st.Dropped)
			}
		})
	}
}

func TestRate(t *testing.T) {
	clk := gpiosim.NewClock(t0)
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround, Clock: clk})
	c := newCounter(t, p, pulse.Options{Scale: 0.2794, Unit: "mm", RatePer: time.Hour, Now: clk.Now})
	ctx := ctxT(t)
	// 100 tips in 10 s: 27.94 mm at 10058.4 mm/h.
	if err := p.Pulse(ctx, 100, gpiosim.PulseOptions{Width: 50 * time.Millisecond, Gap: 50 * time.Millisecond, Bounces: 2, BounceGap: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(t0); got != 10*time.Second+400*time.Millisecond {
		t.Fatalf("pulses took %v of virtual time", got)
	}
	for i, want := range []struct {
		advance     time.Duration
		count, rate float64
	}{
		{0, 27.94, 100 * 0.2794 / 10.4 * 3600},
		{10 * time.Second, 27.94, 0}, // nothing since the last Read
		{0, 27.94, 0},                // no time since the last Read
	} {
		clk.Advance(want.advance)
		count, rate := read(t, c)
		if math.Abs(count.Value-want.count) > 1e-9 || math.Abs(rate.Value-want.rate) > 1e-9 {
			t.Errorf("read %d: count %v %s, rate %v %s; want %v mm, %v mm/h", i, count.Value, count.Unit, rate.Value, rate.Unit, want.count, want.rate)
		}
	}
	// The rate covers only the interval since the previous Read.
	if err := p.Pulse(ctx, 10, gpiosim.PulseOptions{Width: 100 * time.Millisecond, Gap: 900 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	count, rate := read(t, c)
	if want := 110 * 0.2794; math.Abs(count.Value-want) > 1e-9 {
		t.Errorf("count %v, want %v", count.Value, want)
	}
	if want := 10 * 0.2794 / 10 * 3600; math.Abs(rate.Value-want) > 1e-9 {
		t.Errorf("rate %v mm/h over the last 10 s, want %v", rate.Value, want)
	}
}

func TestRealTime(t *testing.T) {
	// The wall clock and real sleeps: 10 pulses 200 ms apart, each with a
	// burst of bounces. (The bounces come at once: timed ones would be
	// stretched by the scheduler on a loaded machine; TestCountExact
	// times them on the virtual clock.)
	t.Parallel()
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	c := newCounter(t, p, pulse.Options{MinSpacing: 50 * time.Millisecond})
	ctx := ctxT(t)
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Pulse(ctx, 10, gpiosim.PulseOptions{Width: 100 * time.Millisecond, Gap: 100 * time.Millisecond, Bounces: 4}); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	count, rate := read(t, c)
	if n, ign := c.Count(); count.Value != 10 || n != 10 || ign != 40 {
		t.Fatalf("counted %v (%d, %d ignored), want 10, 40 bounces ignored", count.Value, n, ign)
	}
	// The rate is over the time since New, a little more than the pulses took.
	if rate.Value > 10/elapsed.Seconds() || rate.Value < 10/elapsed.Seconds()/2 {
		t.Errorf("rate %v/s, want a little under %v", rate.Value, 10/elapsed.Seconds())
	}
}

func TestChatterAndStuck(t *testing.T) {
	clk := gpiosim.NewClock(t0)
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround, Clock: clk, Seed: 3})
	c := newCounter(t, p, pulse.Options{Now: clk.Now})
	ctx := ctxT(t)
	shape := gpiosim.PulseOptions{Width: 20 * time.Millisecond, Gap: 30 * time.Millisecond, Bounces: 2, BounceGap: time.Millisecond}
	if err := p.Pulse(ctx, 100, shape); err != nil {
		t.Fatal(err)
	}
	// A 100 ms bounce storm counts at most one pulse per MinSpacing...
	if err := p.Chatter(ctx, 100*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	n, _ := c.Count()
	if n < 101 || n > 100+11 {
		t.Errorf("after a 100 ms storm: %d pulses, want 100 plus 1..11", n)
	}
	// ...and counting goes on exactly after it, once it has been quiet
	// for MinSpacing.
	clk.Advance(pulse.DefaultMinSpacing)
	if err := p.Pulse(ctx, 100, shape); err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Count(); m != n+100 {
		t.Errorf("after the storm: %d more pulses counted, want 100", m-n)
	}
	// A stuck switch counts nothing: the rate falls to 0.
	read(t, c)
	p.SetStuck(true)
	if err := p.Pulse(ctx, 50, shape); err != nil {
		t.Fatal(err)
	}
	if _, rate := read(t, c); rate.Value != 0 {
		t.Errorf("stuck: rate %v, want 0", rate.Value)
	}
}

func TestClose(t *testing.T) {
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround})
	c, err := pulse.New(p, pulse.Options{Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := p.Pulse(ctx, 3, gpiosim.PulseOptions{Width: 20 * time.Millisecond, Gap: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
	// The goroutine has ended: nobody takes edges any more.
	p.Set(gpio.Low)
	if p.Queued() != 1 {
		t.Errorf("%d edges queued after Close, want 1 left untaken", p.Queued())
	}
	if n, _ := c.Count(); n != 3 {
		t.Errorf("counted %d, want 3", n)
	}
}

func TestRainGauge(t *testing.T) {
	// The real driver counting a tipping bucket driven by the rain model
	// for two simulated hours of heavy rain: every tip counted.
	clk := gpiosim.NewClock(t0)
	p := gauge(t, gpiosim.Options{Wiring: gpiosim.ContactToGround, Clock: clk})
	c := newCounter(t, p, pulse.Options{Scale: sim.RainTip, Unit: "mm", RatePer: time.Hour, Now: clk.Now})
	ropt := sim.RainOptions{Seed: 5, MeanDry: time.Second, MeanIntensity: 20}
	end := t0.Add(2 * time.Hour)
	// The model as the pin sees it, frozen after end (the virtual clock
	// runs on until the test stops it).
	tips := gpiosim.RainCount(sim.NewRain(ropt))
	bounded := func(tt time.Time) uint64 {
		if tt.After(end) {
			tt = end
		}
		return tips(tt)
	}
	// Its twin says how many tips to expect: both start at t0.
	twin := sim.NewRain(ropt)
	start := twin.At(t0).Tips
	want := twin.At(end).Tips - start
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error)
	go func() {
		done <- p.FollowCount(ctx, bounded, gpiosim.FollowOptions{Step: time.Second,
			Pulse: gpiosim.PulseOptions{Width: 100 * time.Millisecond, Gap: 100 * time.Millisecond, Bounces: 3, BounceGap: 500 * time.Microsecond}})
	}()
	if err := clk.WaitUntil(ctxT(t), end.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if err := p.WaitIdle(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	count, _ := read(t, c)
	if n, _ := c.Count(); n != want || want < 50 {
		t.Errorf("counted %d tips (%.2f mm), the model made %d (want > 50)", n, count.Value, want)
	}
}
