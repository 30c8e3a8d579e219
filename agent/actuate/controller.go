package actuate

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
)

// ErrStopped is returned by Submit and Local once Run has returned.
var ErrStopped = errors.New("actuate: controller stopped")

// RefusedError is Submit's and Local's error for a command refused at once
// (invalid, wrong device, queue full). Its refused status is reported too,
// unless the command's id, device or actuator is not a valid id (then
// nothing can be reported about it).
type RefusedError struct {
	Reason string // a command.Reason* code
	Detail string
	Err    error // command.ErrInvalid's wrapper for invalid commands, else nil
}

func (e *RefusedError) Error() string {
	return "actuate: command refused: " + e.Reason + ": " + e.Detail
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Controller decides and applies commands to a device's actuators under
// the edge's configuration. Submit, Local, SetUplink, Actuators and
// Sensors are safe for concurrent use; one goroutine, Run's, applies the
// commands and reports every event.
type Controller struct {
	cfg    Config
	opt    Options
	log    *slog.Logger
	acts   []*actuator
	byName map[string]*actuator
	m      *metrics

	// Owned by Run's goroutine after New.
	led        *ledger
	unfinished []*entry
	damaged    bool      // the ledger was found damaged
	damagedAt  time.Time // then, by a trusted clock (zero until the clock is): commands recorded before it cannot be checked

	mu      sync.Mutex // guards the fields below
	queue   []item
	queued  int // commands (not refusals) in queue
	up      bool
	lostAt  time.Time // the uplink was lost then and the safe states are due; zero: none due
	running int       // 0 new, 1 running, 2 stopped
	wake    chan struct{}

	stMu sync.Mutex // guards each actuator's value and watchers
}

// item is a command waiting for Run's goroutine.
type item struct {
	cmd    command.Command
	local  bool
	refuse string // refused at once for this reason ("" to decide)
	detail string
}

// actuator is one actuator and what the controller knows of it.
type actuator struct {
	spec      Spec
	out       actuators.Output
	partners  []*actuator // in an interlock group with it
	partnerNs []string

	// Owned by Run's goroutine.
	onSince, offSince time.Time
	retryOff          time.Time   // a failed max_on switch-off is retried then
	tries             []time.Time // commands tried in the last minute

	// Under Controller.stMu (written by Run's goroutine only).
	value    float64
	watchers map[*watcher]struct{}
}

// New checks cfg, opens the command ledger in cfg.StateDir and returns a
// controller of outs, one per cfg.Actuators entry (matched by Name). It
// does not touch the outputs: Run puts them in their safe states. Run
// closes the ledger when it returns (a controller never run keeps it open).
// One controller per device and state dir: the agent's lock on the state
// dir keeps a second edge away.
func New(cfg Config, outs []actuators.Output, opt Options) (*Controller, error) {
	cfg.Actuators = append([]Spec(nil), cfg.Actuators...)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	opt.defaults()
	c := &Controller{cfg: cfg, opt: opt, log: opt.Logger, byName: map[string]*actuator{}, wake: make(chan struct{}, 1)}
	byOut := map[string]actuators.Output{}
	for _, o := range outs {
		if _, dup := byOut[o.Name()]; dup {
			return nil, fmt.Errorf("actuate: two outputs named %q", o.Name())
		}
		byOut[o.Name()] = o
	}
	if len(outs) != len(cfg.Actuators) {
		return nil, fmt.Errorf("actuate: %d outputs for %d actuators", len(outs), len(cfg.Actuators))
	}
	names := make([]string, 0, len(cfg.Actuators))
	for _, s := range cfg.Actuators {
		o, ok := byOut[s.Name]
		if !ok {
			return nil, fmt.Errorf("actuate: no output for actuator %q", s.Name)
		}
		a := &actuator{spec: s, out: o, value: o.Value()}
		c.acts = append(c.acts, a)
		c.byName[s.Name] = a
		names = append(names, s.Name)
	}
	for _, g := range cfg.Interlocks {
		for _, n := range g {
			a := c.byName[n]
			for _, p := range g {
				if p != n && !contains(a.partnerNs, p) {
					a.partners = append(a.partners, c.byName[p])
					a.partnerNs = append(a.partnerNs, p)
				}
			}
		}
	}
	for _, a := range c.acts {
		for _, p := range a.partners {
			if !a.spec.Hold && !p.spec.Hold && a.spec.Safe > 0 && p.spec.Safe > 0 {
				return nil, fmt.Errorf("actuate: interlocked actuators %s and %s are both on in their safe states", a.spec.Name, p.spec.Name)
			}
		}
	}
	for _, d := range c.Actuators() {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("actuate: actuator %s: %w", d.Name, err)
		}
	}
	c.m = newMetrics(names)
	led, ld, err := openLedger(ledgerPath(cfg.StateDir, cfg.Device))
	if err != nil {
		return nil, err
	}
	if err := c.m.register(opt.Registerer); err != nil {
		led.close()
		return nil, err
	}
	c.led, c.unfinished = led, ld.unfinished
	if ld.torn {
		c.log.Info("the command ledger's last record was torn by a stop during its write; that command was never applied", "device", cfg.Device, "path", led.path)
	}
	if ld.damaged > 0 {
		c.damaged = true
		c.log.Error("the command ledger is damaged: ids recorded before now cannot be checked for repeats, so commands recorded before now (plus a minute for clocks that differ) are refused until their deadlines pass",
			"device", cfg.Device, "path", led.path, "damaged_records", ld.damaged)
	}
	return c, nil
}

