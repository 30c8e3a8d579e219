package actuate

import (
	"context"
	"errors"
	"time"

	"github.com/tributary-iot/tributary/command"
)

// Run puts every actuator in its safe state (or holds it), reports the
// commands a previous run left unfinished as refused interrupted, then
// applies commands and runs the max_on and safe_after timers until ctx
// ends. It returns nil then, after reporting the commands still queued as
// refused interrupted; the outputs keep their values. Run may be called
// once.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running != 0 {
		c.mu.Unlock()
		return errors.New("actuate: Run called twice")
	}
	c.running = 1
	c.mu.Unlock()
	defer c.led.close()
	defer c.stop()

	now := c.opt.Now()
	for _, a := range c.acts {
		c.toSafe(ctx, a, CauseBoot, now)
	}
	c.bootInterlocks(ctx, now)
	c.resolveUnfinished()
	c.tidyLedger(now)

	var t Timer
	var tAt time.Time
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		c.step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if next := c.nextWake(); !next.Equal(tAt) || t == nil && !next.IsZero() {
			if t != nil {
				t.Stop()
				t = nil
			}
			if tAt = next; !next.IsZero() {
				t = c.opt.NewTimer(next)
			}
		}
		var tc <-chan time.Time
		if t != nil {
			tc = t.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.wake:
		case <-tc:
			t, tAt = nil, time.Time{}
		}
	}
}

// step does everything due: the queued commands, then the timers.
func (c *Controller) step(ctx context.Context) {
	for ctx.Err() == nil {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			break
		}
		it := c.queue[0]
		c.queue[0] = item{}
		c.queue = c.queue[1:]
		if it.refuse == "" {
			c.queued--
		}
		c.mu.Unlock()
		c.handle(ctx, it)
	}
	if ctx.Err() != nil {
		return
	}
	now := c.opt.Now()
	c.mu.Lock()
	lost := !c.lostAt.IsZero() && !now.Before(c.lostAt.Add(c.cfg.SafeAfter))
	if lost {
		c.lostAt = time.Time{}
	}
	c.mu.Unlock()
	if lost {
		c.log.Warn("uplink lost too long: every actuator to its safe state", "device", c.cfg.Device, "safe_after", c.cfg.SafeAfter)
		for _, a := range c.acts {
			c.toSafe(ctx, a, CauseUplinkLost, now)
		}
	}
	for _, a := range c.acts {
		if due, ok := a.offDue(); ok && !now.Before(due) {
			c.maxOnOff(ctx, a, now)
		}
	}
}

// offDue returns when max_on switches a off, if it is on under a limit.
func (a *actuator) offDue() (time.Time, bool) {
	if a.spec.MaxOn <= 0 || a.value <= 0 {
		return time.Time{}, false
	}
	if !a.retryOff.IsZero() {
		return a.retryOff, true
	}
	return a.onSince.Add(a.spec.MaxOn), true
}

// nextWake returns when a timer is next due (zero: none).
func (c *Controller) nextWake() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, a := range c.acts {
		if due, ok := a.offDue(); ok {
			earlier(due)
		}
	}
	c.mu.Lock()
	if !c.lostAt.IsZero() {
		earlier(c.lostAt.Add(c.cfg.SafeAfter))
	}
	c.mu.Unlock()
	return next
}

// maxOnOff switches a off: it has been on for its max_on.
func (c *Controller) maxOnOff(ctx context.Context, a *actuator, now time.Time) {
	if err := c.set(ctx, a, 0); err != nil {
		c.log.Error("cannot switch off an actuator on longer than its max_on; retrying", "device", c.cfg.Device, "actuator", a.spec.Name,
			"max_on", a.spec.MaxOn, "retry_in", retryOffEvery, "err", err)
		c.setValue(a, a.out.Value(), now)
		a.retryOff = now.Add(retryOffEvery)
		return
	}
	c.log.Warn("actuator switched off: on for its max_on", "device", c.cfg.Device, "actuator", a.spec.Name, "max_on", a.spec.MaxOn, "on_since", a.onSince)
	c.setValue(a, 0, now)
}

// retryOffEvery is how often a failed max_on switch-off is tried again.
const retryOffEvery = 5 * time.Second

// toSafe puts a in its safe state (Hold: keeps its value) and says so.
func (c *Controller) toSafe(ctx context.Context, a *actuator, cause string, now time.Time) {
	c.m.safe.WithLabelValues(a.spec.Name, cause).Inc()
	v := a.spec.Safe
	if a.spec.Hold {
		v = a.value
		if cause == CauseBoot {
			v = a.out.Value()
		}
		if cause != CauseHardware {
			c.log.Info("actuator holds its value ("+cause+")", "device", c.cfg.Device, "actuator", a.spec.Name, "value", v)
			c.setValue(a, v, now)
			return
		}
	}
	if err := c.set(ctx, a, v); err != nil {
		c.log.Error("cannot put an actuator in its safe state ("+cause+")", "device", c.cfg.Device, "actuator", a.spec.Name, "safe", v, "err", err)
		c.setValue(a, a.out.Value(), now)
		return
	}
	c.log.Info("actuator in its safe state ("+cause+")", "device", c.cfg.Device, "actuator", a.spec.Name, "value", v)
	c.setValue(a, v, now)
}

