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
// calls Boot once, before the boot's first Send, and retries it with the
// sends' backoff until it succeeds or the agent stops.
type Booter interface {
	Boot(ctx context.Context, b Boot) error
}

// NewBoot counts a start of device's agent in stateDir and returns the new
// boot's id. The count persists (fsync'd) in "<device>.boot"; the random
// part keeps ids distinct should the state dir be lost.
func NewBoot(stateDir, device string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("agent: state dir: %w", err)
	}
	path := filepath.Join(stateDir, device+".boot")
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
	if err := writeFileSync(path, []byte(strconv.FormatUint(n, 10)+"\n")); err != nil {
		return "", fmt.Errorf("agent: write boot count: %w", err)
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return strconv.FormatUint(n, 10) + "-" + hex.EncodeToString(r[:]), nil
}

// announceBoot calls the uplink's Boot, if it has one, retrying with
// backoff until it succeeds or ctx ends. It reports whether to go on.
func (a *Agent) announceBoot(ctx context.Context) bool {
	b, ok := a.up.(Booter)
	if !ok {
		return true
	}
	boot := Boot{Device: a.cfg.Device, ID: a.cfg.Boot, FirstSeq: a.firstSeq}
	if now := a.opt.Now(); a.opt.ClockReady() && now.Year() >= 2000 {
		boot.Time = now.UTC().Truncate(time.Millisecond)
	}
	for attempt := 0; ; attempt++ {
		bctx, cancel := context.WithTimeout(ctx, a.opt.SendTimeout)
		err := b.Boot(bctx, boot)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt == 0 {
			a.log.Warn("uplink cannot record the boot yet; retrying", "device", a.cfg.Device, "boot", boot.ID, "err", err)
		}
		if !sleep(ctx, a.backoff(attempt)) {
			return false
		}
	}
}
