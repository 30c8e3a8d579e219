package gpiosim

import (
	"errors"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

func TestOutRecordsLevels(t *testing.T) {
	clock := NewClock(t0)
	var seen []Change
	p := newPin(t, Options{Clock: clock, OnOutput: func(c Change) { seen = append(seen, c) }})
	if o := p.Output(); o.Out || p.Level() != gpio.Low || p.Func() != gpio.IN_LOW {
		t.Fatalf("a new pin: %+v, level %s, func %s; want an input, Low (pull-down)", o, p.Level(), p.Func())
	}
	if err := p.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := p.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := p.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Levels(), []gpio.Level{gpio.High, gpio.Low, gpio.High}; !slices.Equal(got, want) {
		t.Errorf("levels %v, want %v", got, want)
	}
	log, lost := p.Changes()
	if len(log) != 3 || lost != 0 || !log[1].At.Equal(t0.Add(time.Second)) || log[1].PWM || log[2].Duty != gpio.DutyMax || log[1].Fraction() != 0 {
		t.Errorf("log %+v, %d lost", log, lost)
	}
	if len(seen) != 3 || seen[2] != log[2] {
		t.Errorf("OnOutput saw %+v", seen)
	}
	if o := p.Output(); !o.Out || o.Level != gpio.High || o.PWM || p.Read() != gpio.High || p.Func() != gpio.OUT_HIGH || o.Fraction() != 1 {
		t.Errorf("output now %+v, read %s, func %s", o, p.Read(), p.Func())
	}
	// The source does not move a driven pin; In makes it an input again.
	p.Set(gpio.Low)
	if p.Level() != gpio.High {
		t.Error("the source moved a driven output")
	}
	if err := p.In(gpio.PullDown, gpio.NoEdge); err != nil {
		t.Fatal(err)
	}
	if o := p.Output(); o.Out || p.Level() != gpio.Low {
		t.Errorf("after In: %+v, level %s", o, p.Level())
	}
}

func TestPWM(t *testing.T) {
	p := newPin(t, Options{})
	if err := p.PWM(gpio.DutyMax/4, 25*physic.KiloHertz); err != nil {
		t.Fatal(err)
	}
	o := p.Output()
	if !o.PWM || o.Duty != gpio.DutyMax/4 || o.Frequency != 25*physic.KiloHertz || o.Level != gpio.High || o.Fraction() != 0.25 || p.Func() != gpio.PWM {
		t.Errorf("output %+v, func %s", o, p.Func())
	}
	if err := p.PWM(0, 25*physic.KiloHertz); err != nil || p.Level() != gpio.Low {
		t.Errorf("duty 0: %v, level %s", err, p.Level())
	}
	for _, bad := range []struct {
		d gpio.Duty
		f physic.Frequency
	}{{-1, 0}, {gpio.DutyMax + 1, 0}, {1, -physic.Hertz}} {
		if err := p.PWM(bad.d, bad.f); err == nil {
			t.Errorf("PWM(%d, %s) accepted", bad.d, bad.f)
		}
	}
	if log, _ := p.Changes(); len(log) != 2 {
		t.Errorf("%d changes recorded, want 2 (the refused ones not)", len(log))
	}
}

func TestOutFault(t *testing.T) {
	p := newPin(t, Options{})
	if err := p.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("driver transistor open")
	p.SetOutFault(broken)
	if err := p.Out(gpio.Low); !errors.Is(err, broken) {
		t.Fatalf("Out with a fault: %v", err)
	}
	if err := p.PWM(0, 0); !errors.Is(err, broken) {
		t.Fatalf("PWM with a fault: %v", err)
	}
	if p.Level() != gpio.High || len(p.Levels()) != 1 {
		t.Errorf("a failed Out moved the pin: %s, %v", p.Level(), p.Levels())
	}
	p.SetOutFault(nil)
	if err := p.Out(gpio.Low); err != nil || p.Level() != gpio.Low {
		t.Errorf("healed: %v, %s", err, p.Level())
	}
	// Stuck: the call succeeds and is recorded, the wire does not move.
	p.SetStuck(true)
	if err := p.Out(gpio.High); err != nil || p.Level() != gpio.Low || len(p.Levels()) != 3 {
		t.Errorf("stuck: %v, %s, %v", err, p.Level(), p.Levels())
	}
}

func TestOutLogBounded(t *testing.T) {
	p := newPin(t, Options{LogSize: 4})
	for i := range 10 {
		if err := p.Out(i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	log, lost := p.Changes()
	if len(log) != 4 || lost != 6 || log[0].Level != gpio.Level(6%2 == 0) {
		t.Errorf("log %+v, %d lost; want the last 4, 6 lost", log, lost)
	}
}
