package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
)

// deviceActuation is one device's side of commands, as an edge has it: its
// emulated actuators under a safety controller, whose events go through a
// durable outbox.
type deviceActuation struct {
	ctrl   *actuate.Controller
	outbox *agent.EventOutbox
	log    *slog.Logger
}

// Limits of the simulated actuators, as an installer might set them.
const (
	heaterMaxOn  = 30 * time.Minute
	heaterMinOff = 10 * time.Second
	valveMaxOn   = 10 * time.Minute
)

func newDeviceActuation(opt Options, dev *Device, reg prometheus.Registerer) (*deviceActuation, error) {
	log := opt.Logger.With("device", dev.ID)
	ob, err := agent.OpenEventOutbox(opt.StateDir, dev.ID, log)
	if err != nil {
		return nil, err
	}
	cfg := actuate.Config{Device: dev.ID, SafeAfter: 5 * time.Minute, StateDir: opt.StateDir}
	var outs []actuators.Output
	seen := map[string]bool{}
	for _, a := range dev.Actuators {
		d := a.Description
		sp := actuate.Spec{Name: d.Name, Label: d.Label, Kind: d.Kind, Min: d.Min, Max: d.Max}
		switch d.Safe {
		case "hold":
			sp.Hold = true
		case "on":
			sp.Safe = 1
		case "off", "":
		default:
			if sp.Safe, err = strconv.ParseFloat(d.Safe, 64); err != nil {
				ob.Close()
				return nil, fmt.Errorf("fleet: %s: safe %q: %w", d.Name, d.Safe, err)
			}
		}
		switch d.Name {
		case "heater":
			sp.MaxOn, sp.MinOff = heaterMaxOn, heaterMinOff
		case "valve":
			sp.MaxOn = valveMaxOn
		}
		for _, other := range d.Interlock {
			if !seen[other] {
				cfg.Interlocks = append(cfg.Interlocks, []string{d.Name, other})
			}
		}
		seen[d.Name] = true
		cfg.Actuators = append(cfg.Actuators, sp)
		outs = append(outs, a.Output)
	}
	ctrl, err := actuate.New(cfg, outs, actuate.Options{Logger: log, Registerer: reg, Report: ob.Add})
	if err != nil {
		ob.Close()
		return nil, err
	}
	return &deviceActuation{ctrl: ctrl, outbox: ob, log: log}, nil
}

// submit hands a command from the uplink to the controller, which reports
// what it refuses.
func (d *deviceActuation) submit(c command.Command) {
	if err := d.ctrl.Submit(c); err != nil {
		d.log.Debug("command refused at once", "id", c.ID, "err", err)
	}
}

// run runs the controller and the outbox (sending with send) and, if not
// nil, the command source until ctx ends.
func (d *deviceActuation) run(ctx context.Context, send agent.SendEvents, commands func(context.Context) error) error {
	defer d.outbox.Close()
	done := make(chan error, 2)
	go func() { done <- d.outbox.Run(ctx, send) }()
	n := 1
	if commands != nil {
		n++
		go func() { done <- commands(ctx) }()
	}
	err := d.ctrl.Run(ctx)
	for range n {
		if e := <-done; e != nil && ctx.Err() == nil && err == nil {
			err = e
		}
	}
	return err
}
