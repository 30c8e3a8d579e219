package gpioout_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/tributary-iot/tributary/actuators/gpioout"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/gpiosim/gpiosimtest"
)

// TestLevels: the exact pin level for each state, active-high and
// active-low, the pin found by name as on a Pi.
func TestLevels(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		activeLow bool
		off, on   gpio.Level
	}{
		{"active-high", false, gpio.Low, gpio.High},
		{"active-low", true, gpio.High, gpio.Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := gpiosimtest.Register(t, gpiosim.Options{})
			pin := gpioreg.ByName(sp.Name())
			o, err := gpioout.New(pin, gpioout.Options{Name: "heater", ActiveLow: tc.activeLow})
			if err != nil {
				t.Fatal(err)
			}
			if sp.Level() != tc.off || o.Value() != 0 || o.Name() != "heater" {
				t.Fatalf("after New: pin %s, value %v; want the off level %s, 0", sp.Level(), o.Value(), tc.off)
			}
			if err := o.Set(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if sp.Level() != tc.on || o.Value() != 1 || !sp.Output().Out {
				t.Fatalf("on: pin %s, value %v; want %s, 1", sp.Level(), o.Value(), tc.on)
			}
			if err := o.Set(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if got, want := sp.Levels(), []gpio.Level{tc.off, tc.on, tc.off}; !slices.Equal(got, want) {
				t.Fatalf("pin went %v, want %v (off at open, on, off)", got, want)
			}
		})
	}
}

func TestRefusesOtherValues(t *testing.T) {
	sp := gpiosimtest.Register(t, gpiosim.Options{})
	o, err := gpioout.New(sp, gpioout.Options{Name: "valve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.5, 2, -1, 100} {
		if err := o.Set(context.Background(), v); err == nil {
			t.Errorf("Set(%v) accepted", v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Set(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with an ended context: %v", err)
	}
	if len(sp.Levels()) != 1 {
		t.Errorf("refused values drove the pin: %v", sp.Levels())
	}
	if _, err := gpioout.New(nil, gpioout.Options{Name: "x"}); err == nil {
		t.Error("New without a pin")
	}
	if _, err := gpioout.New(sp, gpioout.Options{}); err == nil {
		t.Error("New without a name")
	}
}

// TestFault: a broken driver makes Set fail, saying so, and Value keeps
// the last value that was set; New fails on a dead pin.
func TestFault(t *testing.T) {
	sp := gpiosimtest.Register(t, gpiosim.Options{})
	o, err := gpioout.New(sp, gpioout.Options{Name: "pump", ActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Set(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("transistor open")
	sp.SetOutFault(broken)
	if err := o.Set(context.Background(), 0); !errors.Is(err, broken) {
		t.Fatalf("Set on a broken pin: %v", err)
	}
	if o.Value() != 1 || sp.Level() != gpio.Low {
		t.Errorf("after the failure: value %v, pin %s; want 1 and Low (unchanged)", o.Value(), sp.Level())
	}
	dead := gpiosim.New(gpiosim.Options{Name: "SIM_dead"})
	dead.SetOutFault(broken)
	if _, err := gpioout.New(dead, gpioout.Options{Name: "x"}); !errors.Is(err, broken) {
		t.Errorf("New on a dead pin: %v", err)
	}
}
