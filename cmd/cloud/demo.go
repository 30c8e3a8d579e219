package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tributary-iot/tributary/sim/fleet"
	"github.com/tributary-iot/tributary/store"
)

// demoFleet is the --demo component: a fleet of simulated edge agents
// sending to the Redis the cloud uses. With the embedded Redis, which
// forgets everything on exit, the agents' sequence numbers start afresh each
// time; with a real Redis, which remembers which seqs it stored, they are
// kept in a state directory so that a second demo is not taken for repeats.
func demoFleet(devices int, interval time.Duration, st store.Options, persistent bool) component {
	return component{name: "demo-fleet", run: func(ctx context.Context, redis store.ClientOptions, log *slog.Logger) error {
		opt := fleet.Options{Redis: redis, Store: st, Devices: devices, Interval: interval, Logger: log}
		if persistent {
			dir, err := demoStateDir()
			if err != nil {
				return err
			}
			opt.StateDir = dir
		}
		log.Info("demo fleet of simulated edge agents", "devices", fleet.DeviceIDs(opt), "interval", interval, "state_dir", opt.StateDir)
		return fleet.Run(ctx, opt)
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
