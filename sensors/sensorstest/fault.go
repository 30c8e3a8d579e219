package sensorstest

import (
	"context"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/sensors"
)

// FaultCheck is one fault in the life of a driver's sensor: injected, seen
// as an error of its kind, cleared, and the same sensor reads again. Each
// field says its default.
type FaultCheck struct {
	// Set injects the fault (into the emulated bus or chip); Clear removes
	// it. Required.
	Set, Clear func()
	// Kind is the sensors.ErrorKind of the error the fault causes.
	Kind string
	// Says is text the error must contain. Default "": anything.
	Says string
	// After is how many reads still succeed under the fault before the
	// error (a stuck chip takes a few). Default 0.
	After int
	// Tick runs before every read but the first, as time passes between
	// two reads of the agent (moving a fake clock, changing the input).
	// Default nil: nothing.
	Tick func()
	// Recovered checks the samples read once the fault is cleared (and
	// fails the test itself). Default nil: any successful read.
	Recovered func(ss []sensors.Sample)
}

// Run reads s once, injects the fault, reads After times successfully and
// once more for the error, clears the fault and reads again; any other
// outcome fails t. It returns the error the fault caused.
func (f FaultCheck) Run(t testing.TB, s sensors.Sensor) error {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Read(ctx); err != nil {
		t.Fatalf("before the fault: %v", err)
	}
	read := func() ([]sensors.Sample, error) {
		if f.Tick != nil {
			f.Tick()
		}
		return s.Read(ctx)
	}
	f.Set()
	for i := range f.After {
		if _, err := read(); err != nil {
			t.Fatalf("read %d under the fault: %v, want success for %d reads", i+1, err, f.After)
		}
	}
	_, faultErr := read()
	if k := sensors.ErrorKind(faultErr); k != f.Kind {
		t.Fatalf("read under the fault: %v (kind %q), want kind %q", faultErr, k, f.Kind)
	}
	if !strings.Contains(faultErr.Error(), f.Says) {
		t.Errorf("error %q does not say %q", faultErr, f.Says)
	}
	f.Clear()
	ss, err := read()
	if err != nil {
		t.Fatalf("after the fault cleared: %v", err)
	}
	if f.Recovered != nil {
		f.Recovered(ss)
	}
	return faultErr
}
