package actuate

import (
	"context"
	"fmt"
	"time"

	"github.com/tributary-iot/tributary/command"
)

// handle decides one command and applies it, in the order of checks of the
// package documentation.
func (c *Controller) handle(ctx context.Context, it item) {
	cmd := it.cmd
	now := c.opt.Now()
	if it.local {
		c.report(command.Event{Command: &cmd})
	}
	if it.refuse != "" {
		c.refuse(cmd, it.refuse, it.detail, now)
		return
	}
	if e := c.led.get(cmd.ID); e != nil {
		c.repeat(e, cmd, now)
		return
	}
	e := newEntry(it, now)
	if c.led.live() >= c.opt.MaxIDs {
		c.tidyLedger(now)
		if c.led.live() >= c.opt.MaxIDs {
			if !c.harmless(cmd) {
				c.refuse(cmd, command.ReasonBusy, fmt.Sprintf("the edge remembers %d command ids whose deadline has not passed, its limit", c.led.live()), now)
				return
			}
			e.norec = true
		}
	}
	if state, reason, detail := c.check(cmd, now); reason != "" {
		e.finalize(state, reason, detail, cmd.Value, now)
		c.record(e)
		return
	}
	a := c.byName[cmd.Actuator]
	if !e.norec {
		if err := c.led.add(e); err != nil {
			if !c.harmless(cmd) {
				c.log.Error("cannot record a command's id: refused", "device", c.cfg.Device, "id", cmd.ID, "err", err)
				c.refuse(cmd, command.ReasonBusy, "the edge cannot record the command: "+err.Error(), now)
				return
			}
			c.log.Error("cannot record a command's id; it sets a safe value, so it is applied unrecorded", "device", c.cfg.Device, "id", cmd.ID, "err", err)
			e.norec = true
		}
	}
	c.report(e.acceptedEvent())
	a.tries = append(a.tries, now)
	if now = c.opt.Now(); !now.Before(cmd.Deadline) {
		c.finish(e, command.Expired, command.ReasonDeadline, "its deadline passed before it could be applied", cmd.Value, now)
		return
	}
	prev := a.value
	err := c.set(ctx, a, cmd.Value)
	now = c.opt.Now()
	switch {
	case err != nil && ctx.Err() != nil:
		c.setValue(a, a.out.Value(), now)
		c.finish(e, command.Refused, command.ReasonInterrupted, "the edge stopped while applying it: "+err.Error(), cmd.Value, now)
	case err != nil:
		c.log.Error("actuator would not take a command's value: to its safe state", "device", c.cfg.Device, "actuator", a.spec.Name,
			"id", cmd.ID, "value", cmd.Value, "was", prev, "err", err)
		c.finish(e, command.Failed, command.ReasonHardware, err.Error(), cmd.Value, now)
		c.toSafe(ctx, a, CauseHardware, now)
	default:
		c.setValue(a, cmd.Value, now)
		c.log.Info("command applied", "device", c.cfg.Device, "actuator", a.spec.Name, "id", cmd.ID, "value", cmd.Value, "by", cmd.By, "local", it.local)
		c.finish(e, command.Applied, "", "", cmd.Value, now)
	}
	c.tidyLedger(now)
}

