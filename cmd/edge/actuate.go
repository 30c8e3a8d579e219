package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/hardware"
	"github.com/tributary-iot/tributary/internal/flock"
	"github.com/tributary-iot/tributary/web"
)

// actuation is the edge's side of commands: the board's actuators under a
// safety controller, and the durable outbox of what became of each command.
// nil when the device has no actuators.
type actuation struct {
	ctrl   *actuate.Controller
	outbox *agent.EventOutbox
	outs   []hardware.Actuator
	log    *slog.Logger
	local  *localLog // what the edge's dashboard shows of recent commands
	lock   *os.File  // held while the process runs
	device string
	stats  agent.CommandStats // the command source's counts
}

// openActuation puts the board's actuators under a controller whose events
// go to a durable outbox in the state dir. It returns nil, nil when there
// are no actuators.
//
// Every event the controller reports goes to the outbox (upstream), to the
// local log and to show (the edge's dashboard, live).
func openActuation(s settings, board *hardware.Board, clockTrusted func() bool, show func(command.Event), reg prometheus.Registerer, log *slog.Logger) (*actuation, error) {
	outs := board.Actuators()
	if len(outs) == 0 {
		return nil, nil
	}
	// The agent locks the state dir for its seqs only once it runs; the
	// controller's ledger is opened before, so it has a lock of its own.
	if err := os.MkdirAll(s.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	lock, err := flock.TryLock(filepath.Join(s.stateDir, s.device+".actuators.lock"))
	if errors.Is(err, flock.ErrLocked) {
		return nil, fmt.Errorf("another agent is running with this device and state dir (%s.actuators.lock is locked)", s.device)
	}
	if err != nil {
		return nil, fmt.Errorf("actuators lock: %w", err)
	}
	ob, err := agent.OpenEventOutbox(s.stateDir, s.device, log.With("component", "events"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	act := &actuation{outbox: ob, outs: outs, log: log, local: newLocalLog(localLogSize), lock: lock, device: s.device}
	cfg := actuate.Config{Device: s.device, Interlocks: s.interlocks, SafeAfter: s.safeAfter, StateDir: s.stateDir}
	var devs []actuators.Output
	for _, a := range outs {
		cfg.Actuators = append(cfg.Actuators, actuate.Spec{Name: a.Output.Name(), Label: a.Label, Kind: a.Kind, Min: a.Min, Max: a.Max,
			Safe: a.Safe.Value, Hold: a.Safe.Hold, MaxOn: a.MaxOn, MinOff: a.MinOff, PerMinute: a.PerMinute})
		devs = append(devs, a.Output)
	}
	act.ctrl, err = actuate.New(cfg, devs, actuate.Options{Logger: log.With("component", "actuate"), Registerer: reg,
		ClockTrusted: clockTrusted, Report: func(ev command.Event) {
			ob.Add(ev)
			act.local.add(ev)
			show(ev)
		}})
	if err == nil {
		err = reg.Register(agent.CommandCollector(&act.stats, ob))
	}
	if err != nil {
		ob.Close()
		lock.Close()
		return nil, err
	}
	return act, nil
}

// descriptions returns what the device announces of its actuators; nil
// without actuation.
func (a *actuation) descriptions() []command.Actuator {
	if a == nil {
		return nil
	}
	return a.ctrl.Actuators()
}

// submit is the command sources' handler: the controller reports what it
// refuses at once, so the error needs no more than a debug line.
func (a *actuation) submit(c command.Command) {
	a.local.command(c, false)
	if err := a.ctrl.Submit(c); err != nil {
		a.log.Debug("command refused at once", "id", c.ID, "err", err)
	}
}

// exitSafe puts every actuator not configured to hold in its safe state as
// the agent stops: nobody watches its max_on once the process is gone, so a
// heater must not stay on. The controller has stopped; this is its last word.
func (a *actuation) exitSafe() {
	if a == nil {
		return
	}
	for _, o := range a.outs {
		if o.Safe.Hold || o.Output.Value() == o.Safe.Value {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := o.Output.Set(ctx, o.Safe.Value)
		cancel()
		if err != nil {
			a.log.Warn("actuator not in its safe state at exit", "actuator", o.Output.Name(), "err", err)
			continue
		}
		a.log.Info("actuator in its safe state at exit", "actuator", o.Output.Name(), "value", o.Safe.Value)
	}
}

// eventsFlushTimeout bounds how long a stopping agent keeps sending its
// last command events; the outbox keeps what is left for the next start.
const eventsFlushTimeout = 2 * time.Second

// run runs the agent a with the controller, the command source and the
// outbox around it, until ctx ends. When it ends, the controller stops
// taking commands and puts the actuators in their safe states, the agent
// flushes its readings and the outbox sends what it can within
// eventsFlushTimeout.
func (act *actuation) run(ctx context.Context, a *agent.Agent, up openedUplink) error {
	defer act.lock.Close()
	defer act.outbox.Close()
	ctrlDone := make(chan error, 1)
	go func() {
		err := act.ctrl.Run(ctx)
		act.exitSafe()
		ctrlDone <- err
	}()
	evCtx, stopEvents := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := act.outbox.Run(evCtx, up.sendEvents); err != nil {
			act.log.Error("command events: the outbox stopped", "err", err)
		}
	})
	if up.runCommands != nil {
		wg.Go(func() {
			if err := up.runCommands(ctx); err != nil && ctx.Err() == nil {
				act.log.Error("commands: the source stopped; no more commands until a restart", "err", err)
			}
		})
	}
	err := a.Run(ctx)
	if cerr := <-ctrlDone; cerr != nil && err == nil {
		err = cerr
	}
	flushEnd := time.Now().Add(eventsFlushTimeout)
	for act.outbox.Pending() > 0 && time.Now().Before(flushEnd) {
		time.Sleep(20 * time.Millisecond) // shutdown only: the outbox has no wait-until-empty
	}
	if n := act.outbox.Pending(); n > 0 {
		act.log.Info("command events kept for the next start", "events", n)
	}
	stopEvents()
	wg.Wait()
	return err
}

// commander is the edge dashboard's web.Commander: commands given on the
// device itself, under the same controller and rules as the uplink's, and
// reported upstream (in order, through the outbox) when the uplink is up.
type commander struct{ act *actuation }

// commands returns the dashboard's Commander; nil without actuators.
func (a *actuation) commands() web.Commander {
	if a == nil {
		return nil
	}
	return commander{a}
}

// SendCommand implements web.Commander: the controller reports the command
// (Event{Command}) and its statuses, which the dashboard shows live.
func (c commander) SendCommand(_ context.Context, cmd command.Command) error {
	return c.act.ctrl.Local(cmd)
}

// CommandLog implements web.Commander from the edge's memory of its recent
// commands (the device is the edge's own: web checked it).
func (c commander) CommandLog(_ context.Context, device string, limit int) ([]command.Record, error) {
	if device != c.act.device {
		return nil, nil
	}
	return c.act.local.list(limit), nil
}

// Actuators implements web.Commander.
func (c commander) Actuators(_ context.Context, device string) ([]command.Actuator, error) {
	if device != c.act.device {
		return nil, nil
	}
	return c.act.ctrl.Actuators(), nil
}
