// Package fleet runs a fleet of simulated edge devices: N real agents
// (package agent), each with its own Redis client over TCP and its own set of
// simulated sensors, for demos (`make demo`, cloud --demo) and load tests.
//
// The devices differ: each has its own climate (mean temperature, daily
// swing, warmest hour, dew point) and one of a few sensor layouts, all drawn
// from Options.Seed, so a fleet looks like a set of real places rather than
// copies of one. Each device also has emulated actuators (a heater, a fan,
// a valve where it has soil) wired to its models; Options.OnDevice can put
// a controller on them.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Options configure a fleet. The zero value of every field but Redis.URL is
// usable; each says its default.
type Options struct {
	// Redis is where every agent sends (URL redis:// or rediss://, TLS files,
	// password). Redis.URL is required.
	Redis store.ClientOptions
	// Store configures the keyspace (its prefix, caps). Default: the store
	// package's defaults, as the cloud uses them.
	Store store.Options
	// Devices is how many agents to run. Default 5.
	Devices int
	// Prefix starts every device id; ids are Prefix + a number from 1,
	// zero-padded to the width of Devices ("sim-1".."sim-5",
	// "sim-01".."sim-12"). Default "sim-".
	Prefix string
	// Interval is the sampling interval of the sensors (the barometers of
	// some devices read five times slower). Default 1s.
	Interval time.Duration
	// Seed selects the devices' climates, layouts and random streams.
	Seed int64
	// StateDir holds the agents' seq leases (one file per device). Default:
	// a temporary directory, removed when Run returns, so that seqs restart
	// with each demo (as the demo's Redis usually does too).
	StateDir string
	// Logger receives the agents' logs, each with a device attribute.
	// Default: discard.
	Logger *slog.Logger
	// Registerer receives every agent's metrics (tributary_edge_*), each
	// with a device label. Default nil: not registered.
	Registerer prometheus.Registerer
	// MQTT, when its URL is set, is the broker (with its credentials and
	// TLS) that every MQTTEvery-th device publishes to instead of writing
	// to Redis, for a bridge to store. Default: every device writes to Redis.
	MQTT mqttwire.Broker
	// MQTTEvery picks the MQTT devices: those whose 1-based number is a
	// multiple of it. Default 2 (every other device) when MQTT.URL is set.
	MQTTEvery int
	// OnDevice, if set, is called with each device (its models, sensors
	// and emulated actuators) before its agent is made, and may add to it
	// (Extra): a controller on its actuators. An error stops Run before
	// any agent starts. Default nil: the actuators stay off.
	OnDevice func(d *Device) (Extra, error)
	// Actuate puts each device's actuators under a safety controller
	// (agent/actuate) that takes commands from its uplink, as an edge does,
	// and reports them through a durable outbox in StateDir. Default false:
	// the actuators stay off.
	Actuate bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Redis.URL == "" {
		return o, errors.New("fleet: no Redis URL")
	}
	if o.Devices < 0 {
		return o, fmt.Errorf("fleet: %d devices", o.Devices)
	}
	if o.Devices == 0 {
		o.Devices = 5
	}
	if o.Prefix == "" {
		o.Prefix = "sim-"
	}
	if o.Interval < 0 {
		return o, fmt.Errorf("fleet: negative interval %v", o.Interval)
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MQTTEvery <= 0 {
		o.MQTTEvery = 2
	}
	for _, id := range DeviceIDs(o) {
		if !reading.ValidID(id) {
			return o, fmt.Errorf("fleet: prefix %q makes device id %q, which is not valid", o.Prefix, id)
		}
	}
	return o, nil
}

// DeviceIDs returns the ids of the devices a fleet with opt runs, in order.
func DeviceIDs(opt Options) []string {
	n := opt.Devices
	if n <= 0 {
		n = 5
	}
	prefix := opt.Prefix
	if prefix == "" {
		prefix = "sim-"
	}
	width := len(strconv.Itoa(n))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%0*d", prefix, width, i+1)
	}
	return ids
}

