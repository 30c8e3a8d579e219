package gpiosim

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/sensors"
)

// PulseOptions shape the pulses of Pulse and FollowCount. The zero value is
// clean, instantaneous pulses of a contact closing to ground; each field
// says its default.
type PulseOptions struct {
	// Active is the source's level during a pulse. Default Low: a contact
	// closing to ground (a reed switch, an open-collector output).
	Active gpio.Level
	// Width is how long each pulse lasts. Default 0: its edges follow each
	// other at once.
	Width time.Duration
	// Gap is the time after each pulse, before the next. Default 0.
	Gap time.Duration
	// Bounces is how many extra break-make pairs follow the first edge of
	// each pulse, as a reed switch bounces when it closes. Default 0.
	Bounces int
	// ReleaseBounces is the same at the end of each pulse. Default 0.
	ReleaseBounces int
	// BounceGap is the time between successive bounce edges; a real reed
	// switch bounces for 0.1 to 1 ms per edge, a few ms in all. Default 0:
	// the whole burst at once, which no scheduling delay can stretch (in
	// real time on a loaded machine, a sleep of 0.5 ms can last 50).
	BounceGap time.Duration
}

// Pulse makes the source emit n pulses shaped by opt, starting from the
// inactive level, and returns when they are done, or with ctx's error. In
// real time its delays are sleeps; with Options.Clock they advance the
// clock in lockstep with the consumer, and Pulse returns only after the
// consumer has taken every edge.
func (p *Pin) Pulse(ctx context.Context, n int, opt PulseOptions) error {
	p.Set(!opt.Active)
	for range n {
		if err := p.pulse(ctx, opt); err != nil {
			return fmt.Errorf("gpiosim %s: pulse: %w", p.opt.Name, err)
		}
	}
	if p.opt.Clock != nil {
		return p.WaitIdle(ctx)
	}
	return nil
}

// pulse emits one pulse.
func (p *Pin) pulse(ctx context.Context, opt PulseOptions) error {
	if err := p.change(ctx, opt.Active, opt.Bounces, opt.BounceGap); err != nil {
		return err
	}
	if err := p.sleep(ctx, opt.Width); err != nil {
		return err
	}
	if err := p.change(ctx, !opt.Active, opt.ReleaseBounces, opt.BounceGap); err != nil {
		return err
	}
	return p.sleep(ctx, opt.Gap)
}

// change sets the source to l, then bounces: back and forth again bounces
// times, gap apart. With no gap the whole burst happens at once, under one
// lock, so that no scheduling delay can stretch it.
func (p *Pin) change(ctx context.Context, l gpio.Level, bounces int, gap time.Duration) error {
	if gap <= 0 {
		p.mu.Lock()
		defer p.mu.Unlock()
		for range bounces {
			p.setSource(l)
			p.setSource(!l)
		}
		p.setSource(l)
		return nil
	}
	p.Set(l)
	for range bounces {
		if err := p.sleep(ctx, gap); err != nil {
			return err
		}
		p.Set(!l)
		if err := p.sleep(ctx, gap); err != nil {
			return err
		}
		p.Set(l)
	}
	return nil
}

// Chatter is a bounce storm, as from a loose or corroded contact: for d
// the pin's level toggles at random, exponentially distributed intervals
// of mean gap (default 500 µs), whatever the source does; then the level
// returns to the source's. A stuck pin does not chatter. Chatter returns
// when the storm is over, or with ctx's error.
func (p *Pin) Chatter(ctx context.Context, d, gap time.Duration) error {
	if gap <= 0 {
		gap = 500 * time.Microsecond
	}
	end := p.now().Add(d)
	for p.now().Before(end) {
		p.mu.Lock()
		g := max(time.Duration(p.rng.ExpFloat64()*float64(gap)), time.Microsecond)
		p.mu.Unlock()
		if err := p.sleep(ctx, g); err != nil {
			return fmt.Errorf("gpiosim %s: chatter: %w", p.opt.Name, err)
		}
		p.mu.Lock()
		if !p.stuck && p.out.mode == modeIn {
			p.setWire(!p.wire)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	if !p.stuck && p.out.mode == modeIn {
		p.setWire(p.level(p.source))
	}
	p.mu.Unlock()
	if p.opt.Clock != nil {
		return p.WaitIdle(ctx)
	}
	return nil
}

// LevelFunc is a model seen as a level: the source's level at t.
type LevelFunc func(t time.Time) gpio.Level

// CountFunc is a model seen as pulses: how many pulses the source has
// emitted up to t, never decreasing.
type CountFunc func(t time.Time) uint64

// FollowOptions configure FollowLevel and FollowCount. Each field says its
// default.
type FollowOptions struct {
	// Step is how often the model is asked. Default 10 ms.
	Step time.Duration
	// Pulse shapes each pulse of FollowCount; FollowLevel uses its Bounces
	// and BounceGap for each change of level.
	Pulse PulseOptions
}

// FollowLevel drives the pin from a model until ctx ends, then returns
// ctx's error: every Step it asks f for the level at the emulator's time
// (the Clock's or the wall clock's) and sets it, bouncing as opt says.
func (p *Pin) FollowLevel(ctx context.Context, f LevelFunc, opt FollowOptions) error {
	step := opt.step()
	for {
		if l := f(p.now()); l != p.Source() {
			if err := p.change(ctx, l, opt.Pulse.Bounces, opt.Pulse.BounceGap); err != nil {
				return err
			}
		}
		if err := p.sleep(ctx, step); err != nil {
			return err
		}
	}
}

// FollowCount drives the pin from a model of pulses until ctx ends, then
// returns ctx's error: every Step it asks f how many pulses there have
// been and emits the new ones, shaped by opt.Pulse, one after the other
// (pulses that came before FollowCount started are not emitted). Pulses
// that come faster than Width+Gap allow fall behind and catch up later.
func (p *Pin) FollowCount(ctx context.Context, f CountFunc, opt FollowOptions) error {
	step := opt.step()
	p.Set(!opt.Pulse.Active)
	done := f(p.now())
	for {
		for target := f(p.now()); done < target; done++ {
			if err := p.pulse(ctx, opt.Pulse); err != nil {
				return err
			}
		}
		if err := p.sleep(ctx, step); err != nil {
			return err
		}
	}
}

func (o FollowOptions) step() time.Duration {
	if o.Step <= 0 {
		return 10 * time.Millisecond
	}
	return o.Step
}

// now is the emulator's time.
func (p *Pin) now() time.Time {
	if p.opt.Clock != nil {
		return p.opt.Clock.Now()
	}
	return time.Now()
}

// sleep lets d of emulator time pass: a real sleep, or, with a Clock, once
// the consumer has taken every edge, an advance of the clock. It returns
// ctx's error if ctx ends first.
func (p *Pin) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	if c := p.opt.Clock; c != nil {
		if err := p.WaitIdle(ctx); err != nil {
			return ctx.Err()
		}
		c.Advance(d)
		return nil
	}
	return sensors.Sleep(ctx, d)
}
