package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/durable"
	"github.com/tributary-iot/tributary/reading"
)

// Boot is one run of an agent: from its start to its exit, crash or power
// loss. Each boot starts a new seq lease, so up to Options.LeaseSize seqs
// may be skipped between two boots; knowing where each boot starts lets the
// cloud tell such a gap from readings lost on the way.
type Boot struct {
	Device string
	// ID names the boot: "<count>-<random>", where count is how many times
	// the agent has started with this state dir.
	ID string
	// FirstSeq is the seq of the boot's first reading.
	FirstSeq uint64
	// Time is when the boot started, by the agent's clock (zero when the
	// clock was not yet trusted).
	Time time.Time
}

// Booter is an optional ability of an Uplink: it records a boot. The agent
// calls Boot beside its sends (from another goroutine, so Boot must be safe
// to call concurrently with Send), first for boots of earlier runs that
// were never recorded, oldest first, then for this run's once the clock is
// trusted; it retries each with the sends' backoff until Boot returns nil,
// which must mean recorded. A boot left unrecorded when the agent stops is
// announced by the next run.
type Booter interface {
	Boot(ctx context.Context, b Boot) error
}

// bootPath is the boot count file of device in dir.
func bootPath(dir, device string) string { return filepath.Join(dir, device+".boot") }

// NewBoot counts a start of device's agent in stateDir and returns the new
// boot's id. The count persists (fsync'd) in "<device>.boot"; the random
// part keeps ids distinct should the state dir be lost.
func NewBoot(stateDir, device string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("agent: state dir: %w", err)
	}
	path := bootPath(stateDir, device)
	var n uint64
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("agent: read boot count: %w", err)
	default:
		// A corrupt count restarts at 1: the random part keeps ids apart.
		n, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	n++
	if err := durable.WriteFile(path, []byte(strconv.FormatUint(n, 10)+"\n")); err != nil {
		return "", fmt.Errorf("agent: write boot count: %w", err)
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return strconv.FormatUint(n, 10) + "-" + hex.EncodeToString(r[:]), nil
}

// pendingBoots is the file of device's boots not yet recorded by the
// uplink, one per line: "<id> <first seq> <start, unix ms; 0 unknown>".
// A boot that never reached the uplink (the agent crashed before Redis or
// the broker came back) is announced by a later one, so that no restart
// goes unrecorded.
func pendingBootsPath(dir, device string) string { return filepath.Join(dir, device+".boots") }

func loadPendingBoots(dir, device string) ([]Boot, error) {
	b, err := os.ReadFile(pendingBootsPath(dir, device))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Boot
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // a torn last line: that boot's start was not announced either way
		}
		first, err1 := strconv.ParseUint(f[1], 10, 64)
		ms, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || first == 0 {
			continue
		}
		bt := Boot{Device: device, ID: f[0], FirstSeq: first}
		if ms > 0 {
			bt.Time = time.UnixMilli(ms).UTC()
		}
		out = append(out, bt)
	}
	return out, nil
}

func savePendingBoots(dir, device string, boots []Boot) error {
	var b strings.Builder
	for _, bt := range boots {
		var ms int64
		if !bt.Time.IsZero() {
			ms = bt.Time.UnixMilli()
		}
		fmt.Fprintf(&b, "%s %d %d\n", bt.ID, bt.FirstSeq, ms)
	}
	return durable.WriteFile(pendingBootsPath(dir, device), []byte(b.String()))
}

// addPendingBoot records this boot as pending before any reading of it can
// be sent. Called by Run with the seq lease held.
func (a *Agent) addPendingBoot(b Boot) {
	boots, err := loadPendingBoots(a.cfg.StateDir, a.cfg.Device)
	if err == nil {
		boots = append(boots, b)
		err = savePendingBoots(a.cfg.StateDir, a.cfg.Device, boots)
	}
	if err != nil {
		a.log.Warn("cannot keep this boot in the state dir; if the agent stops before the uplink records it, the restart will look like lost readings",
			"device", a.cfg.Device, "boot", b.ID, "err", err)
	}
}

// announceBoots has the uplink, if it records boots (Booter), record every
// pending boot, oldest first, this one last, each retried with backoff
// until it succeeds or ctx ends. This boot's time is its start by the
// wall clock once that is trusted (from the monotonic clock), so it waits
// for the clock; older boots that never had a trusted clock go without a
// time. It runs beside the sender and never holds readings back.
func (a *Agent) announceBoots(ctx context.Context, current Boot, started time.Time) {
	b, ok := a.up.(Booter)
	if !ok {
		return
	}
	boots, err := loadPendingBoots(a.cfg.StateDir, a.cfg.Device)
	if err != nil || len(boots) == 0 || boots[len(boots)-1].ID != current.ID {
		boots = append(boots, current) // the file could not be kept
	}
	for len(boots) > 0 {
		bt := boots[0]
		if bt.ID == current.ID && bt.Time.IsZero() {
			for !a.clockTrusted() {
				if !backoff.Sleep(ctx, time.Second) {
					return
				}
			}
			bt.Time = a.opt.Now().Add(-time.Since(started)).UTC().Truncate(time.Millisecond)
		}
		for attempt := 0; ; attempt++ {
			bctx, cancel := context.WithTimeout(ctx, a.opt.SendTimeout)
			err := b.Boot(bctx, bt)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, reading.ErrInvalid) {
				a.log.Error("uplink refuses to record a boot; forgetting it", "device", a.cfg.Device, "boot", bt.ID, "err", err)
				break
			}
			if attempt == 0 {
				a.log.Warn("uplink cannot record the boot yet; retrying", "device", a.cfg.Device, "boot", bt.ID, "err", err)
			}
			if !backoff.Sleep(ctx, a.backoff(attempt)) {
				return
			}
		}
		boots = boots[1:]
		if err := savePendingBoots(a.cfg.StateDir, a.cfg.Device, boots); err != nil {
			a.log.Warn("cannot update the pending boots in the state dir", "device", a.cfg.Device, "err", err)
		}
	}
}

// clockTrusted reports whether readings could be stamped now.
func (a *Agent) clockTrusted() bool {
	return a.opt.ClockReady() && a.opt.Now().UTC().Year() >= 2000
}
