package pwm_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/gpiosim/gpiosimtest"
)

func TestDuty(t *testing.T) {
	sp := gpiosimtest.Register(t, gpiosim.Options{})
	o, err := pwm.New(gpioreg.ByName(sp.Name()), pwm.Options{Name: "fan"})
	if err != nil {
		t.Fatal(err)
	}
	if out := sp.Output(); !out.PWM || out.Duty != 0 || out.Frequency != 25*physic.KiloHertz || o.Frequency() != pwm.DefaultFrequency {
		t.Fatalf("after New: %+v; want PWM at 0 duty, 25 kHz", out)
	}
	for _, tc := range []struct {
		percent float64
		duty    gpio.Duty
	}{{100, gpio.DutyMax}, {50, gpio.DutyHalf}, {25, gpio.DutyMax / 4}, {0, 0}, {33.3, gpio.Duty(math.Round(0.333 * float64(gpio.DutyMax)))}} {
		if err := o.Set(context.Background(), tc.percent); err != nil {
			t.Fatal(err)
		}
		if out := sp.Output(); out.Duty != tc.duty || o.Value() != tc.percent {
			t.Errorf("Set(%v): duty %d, value %v; want %d", tc.percent, out.Duty, o.Value(), tc.duty)
		}
	}
	for _, v := range []float64{-1, 100.5, math.NaN()} {
		if err := o.Set(context.Background(), v); err == nil {
			t.Errorf("Set(%v) accepted", v)
		}
	}
	if log, _ := sp.Changes(); len(log) != 6 {
		t.Errorf("%d changes, want 6 (New and five levels; refused ones none)", len(log))
	}
}

func TestInvertAndFrequency(t *testing.T) {
	sp := gpiosimtest.Register(t, gpiosim.Options{})
	o, err := pwm.New(sp, pwm.Options{Name: "dimmer", Frequency: physic.KiloHertz, Invert: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := sp.Output(); out.Duty != gpio.DutyMax || out.Frequency != physic.KiloHertz {
		t.Fatalf("inverted 0%%: %+v; want the pin High all the time at 1 kHz", out)
	}
	if err := o.Set(context.Background(), 75); err != nil {
		t.Fatal(err)
	}
	if out := sp.Output(); out.Duty != gpio.DutyMax/4 {
		t.Errorf("inverted 75%%: duty %d, want %d", out.Duty, gpio.DutyMax/4)
	}
	if _, err := pwm.New(sp, pwm.Options{Name: "x", Frequency: -physic.Hertz}); err == nil {
		t.Error("negative frequency accepted")
	}
}

func TestFault(t *testing.T) {
	sp := gpiosimtest.Register(t, gpiosim.Options{})
	o, err := pwm.New(sp, pwm.Options{Name: "fan"})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Set(context.Background(), 60); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("no PWM")
	sp.SetOutFault(broken)
	if err := o.Set(context.Background(), 0); !errors.Is(err, broken) || o.Value() != 60 {
		t.Errorf("Set on a broken pin: %v, value %v (want 60 kept)", err, o.Value())
	}
}
