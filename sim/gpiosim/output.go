package gpiosim

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// DefaultLogSize is how many output changes a pin keeps (Changes).
const DefaultLogSize = 1024

// mode is what the pin is to its driver.
type mode int

const (
	modeIn  mode = iota // an input (after reset, and after In)
	modeOut             // driven High or Low by Out
	modePWM             // driven by PWM
)

// outState is what the pin's driver drives; Pin.mu guards it.
type outState struct {
	mode  mode
	duty  gpio.Duty
	freq  physic.Frequency
	fault error    // Out and PWM fail with it while set
	log   []Change // oldest first, at most Options.LogSize
	lost  uint64   // changes dropped from the log
}

// A Change is one call of Out or PWM that succeeded, as the pin recorded
// it: what a test asserts and what the simulator follows.
type Change struct {
	At    time.Time  // the emulator's time (the Clock's, or the wall clock's)
	Level gpio.Level // Out's level; for PWM High if the duty is above 0
	PWM   bool       // set by PWM rather than Out
	// Duty is the PWM duty (for Out: 0 when Low, gpio.DutyMax when High).
	Duty gpio.Duty
	// Frequency is PWM's frequency as asked (0: the pin's choice); 0 for Out.
	Frequency physic.Frequency
}

// Fraction is the share of time the pin is High, 0..1: the duty, or the
// level of Out.
func (c Change) Fraction() float64 { return float64(c.Duty) / float64(gpio.DutyMax) }

// Output is what the pin's driver drives now.
type Output struct {
	Out   bool // the pin is an output (Out or PWM called since the last In)
	Level gpio.Level
	PWM   bool
	Duty  gpio.Duty
	// Frequency is the PWM frequency asked for.
	Frequency physic.Frequency
}

// Fraction is the share of time the pin is High, 0..1 (0 for an input).
func (o Output) Fraction() float64 {
	if !o.Out {
		return 0
	}
	return float64(o.Duty) / float64(gpio.DutyMax)
}

// Out implements gpio.PinOut: the pin becomes an output driving l (unless
// SetOutFault made it fail), which Changes records. A stuck pin records
// the change but its level does not move (a welded relay contact seen on
// the pin, a short).
func (p *Pin) Out(l gpio.Level) error {
	duty := gpio.Duty(0)
	if l == gpio.High {
		duty = gpio.DutyMax
	}
	return p.drive(Change{Level: l, Duty: duty}, "Out")
}

// PWM implements gpio.PinOut: the pin becomes an output at duty (0 to
// gpio.DutyMax) and frequency f (0: the pin's choice; negative is an
// error), which Changes records. Its level, as Read sees it, is High
// above 0 duty.
func (p *Pin) PWM(duty gpio.Duty, f physic.Frequency) error {
	if !duty.Valid() {
		return fmt.Errorf("gpiosim %s: PWM: duty %d outside 0..%d", p.opt.Name, duty, gpio.DutyMax)
	}
	if f < 0 {
		return fmt.Errorf("gpiosim %s: PWM: negative frequency %s", p.opt.Name, f)
	}
	return p.drive(Change{Level: duty > 0, PWM: true, Duty: duty, Frequency: f}, "PWM")
}

// drive applies and records c, then calls Options.OnOutput.
func (p *Pin) drive(c Change, op string) error {
	p.mu.Lock()
	if err := p.out.fault; err != nil {
		p.mu.Unlock()
		return fmt.Errorf("gpiosim %s: %s: %w", p.opt.Name, op, err)
	}
	c.At = p.now()
	p.out.mode = modeOut
	if c.PWM {
		p.out.mode = modePWM
	}
	p.out.duty, p.out.freq = c.Duty, c.Frequency
	if len(p.out.log) == p.opt.LogSize {
		p.out.log = append(p.out.log[:0], p.out.log[1:]...)
		p.out.lost++
	}
	p.out.log = append(p.out.log, c)
	if !p.stuck {
		p.setWire(c.Level)
	}
	p.broadcast()
	hook := p.opt.OnOutput
	p.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	return nil
}

// SetOutFault makes Out and PWM fail with err (wrapped) and leave the pin
// as it was, as a broken driver transistor or a dead GPIO expander would;
// nil heals it.
func (p *Pin) SetOutFault(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.fault = err
}

// Output returns what the pin's driver drives now.
func (p *Pin) Output() Output {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out.mode == modeIn {
		return Output{}
	}
	return Output{Out: true, Level: p.wire, PWM: p.out.mode == modePWM, Duty: p.out.duty, Frequency: p.out.freq}
}

// Level returns the pin's level now, as a voltmeter would see it: the
// driver's for an output (High for PWM above 0 duty), the source's and
// pull's for an input. Unlike Read it counts nothing.
func (p *Pin) Level() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wire
}

// Changes returns the output changes recorded, oldest first (at most
// Options.LogSize; older ones are dropped), and how many were dropped.
func (p *Pin) Changes() (log []Change, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Change(nil), p.out.log...), p.out.lost
}

// Levels returns the levels of the recorded output changes, oldest first:
// the short form tests compare ("Out(High) then Out(Low)").
func (p *Pin) Levels() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := make([]gpio.Level, len(p.out.log))
	for i, c := range p.out.log {
		ls[i] = c.Level
	}
	return ls
}

// outFunc is the pin's function as an output, or "" for an input; p.mu
// held.
func (p *Pin) outFunc() pin.Func {
	switch p.out.mode {
	case modeOut:
		if p.wire == gpio.High {
			return gpio.OUT_HIGH
		}
		return gpio.OUT_LOW
	case modePWM:
		return gpio.PWM
	}
	return ""
}