// check returns why cmd may not be applied now ("" if it may).
func (c *Controller) check(cmd command.Command, now time.Time) (command.State, string, string) {
	refused := func(reason, format string, args ...any) (command.State, string, string) {
		return command.Refused, reason, fmt.Sprintf(format, args...)
	}
	if !c.opt.ClockTrusted() {
		return refused(command.ReasonClock, "the edge's clock is not synchronised, so deadlines cannot be checked")
	}
	if !now.Before(cmd.Deadline) {
		return command.Expired, command.ReasonDeadline, fmt.Sprintf("its deadline passed %v before it could be applied", now.Sub(cmd.Deadline).Round(time.Millisecond))
	}
	if c.damaged && c.damagedAt.IsZero() {
		c.damagedAt = now // the first trusted time since the damage was found
	}
	if c.damaged && cmd.At.Before(c.damagedAt.Add(damageSkew)) {
		return refused(command.ReasonInterrupted, "the edge's command ledger was damaged: a command recorded before %s cannot be checked for repeats; send it again", c.damagedAt.UTC().Format(time.RFC3339))
	}
	a := c.byName[cmd.Actuator]
	if a == nil {
		return refused(command.ReasonUnknownActuator, "no actuator %q on %s", cmd.Actuator, c.cfg.Device)
	}
	s := a.spec
	if s.Kind == command.KindSwitch && cmd.Value != 0 && cmd.Value != 1 {
		return refused(command.ReasonOutOfRange, "%s is a switch: 0 (off) or 1 (on)", s.Name)
	}
	if s.Kind == command.KindLevel && cmd.Value != 0 && (cmd.Value < s.Min || cmd.Value > s.Max) {
		return refused(command.ReasonOutOfRange, "%s takes 0 or %g..%g", s.Name, s.Min, s.Max)
	}
	if cmd.Value > 0 {
		for _, p := range a.partners {
			if p.value > 0 {
				return refused(command.ReasonInterlock, "%s is on, and %s and %s are never on together", p.spec.Name, s.Name, p.spec.Name)
			}
		}
		if a.value <= 0 && s.MinOff > 0 && !a.offSince.IsZero() && now.Sub(a.offSince) < s.MinOff {
			return refused(command.ReasonMinOffTime, "%s is off since %s; it may switch on again in %v",
				s.Name, a.offSince.UTC().Format(time.RFC3339), (s.MinOff - now.Sub(a.offSince)).Round(time.Second))
		}
	}
	cut := now.Add(-time.Minute)
	kept := a.tries[:0]
	for _, t := range a.tries {
		if t.After(cut) && !t.After(now) { // a try after now: the clock stepped back; forget it
			kept = append(kept, t)
		}
	}
	a.tries = kept
	if len(a.tries) >= s.PerMinute {
		return refused(command.ReasonRateLimited, "%s takes at most %d commands a minute", s.Name, s.PerMinute)
	}
	return "", "", ""
}

// setTimeout bounds one Output.Set, so that a stuck driver that heeds its
// context cannot hold up the timers (max_on, safe_after) for long.
const setTimeout = 10 * time.Second

// set sets a's output to v, bounded by setTimeout.
func (c *Controller) set(ctx context.Context, a *actuator, v float64) error {
	ctx, cancel := context.WithTimeout(ctx, setTimeout)
	defer cancel()
	return a.out.Set(ctx, v)
}

func newEntry(it item, now time.Time) *entry {
	return &entry{id: it.cmd.ID, actuator: it.cmd.Actuator, value: it.cmd.Value, deadline: it.cmd.Deadline,
		accepted: statusTime(now, it.cmd.At), local: it.local}
}

func (e *entry) finalize(state command.State, reason, detail string, v float64, now time.Time) {
	e.state, e.reason, e.detail, e.fvalue, e.ftime = state, reason, cleanDetail(detail), v, statusTime(now, e.accepted)
}

// statusTime returns now, or else if the clock reads a time a status
// cannot carry (before 2000: a clock never set), fallback.
// Times are cut to milliseconds, as on the wire and in the ledger, so that
// a status reported again is the same.
func statusTime(now, fallback time.Time) time.Time {
	if y := now.UTC().Year(); y < 2000 || y > 9999 {
		now = fallback
	}
	return now.UTC().Truncate(time.Millisecond)
}

// cleanDetail makes s a valid Status.Detail: control characters become
// spaces, and it is cut to command.MaxDetailLen bytes.
func cleanDetail(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r < ' ' || r == 0x7f {
			b[i] = ' '
		}
	}
	return clipText(string(b), command.MaxDetailLen)
}

