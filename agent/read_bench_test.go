package agent

import (
	"context"
	"testing"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

// BenchmarkReadOnce is the agent's own cost of one read: a sensor that
// answers at once with no samples, so nothing is queued.
func BenchmarkReadOnce(b *testing.B) {
	a, err := New(Config{Device: "bench", Sensors: []SensorConfig{{Sensor: &sensorstest.Sensor{ID: "s"}}}, StateDir: b.TempDir()},
		&flakyUplink{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s := a.sensors[0]
	s.startReader()
	defer close(s.reads)
	b.ReportAllocs()
	for b.Loop() {
		if n := a.readOnce(ctx, s); n != 0 {
			b.Fatalf("%d failures", n)
		}
	}
}
