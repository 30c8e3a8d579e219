// Package i2csimtest helps tests with emulated I²C: buses in reach through
// periph's i2creg, as production code reaches /dev/i2c-1, and the NACK a
// chip answers with.
package i2csimtest

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sensors"
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

// IsNack reports whether err is a transfer nobody acknowledged, as Linux
// reports it (EREMOTEIO) and as drivers classify it (sensors.ErrNoDevice).
func IsNack(err error) bool {
	return errors.Is(err, syscall.EREMOTEIO) && sensors.ErrorKind(sensors.I2CError(err)) == "no_device"
}