// damageSkew is how much later than the damage a command's At must be to
// be taken after a damaged ledger (clocks of the cloud and the edge differ).
const damageSkew = time.Minute

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Submit hands over a command from the uplink. It never blocks long: the
// command waits in a bounded queue for Run's goroutine, which reports its
// statuses. A non-nil error (*RefusedError, or ErrStopped) means it was
// refused at once; see RefusedError for what is then reported.
func (c *Controller) Submit(cmd command.Command) error { return c.submit(cmd, false) }

// Local is Submit for a command given on the device itself (its own
// dashboard): the command is reported (Event{Command}) before its
// statuses, so that the audit trail upstream shows it. An invalid command
// is not reported at all.
func (c *Controller) Local(cmd command.Command) error { return c.submit(cmd, true) }

func (c *Controller) submit(cmd command.Command, local bool) error {
	it := item{cmd: cmd, local: local}
	var rerr *RefusedError
	if err := cmd.Validate(); err != nil {
		rerr = &RefusedError{Reason: command.ReasonInvalid, Detail: err.Error(), Err: err}
		if local || !reading.ValidID(cmd.ID) || !reading.ValidID(cmd.Device) || !reading.ValidID(cmd.Actuator) {
			return rerr // nothing valid to report
		}
	} else if cmd.Device != c.cfg.Device {
		rerr = &RefusedError{Reason: command.ReasonWrongDevice, Detail: "for device " + cmd.Device + ", this is " + c.cfg.Device}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running == 2 {
		return ErrStopped
	}
	if rerr == nil && c.queued >= c.opt.QueueLen {
		rerr = &RefusedError{Reason: command.ReasonBusy, Detail: strconv.Itoa(c.queued) + " commands wait already"}
	}
	if rerr != nil {
		if len(c.queue) >= c.opt.QueueLen+maxRefusals {
			c.m.commands.WithLabelValues(string(command.Refused), rerr.Reason).Inc()
			return rerr // too many refusals waiting to be reported: this one is not
		}
		it.refuse, it.detail = rerr.Reason, rerr.Detail
	} else {
		c.queued++
	}
	c.queue = append(c.queue, it)
	c.poke()
	if rerr != nil {
		return rerr
	}
	return nil
}

// poke wakes Run's goroutine. Call it under c.mu or not.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// SetUplink tells the controller the uplink's state (true: connected).
// Once it has been false for Config.SafeAfter, every actuator goes to its
// safe state, once per outage. It never blocks long. Before the first
// call, the uplink counts as down with its outage's safe states done (Run
// starts with them).
func (c *Controller) SetUplink(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if up == c.up {
		return
	}
	c.up = up
	c.lostAt = time.Time{}
	if !up && c.cfg.SafeAfter > 0 {
		c.lostAt = c.opt.Now()
	}
	c.poke()
}

// Actuators returns the descriptions of the actuators, in configuration
// order, as the device announces them.
func (c *Controller) Actuators() []command.Actuator {
	as := make([]command.Actuator, len(c.acts))
	for i, a := range c.acts {
		s := a.spec
		as[i] = command.Actuator{Name: s.Name, Kind: s.Kind, Min: s.Min, Max: s.Max, Safe: safeWord(s),
			Label: s.Label, Interlock: append([]string(nil), a.partnerNs...)}
	}
	return as
}

func safeWord(s Spec) string {
	switch {
	case s.Hold:
		return "hold"
	case s.Safe == 0:
		return "off"
	case s.Kind == command.KindSwitch:
		return "on"
	}
	return strconv.FormatFloat(s.Safe, 'g', -1, 64)
}

// clipText cuts s to at most n bytes on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
