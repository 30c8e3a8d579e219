// Package i2csimtest puts emulated I²C buses in reach of tests through
// periph's i2creg, as production code reaches /dev/i2c-1.
package i2csimtest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sim/i2csim"
)

var seq atomic.Int64

// Open registers an empty emulated bus, named after t and unique in the
// process, and opens it by name through i2creg. It returns the bus (to
// attach chips and inject faults) and the opened handle (for drivers). Both
// are undone when t ends; a failure to register or open fails t.
func Open(t testing.TB) (*i2csim.Bus, i2c.BusCloser) {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), ":", "_"), seq.Add(1))
	b := i2csim.NewBus(name)
	if err := b.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Unregister(); err != nil {
			t.Error(err)
		}
	})
	h, err := i2creg.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return b, h
}
