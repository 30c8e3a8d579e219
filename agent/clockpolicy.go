package agent

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Clock policies: when the agent trusts the wall clock enough to stamp
// readings (see Options.ClockReady; until then readings are held in
// memory and stamped from the monotonic clock once it is trusted).
const (
	// ClockAuto trusts the clock once it is past a floor: the newest of the
	// binary's commit time, a fixed date, and the last time the agent wrote
	// its state. That catches a board booting in 1970 and a clock set back
	// behind what the agent already stamped, without waiting for a time
	// daemon that may not exist (containers, CI). A board restoring a stale
	// time with fake-hwclock passes the floor: use ClockKernel there.
	ClockAuto = "auto"
	// ClockKernel trusts the clock once the kernel says a time daemon
	// (systemd-timesyncd, chrony, ntpd) has synchronised it (adjtimex
	// without STA_UNSYNC), from then on for as long as the floor holds. The
	// choice for a Raspberry Pi without an RTC.
	ClockKernel = "kernel"
	// ClockTrust trusts any clock after the year 2000.
	ClockTrust = "trust"
)

// minFloor is the floor of ClockAuto when nothing newer is known: no
// reading of this agent can predate its first release.
var minFloor = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ClockPolicy returns Options.ClockReady for a policy (ClockAuto, the
// default, ClockKernel or ClockTrust), the floor it applies, and an error
// for an unknown policy. stateDir and device are the agent's.
func ClockPolicy(policy, stateDir, device string) (func() bool, time.Time, error) {
	floor := clockFloor(stateDir, device)
	past := func() bool { return !time.Now().Before(floor) }
	switch policy {
	case ClockAuto, "":
		return past, floor, nil
	case ClockKernel:
		// Once synchronised, the clock stays trusted: the kernel drops its
		// synchronised flag after about nine hours without a time server
		// (a network outage), but the clock keeps counting from a good
		// time, and the spool must not stop taking readings then.
		var synced atomic.Bool
		return func() bool {
			if !past() {
				return false
			}
			if synced.Load() {
				return true
			}
			if kernelSynced() {
				synced.Store(true)
				return true
			}
			return false
		}, floor, nil
	case ClockTrust:
		return func() bool { return true }, time.Time{}, nil
	}
	return nil, time.Time{}, fmt.Errorf("clock policy %q: want %s, %s or %s", policy, ClockAuto, ClockKernel, ClockTrust)
}

// clockFloor is the newest time the agent knows has passed.
func clockFloor(stateDir, device string) time.Time {
	floor := minFloor
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil && t.After(floor) {
					floor = t
				}
			}
		}
	}
	if t := stateWritten(stateDir, device); t.After(floor) {
		floor = t
	}
	return floor
}
