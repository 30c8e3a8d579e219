package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/sim/fleet"
	"github.com/tributary-iot/tributary/store"
)

// demoFleet is the --demo component: a fleet of simulated edge agents
// sending to the Redis the cloud uses, every other one through MQTT: to an
// embedded broker (mochi-mqtt) and a bridge of its own, so that the demo
// shows both paths with nothing installed. With the embedded Redis, which
// forgets everything on exit, the agents' sequence numbers start afresh each
// time; with a real Redis, which remembers which seqs it stored, they are
// kept in a state directory so that a second demo is not taken for repeats.
func demoFleet(devices int, interval time.Duration, st store.Options, persistent bool) component {
	return component{name: "demo-fleet", run: func(ctx context.Context, env componentEnv) error {
		redis, log := env.Redis, env.Log
		opt := fleet.Options{Redis: redis, Store: st, Devices: devices, Interval: interval, Logger: log, Actuate: true}
		if persistent {
			dir, err := demoStateDir()
			if err != nil {
				return err
			}
			opt.StateDir = dir
		}
		broker, err := startDemoBroker(log)
		if err != nil {
			return err
		}
		defer broker.Close()
		rdb, err := store.NewClient(redis)
		if err != nil {
			return err
		}
		defer rdb.Close()
		br, err := bridge.New(bridge.Options{Store: store.New(rdb, st), MQTT: mqttwire.Broker{URL: broker.URL(), ClientID: "tributary-demo-bridge"},
			Logger: log.With("part", "bridge")})
		if err != nil {
			return err
		}
		bridgeDone := make(chan error, 1)
		bctx, stopBridge := context.WithCancel(context.WithoutCancel(ctx))
		go func() { bridgeDone <- br.Run(bctx) }()
		// The broker keeps nothing for a subscriber that is not there yet:
		// the bridge subscribes before the first agent publishes.
		select {
		case <-br.Ready():
		case berr := <-bridgeDone:
			stopBridge()
			return fmt.Errorf("demo bridge: %w", berr)
		case <-ctx.Done():
			stopBridge()
			return <-bridgeDone
		}
		opt.MQTT = mqttwire.Broker{URL: broker.URL()}
		log.Info("demo fleet of simulated edge agents", "devices", fleet.DeviceIDs(opt), "interval", interval, "state_dir", opt.StateDir,
			"mqtt_broker", broker.URL())
		err = fleet.Run(ctx, opt)
		// The agents have flushed to the broker; the bridge stores what the
		// broker still has in flight to it (bounded) before it stops.
		for deadline := time.Now().Add(5 * time.Second); broker.inflight() > 0 && time.Now().Before(deadline); {
			select {
			case berr := <-bridgeDone:
				stopBridge()
				return errors.Join(err, fmt.Errorf("demo bridge stopped early: %w", berr))
			case <-time.After(20 * time.Millisecond):
			}
		}
		if n := broker.inflight(); n > 0 {
			log.Warn("demo bridge stopped with messages the broker had not delivered", "messages", n)
		}
		stopBridge()
		return errors.Join(err, <-bridgeDone)
	}}
}

// mqttBridge is the --mqtt component: the bridge from a broker to the
// Redis the cloud uses.
func mqttBridge(opt bridge.Options, st store.Options) component {
	return component{name: "mqtt-bridge", run: func(ctx context.Context, env componentEnv) error {
		rdb, err := store.NewClient(env.Redis)
		if err != nil {
			return err
		}
		defer rdb.Close()
		opt.Store, opt.Logger, opt.Registerer = store.New(rdb, st), env.Log, env.Registerer
		b, err := bridge.New(opt)
		if err != nil {
			return err
		}
		return b.Run(ctx)
	}}
}

// demoStateDir is $XDG_STATE_HOME/tributary-demo, else
// ~/.local/state/tributary-demo.
func demoStateDir() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("demo state dir: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "tributary-demo"), nil
}