// repeat answers a command whose id the ledger holds as e: the same
// command (a redelivery) gets its recorded statuses again; another one
// reusing the id is refused duplicate_id, unrecorded and never applied:
// its sender must not be told that the first one's outcome is its own.
func (c *Controller) repeat(e *entry, cmd command.Command, now time.Time) {
	if e.actuator == cmd.Actuator && e.value == cmd.Value && e.deadline.UnixMilli() == cmd.Deadline.UnixMilli() {
		c.log.Info("command delivered again: its recorded outcome is reported again", "device", c.cfg.Device, "id", cmd.ID, "state", e.state)
		c.reReport(e)
		return
	}
	c.log.Warn("command id reused for another command: refused", "device", c.cfg.Device, "id", cmd.ID,
		"actuator", cmd.Actuator, "value", cmd.Value, "was_actuator", e.actuator, "was_value", e.value)
	c.refuse(cmd, command.ReasonDuplicateID, fmt.Sprintf("id %s was already used for %s -> %g (deadline %s); give each command its own id",
		cmd.ID, e.actuator, e.value, e.deadline.UTC().Format(time.RFC3339Nano)), now)
}

// harmless reports whether cmd moves its actuator to its safe value or
// off (0): doing so twice does no harm, so such a command needs no
// at-most-once record, and a full ledger never keeps it from running.
func (c *Controller) harmless(cmd command.Command) bool {
	if cmd.Value == 0 {
		return true
	}
	a := c.byName[cmd.Actuator]
	return a != nil && !a.spec.Hold && cmd.Value == a.spec.Safe
}

// record writes a finished entry (a command refused or expired before it
// was tried) and reports it accepted, then its outcome. If the ledger
// cannot take it, the outcome is reported alone.
func (c *Controller) record(e *entry) {
	c.countOutcome(e.state, e.reason)
	if e.norec {
		c.report(e.status())
		return
	}
	if err := c.led.add(e); err != nil {
		c.log.Error("cannot record a refused command's id", "device", c.cfg.Device, "id", e.id, "err", err)
		c.report(e.status())
		return
	}
	c.report(e.acceptedEvent())
	c.report(e.status())
}

// finish records and reports the outcome of an accepted command.
func (c *Controller) finish(e *entry, state command.State, reason, detail string, v float64, now time.Time) {
	e.finalize(state, reason, detail, v, now)
	c.countOutcome(state, reason)
	if e.norec {
		c.report(e.status())
		return
	}
	if err := c.led.finish(e); err != nil {
		c.log.Error("cannot record a command's outcome; a restart would report it interrupted", "device", c.cfg.Device, "id", e.id, "state", state, "err", err)
	}
	c.report(e.status())
}

// refuse reports a refusal that is not recorded (the id is not checked).
func (c *Controller) refuse(cmd command.Command, reason, detail string, now time.Time) {
	c.countOutcome(command.Refused, reason)
	c.report(command.Event{Status: &command.Status{ID: cmd.ID, Device: c.cfg.Device, Actuator: cmd.Actuator,
		State: command.Refused, Reason: reason, Detail: cleanDetail(detail), Value: finite(cmd.Value), Time: statusTime(now, cmd.At)}})
}

// reReport reports a recorded command's statuses again.
func (c *Controller) reReport(e *entry) {
	c.report(e.acceptedEvent())
	if e.state != "" {
		c.report(e.status())
	}
}

func (c *Controller) countOutcome(state command.State, reason string) {
	c.m.commands.WithLabelValues(string(state), reason).Inc()
}

func (c *Controller) report(ev command.Event) {
	if ev.Status != nil && ev.Status.Device == "" {
		ev.Status.Device = c.cfg.Device
	}
	if err := ev.Validate(); err != nil {
		c.log.Error("an event the controller made is invalid; not reported", "device", c.cfg.Device, "err", err)
		return
	}
	c.opt.Report(ev)
}

func (e *entry) acceptedEvent() command.Event {
	return command.Event{Status: &command.Status{ID: e.id, Actuator: e.actuator, State: command.Accepted, Value: e.value, Time: e.accepted}}
}

func (e *entry) status() command.Event {
	return command.Event{Status: &command.Status{ID: e.id, Actuator: e.actuator, State: e.state, Reason: e.reason, Detail: e.detail, Value: e.fvalue, Time: e.ftime}}
}

func finite(v float64) float64 {
	if v != v || v > 1e308 || v < -1e308 {
		return 0
	}
	return v
}