// Run runs the fleet until ctx ends, then stops every agent (each flushes
// what it can within its flush timeout) and returns nil, or the agents'
// errors joined. It returns an error at once if an agent cannot be set up.
// Redis need not be reachable: agents keep their readings and retry.
func Run(ctx context.Context, opt Options) error {
	opt, err := opt.withDefaults()
	if err != nil {
		return err
	}
	if opt.StateDir == "" {
		dir, err := os.MkdirTemp("", "tributary-fleet-")
		if err != nil {
			return fmt.Errorf("fleet: state dir: %w", err)
		}
		defer os.RemoveAll(dir)
		opt.StateDir = dir
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	ids := DeviceIDs(opt)
	agents := make([]*agent.Agent, len(ids))
	var extras []func(context.Context) error
	var viaMQTT []string
	for i, id := range ids {
		boot, err := agent.NewBoot(opt.StateDir, id)
		if err != nil {
			return fmt.Errorf("fleet: device %s: %w", id, err)
		}
		var reg prometheus.Registerer
		if opt.Registerer != nil {
			reg = prometheus.WrapRegistererWith(prometheus.Labels{"device": id}, opt.Registerer)
		}
		dev, err := NewDevice(opt, i)
		if err != nil {
			return err
		}
		sensorCfgs := dev.Sensors
		var act *deviceActuation
		if opt.Actuate {
			if act, err = newDeviceActuation(opt, dev, reg); err != nil {
				return fmt.Errorf("fleet: device %s: %w", id, err)
			}
			for _, sn := range act.ctrl.Sensors() {
				sensorCfgs = append(sensorCfgs, agent.SensorConfig{Sensor: sn})
			}
		}
		var up agent.Uplink
		if opt.MQTT.URL != "" && (i+1)%opt.MQTTEvery == 0 {
			mo := agent.MQTTUplinkOptions{Broker: opt.MQTT, Device: id, Boot: boot, Logger: opt.Logger.With("device", id)}
			if act != nil {
				mo.Commands, mo.CommandsUp, mo.Actuators = act.submit, act.ctrl.SetUplink, act.ctrl.Actuators()
			}
			u, err := agent.NewMQTTUplink(mo)
			if err != nil {
				return fmt.Errorf("fleet: device %s: %w", id, err)
			}
			// Closed after the agents stop: each publishes its offline status.
			closers = append(closers, func() { u.Close() })
			up = u
			viaMQTT = append(viaMQTT, id)
			if act != nil {
				extras = append(extras, func(ctx context.Context) error { return act.run(ctx, u.SendEvents, nil) })
			}
		} else {
			rdb, err := store.NewClient(opt.Redis)
			if err != nil {
				return fmt.Errorf("fleet: %w", err)
			}
			closers = append(closers, func() { rdb.Close() })
			st := store.New(rdb, opt.Store)
			up = agent.NewRedisUplink(st)
			if act != nil {
				commands := func(ctx context.Context) error {
					cmdc, err := store.NewClient(opt.Redis) // a blocking read holds its connection
					if err != nil {
						return err
					}
					return agent.RunRedisCommands(ctx, agent.RedisCommandsOptions{Client: cmdc, Prefix: opt.Store.Prefix, Device: id,
						StateDir: opt.StateDir, Handle: act.submit, Uplink: act.ctrl.SetUplink, Actuators: act.ctrl.Actuators(),
						Logger: opt.Logger.With("device", id)})
				}
				extras = append(extras, func(ctx context.Context) error { return act.run(ctx, agent.RedisEventSender(st, id), commands) })
			}
		}
		if opt.OnDevice != nil {
			x, err := opt.OnDevice(dev)
			if err != nil {
				return fmt.Errorf("fleet: device %s: %w", id, err)
			}
			sensorCfgs = append(sensorCfgs, x.Sensors...)
			if x.Run != nil {
				extras = append(extras, x.Run)
			}
		}
		agents[i], err = agent.New(
			agent.Config{Device: id, Boot: boot, Sensors: sensorCfgs, Interval: opt.Interval, StateDir: opt.StateDir},
			up, agent.Options{Logger: opt.Logger, Registerer: reg},
		)
		if err != nil {
			return fmt.Errorf("fleet: device %s: %w", id, err)
		}
	}
	opt.Logger.Info("fleet starting", "devices", len(ids), "redis", store.RedactURL(opt.Redis.URL), "via_mqtt", viaMQTT, "interval", opt.Interval)
	errs := make([]error, len(agents)+len(extras))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Go(func() { errs[i] = a.Run(ctx) })
	}
	for i, run := range extras {
		wg.Go(func() {
			if err := run(ctx); err != nil && ctx.Err() == nil {
				errs[len(agents)+i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
