package ds18b20_test

import (
	"context"
	"testing"

	"github.com/tributary-iot/tributary/sensors/ds18b20"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

// BenchmarkRead is one Read of a probe's w1_slave from a fixture tree: the
// driver's own cost (open, read, parse, check). On a Pi the kernel's
// conversion adds 750 ms at 12-bit resolution, which dwarfs it.
func BenchmarkRead(b *testing.B) {
	temp := 21.375
	tr := tree(b, &temp, w1sim.AllFiles)
	s, err := ds18b20.New(ds18b20.Options{Root: tr.Root(), StuckAfter: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
