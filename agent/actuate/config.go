package actuate

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
)

// Defaults and limits.
const (
	// DefaultPerMinute is Spec.PerMinute's default.
	DefaultPerMinute = 30
	// DefaultQueueLen is Options.QueueLen's default.
	DefaultQueueLen = 64
	// DefaultMaxIDs is Options.MaxIDs's default.
	DefaultMaxIDs = 10000
	// maxRefusals bounds the refusals decided by Submit that wait to be
	// reported, beyond the commands queued.
	maxRefusals = 1024
)

// Spec is one actuator's configuration: its limits, which no command can
// override.
type Spec struct {
	Name  string // reading.ValidID; the Output's Name and the sensor name of its state readings
	Label string // words for a person, optional (at most 64 bytes)
	Kind  string // command.KindSwitch (0 off, 1 on) or command.KindLevel (Min..Max, PWM duty %)
	// Min and Max bound a level's values (within 0..100, Min below Max;
	// both zero: 0..100). A switch ignores them: 0..1.
	Min, Max float64
	// Safe is its value on boot and after the uplink has been lost for
	// Config.SafeAfter (a switch: 0 or 1; a level: 0 or Min..Max). Default 0.
	Safe float64
	// Hold keeps the value it has at those moments instead of Safe.
	Hold bool
	// MaxOn is the longest it stays on (above 0) in one go before it is
	// switched off by itself. Default 0: no limit.
	MaxOn time.Duration
	// MinOff is the shortest time off before a command may switch it on
	// again (a boot counts as switching off). Default 0: none.
	MinOff time.Duration
	// PerMinute is the most commands in any 60 s that are tried on it
	// (refusals do not count). Default 0: DefaultPerMinute.
	PerMinute int
}

// Config is a controller's configuration: the edge's own, never the cloud's.
type Config struct {
	Device    string // the device's id: commands for another are refused (wrong_device)
	Actuators []Spec // at most command.MaxActuators, names unique
	// Interlocks are groups of actuator names never on together: a command
	// that would switch one on while another of its group is on is refused.
	Interlocks [][]string
	// SafeAfter is how long the uplink may be lost before every actuator
	// goes to its safe state. Default 0: never.
	SafeAfter time.Duration
	// StateDir holds the command ledger, <Device>.commands. Required.
	StateDir string
}

// Timer is a one-shot timer, as from Options.NewTimer.
type Timer interface {
	C() <-chan time.Time // receives once the timer fires
	Stop() bool          // stops it; reports whether it had not fired
}

// Options are a controller's collaborators; every field has a default.
type Options struct {
	// Logger receives the controller's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the controller's metrics. Default nil: not registered.
	Registerer prometheus.Registerer
	// Now is the controller's clock: deadlines, rates, min_off, max_on and
	// status times. Default time.Now, whose monotonic reading keeps the
	// durations right when the wall clock steps.
	Now func() time.Time
	// NewTimer returns a timer that fires once Now reads at or later (the
	// max_on and safe_after timers). Default: a time.Timer for at.Sub(Now()).
	NewTimer func(at time.Time) Timer
	// ClockTrusted reports whether Now can be trusted to check deadlines
	// (synchronised): while it reports false, commands are refused
	// clock_untrusted. Default nil: always trusted.
	ClockTrusted func() bool
	// Report receives every event, in order, from one goroutine. It must not
	// block long: the controller waits for it. Default: discard.
	Report func(command.Event)
	// QueueLen bounds the commands waiting to be applied; beyond it Submit
	// refuses them busy. Default DefaultQueueLen.
	QueueLen int
	// MaxIDs bounds the ids the ledger remembers (those whose deadline has
	// not passed); beyond it commands are refused busy. Default DefaultMaxIDs.
	MaxIDs int
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewTimer == nil {
		now := o.Now
		o.NewTimer = func(at time.Time) Timer { return realTimer{time.NewTimer(at.Sub(now()))} }
	}
	if o.ClockTrusted == nil {
		o.ClockTrusted = func() bool { return true }
	}
	if o.Report == nil {
		o.Report = func(command.Event) {}
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.MaxIDs <= 0 {
		o.MaxIDs = DefaultMaxIDs
	}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// check validates cfg and fills the defaults of its specs in place (on a
// copy the caller made).
func (cfg *Config) check() error {
	if !reading.ValidID(cfg.Device) {
		return fmt.Errorf("actuate: device %q is not a valid id", cfg.Device)
	}
	if cfg.StateDir == "" {
		return fmt.Errorf("actuate: no state dir: the command ledger needs one")
	}
	if len(cfg.Actuators) > command.MaxActuators {
		return fmt.Errorf("actuate: %d actuators, at most %d", len(cfg.Actuators), command.MaxActuators)
	}
	if cfg.SafeAfter < 0 {
		return fmt.Errorf("actuate: safe_after %v is negative", cfg.SafeAfter)
	}
	seen := map[string]bool{}
	for i := range cfg.Actuators {
		s := &cfg.Actuators[i]
		if err := s.check(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("actuate: actuator %q twice", s.Name)
		}
		seen[s.Name] = true
	}
	for _, g := range cfg.Interlocks {
		if len(g) < 2 {
			return fmt.Errorf("actuate: interlock %v: name at least two actuators", g)
		}
		in := map[string]bool{}
		for _, n := range g {
			if !seen[n] {
				return fmt.Errorf("actuate: interlock %v: no actuator %q", g, n)
			}
			if in[n] {
				return fmt.Errorf("actuate: interlock %v: %q twice", g, n)
			}
			in[n] = true
		}
	}
	return nil
}

func (s *Spec) check() error {
	if !reading.ValidID(s.Name) {
		return fmt.Errorf("actuate: actuator name %q is not a valid id", s.Name)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("actuate: actuator %s: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch s.Kind {
	case command.KindSwitch:
		s.Min, s.Max = 0, 1
		if s.Safe != 0 && s.Safe != 1 {
			return bad("safe %v: a switch's safe state is 0 (off) or 1 (on)", s.Safe)
		}
	case command.KindLevel:
		if s.Min == 0 && s.Max == 0 {
			s.Max = 100
		}
		if math.IsNaN(s.Min) || math.IsNaN(s.Max) || s.Min < 0 || s.Max > 100 || s.Min >= s.Max {
			return bad("range %v..%v: a level's lies within 0..100, min below max", s.Min, s.Max)
		}
		if math.IsNaN(s.Safe) || s.Safe != 0 && (s.Safe < s.Min || s.Safe > s.Max) {
			return bad("safe %v: outside 0 and %v..%v", s.Safe, s.Min, s.Max)
		}
	default:
		return bad("kind %q: want %s or %s", s.Kind, command.KindSwitch, command.KindLevel)
	}
	if len(s.Label) > 64 {
		return bad("label longer than 64 bytes")
	}
	if s.MaxOn < 0 || s.MinOff < 0 || s.PerMinute < 0 {
		return bad("max_on, min_off and per_minute must not be negative")
	}
	if s.PerMinute == 0 {
		s.PerMinute = DefaultPerMinute
	}
	return nil
}
