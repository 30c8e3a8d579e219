package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/durable"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// RedisCommandsOptions configure RunRedisCommands. Client, Device, StateDir
// and Handle are required.
type RedisCommandsOptions struct {
	// Client is a Redis client of the command source's own: a blocking
	// read holds a connection, and RunRedisCommands closes Client when its
	// ctx ends, to stop the wait at once.
	Client redis.UniversalClient
	// Prefix is the store's key prefix (store.Options.Prefix). Default
	// "tributary".
	Prefix string
	// Device is the agent's device id: it reads tributary:commands:{Device}.
	Device string
	// StateDir holds the position (<Device>.cmdpos): the last entry read,
	// written after Handle took it. Without one the source starts with the
	// commands recorded from then on (by Redis's clock), not with
	// the commands recorded within command.MaxLifetime.
	StateDir string
	// Handle takes each command of the device, in order, from one
	// goroutine. It must not block long (actuate.Controller.Submit).
	Handle func(command.Command)
	// Uplink, if not nil, is told whether the source reads Redis (true
	// after each successful read, false after a failure), for
	// actuate.Controller.SetUplink. Repeats are not filtered.
	Uplink func(up bool)
	// Actuators, if not nil, are announced (store.SetActuators) once Redis
	// answers.
	Actuators []command.Actuator
	// Block is how long one read waits for a command. Default 30s.
	Block time.Duration
	// Logger. Default: discard.
	Logger *slog.Logger
	// Stats, if not nil, counts what the source did.
	Stats *CommandStats
}

// CommandStats counts a command source's work; safe for concurrent use.
type CommandStats struct {
	Received atomic.Uint64 // valid commands handed to Handle
	Invalid  atomic.Uint64 // entries or messages skipped: not a valid command of the device
}

// RunRedisCommands reads the device's commands from Redis (XREAD BLOCK from
// its persisted position) and hands each to opt.Handle, until ctx ends;
// then it closes opt.Client and returns nil. Redis failures never end it:
// it says so (opt.Uplink(false)) and reads again with backoff. Entries that
// are not a valid command of the device are counted, logged and skipped.
func RunRedisCommands(ctx context.Context, opt RedisCommandsOptions) error {
	if opt.Client == nil || opt.Handle == nil || opt.StateDir == "" || !reading.ValidID(opt.Device) {
		return errors.New("agent: redis commands: Client, Handle, StateDir and a valid Device are required")
	}
	if opt.Block <= 0 {
		opt.Block = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Stats == nil {
		opt.Stats = &CommandStats{}
	}
	posPath := filepath.Join(opt.StateDir, opt.Device+".cmdpos")
	pos, err := readCommandPos(posPath)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { opt.Client.Close() })
	defer stop()
	st := store.New(opt.Client, store.Options{Prefix: opt.Prefix})
	retry := backoff.Policy{Min: 100 * time.Millisecond, Max: 15 * time.Second}
	announced := opt.Actuators == nil
	failures := 0
	for ctx.Err() == nil {
		if !announced {
			if err := st.SetActuators(ctx, opt.Device, opt.Actuators); err == nil {
				announced = true
			} else if errors.Is(err, command.ErrInvalid) {
				opt.Logger.Error("agent: actuators not announced", "err", err)
				announced = true
			}
		}
		var es []store.CommandEntry
		var err error
		if pos == "" {
			// No position: a new device, or a lost state dir, whose ledger
			// is lost with it. Commands recorded before now could then run a
			// second time (at most once holds only with the ledger): start
			// with the commands recorded from now on.
			var now time.Time
			if now, err = opt.Client.Time(ctx).Result(); err == nil {
				pos = strconv.FormatInt(now.UnixMilli(), 10) + "-0"
				opt.Logger.Info("agent: no command position in the state dir: taking the commands recorded from now on", "device", opt.Device)
				// Kept at once: a device stopped before its first command
				// takes, at its next start, those recorded meanwhile.
				if err := durable.WriteFile(posPath, []byte(pos+"\n")); err != nil {
					opt.Logger.Warn("agent: cannot keep the command position", "device", opt.Device, "err", err)
				}
			}
		}
		if err == nil {
			es, err = st.ReadCommands(ctx, opt.Device, pos, opt.Block)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if failures == 0 {
				opt.Logger.Warn("agent: cannot read commands from redis; retrying", "device", opt.Device, "err", err)
			}
			failures++
			if opt.Uplink != nil {
				opt.Uplink(false)
			}
			backoff.Sleep(ctx, retry.Delay(failures-1))
			continue
		}
		if failures > 0 {
			opt.Logger.Info("agent: reading commands from redis again", "device", opt.Device)
		}
		failures = 0
		if opt.Uplink != nil {
			opt.Uplink(true)
		}
		if len(es) == 0 {
			continue
		}
		for _, e := range es {
			if e.Err != nil {
				opt.Stats.Invalid.Add(1)
				opt.Logger.Warn("agent: skipped a command entry", "device", opt.Device, "err", e.Err)
				continue
			}
			opt.Stats.Received.Add(1)
			opt.Handle(e.Command)
		}
		pos = es[len(es)-1].ID
		if err := durable.WriteFile(posPath, []byte(pos+"\n")); err != nil {
			// The commands are handled; a redelivery after a restart is
			// answered from the controller's ledger.
			opt.Logger.Error("agent: cannot save the command position", "path", posPath, "err", err)
		}
	}
	return nil
}

// readCommandPos reads a saved position; "" when there is none.
func readCommandPos(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("agent: command position: %w", err)
	}
	pos := strings.TrimSpace(string(b))
	a, c, ok := strings.Cut(pos, "-")
	if !ok || a == "" || c == "" || strings.Trim(a+c, "0123456789") != "" || len(pos) > 41 {
		// Unreadable (a torn write cannot happen: it is renamed into
		// place): start again within the commands' lifetime.
		return "", nil
	}
	return pos, nil
}
