package pulse_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/pulse"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// BenchmarkCount is the cost of one counted pulse when every edge wakes
// the counting goroutine, as each kernel event does on a Pi: the emulator
// queues a falling edge and waits until the counter has taken it (the
// lockstep of the virtual clock), so one op is two goroutine hand-offs.
// pulses/s is the rate the counter sustains without ever queueing.
func BenchmarkCount(b *testing.B) {
	clk := gpiosim.NewClock(t0)
	p := gauge(b, gpiosim.Options{Wiring: gpiosim.ContactToGround, Clock: clk})
	c := newCounter(b, p, pulse.Options{MinSpacing: -1, Now: clk.Now})
	ctx := context.Background()
	shape := gpiosim.PulseOptions{Width: time.Millisecond, Gap: time.Millisecond}
	b.ResetTimer()
	if err := p.Pulse(ctx, b.N, shape); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if n, _ := c.Count(); n != uint64(b.N) {
		b.Fatalf("counted %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pulses/s")
}