// bootInterlocks switches off, at start, an actuator held on while an
// interlocked one (earlier in the configuration) is on too: held values
// may break an interlock.
func (c *Controller) bootInterlocks(ctx context.Context, now time.Time) {
	for i, a := range c.acts {
		for _, p := range a.partners {
			if a.value <= 0 || p.value <= 0 || !c.before(p, i) {
				continue
			}
			if err := c.set(ctx, a, 0); err != nil {
				c.log.Error("cannot switch off an actuator held on together with an interlocked one", "device", c.cfg.Device, "actuator", a.spec.Name, "other", p.spec.Name, "err", err)
				continue
			}
			c.log.Warn("actuator switched off at start: held on together with an interlocked one", "device", c.cfg.Device, "actuator", a.spec.Name, "other", p.spec.Name)
			c.setValue(a, 0, now)
		}
	}
}

// before reports whether p comes before the i-th actuator in the configuration.
func (c *Controller) before(p *actuator, i int) bool {
	for _, x := range c.acts[:i] {
		if x == p {
			return true
		}
	}
	return false
}

// setValue records a's new value (always emitting a state sample), and
// when it went on or off.
func (c *Controller) setValue(a *actuator, v float64, now time.Time) {
	if prev := a.value; v > 0 && (prev <= 0 || a.onSince.IsZero()) {
		a.onSince = now
	} else if v <= 0 && (prev > 0 || a.offSince.IsZero()) {
		a.offSince = now
	}
	if v <= 0 {
		a.onSince = time.Time{}
	}
	a.retryOff = time.Time{}
	c.m.value.WithLabelValues(a.spec.Name).Set(v)
	c.stMu.Lock()
	a.value = v
	s := a.sample()
	for w := range a.watchers {
		w.push(s)
	}
	c.stMu.Unlock()
}

// resolveUnfinished reports the commands a previous run accepted and never
// finished as refused interrupted, and records that.
func (c *Controller) resolveUnfinished() {
	now := c.opt.Now()
	for _, e := range c.unfinished {
		e.state, e.reason, e.fvalue, e.ftime = command.Refused, command.ReasonInterrupted, e.value, now
		e.detail = "the edge stopped before it was applied; its actuators went to their safe states at start"
		if err := c.led.finish(e); err != nil {
			c.log.Error("cannot record an interrupted command's outcome", "device", c.cfg.Device, "id", e.id, "err", err)
		}
		c.log.Warn("command accepted before a stop and never finished: refused interrupted", "device", c.cfg.Device, "id", e.id, "actuator", e.actuator)
		c.m.commands.WithLabelValues(string(command.Refused), command.ReasonInterrupted).Inc()
		c.report(e.status())
	}
	c.unfinished = nil
}

// tidyLedger forgets the ids whose deadline has passed (only while the
// clock is trusted: a clock far ahead would forget ids too early) and
// compacts the file when it holds many more records than ids.
func (c *Controller) tidyLedger(now time.Time) {
	if !c.opt.ClockTrusted() {
		return
	}
	compact := false
	if c.damaged && !c.damagedAt.IsZero() && !now.Before(c.damagedAt.Add(command.MaxLifetime+damageSkew)) {
		c.damaged, c.led.keep, compact = false, nil, true
		c.log.Info("the command ledger's damage is past: every command recorded before it has expired; its damaged records are dropped", "device", c.cfg.Device)
	}
	c.led.forget(now)
	if compact || c.led.needsCompaction() {
		if err := c.led.compact(); err != nil {
			c.log.Error("cannot compact the command ledger", "device", c.cfg.Device, "err", err)
		}
	}
}

// stop marks the controller stopped and reports the commands still queued
// as refused interrupted (recorded, so that a redelivery says the same).
func (c *Controller) stop() {
	c.mu.Lock()
	c.running = 2
	q := c.queue
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	now := c.opt.Now()
	for _, it := range q {
		if it.local {
			cmd := it.cmd
			c.report(command.Event{Command: &cmd})
		}
		if it.refuse != "" {
			c.refuse(it.cmd, it.refuse, it.detail, now)
			continue
		}
		if e := c.led.get(it.cmd.ID); e != nil {
			c.repeat(e, it.cmd, now)
			continue
		}
		e := newEntry(it, now)
		e.finalize(command.Refused, command.ReasonInterrupted, "the edge stopped before it could be applied", it.cmd.Value, now)
		c.record(e)
	}
}
