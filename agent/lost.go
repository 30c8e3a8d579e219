package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// The agent's drop counters (tributary_edge_dropped_readings_total) are
// kept in <state dir>/<device>.lost, so that a loss counted once is never
// forgotten by a restart, a crash or a power loss. The file holds two
// 128-byte slots, written alternately, each:
//
//	[0:4)     magic "TRLO"
//	[4]       version (1)
//	[5:8)     zero
//	[8:16)    generation: the newest valid slot wins
//	[16:80)   one u64 count per reason, in dropReasons order (room for 8)
//	[124:128) CRC-32C of [0:124)
//
// Every loss writes the other slot (one pwrite) and fsyncs it before the
// metric moves, so the count on disk is never behind what was reported.
// Both slots are allocated when the file is created: a full disk, which is
// when readings are lost (a seq lease that cannot be written), still takes
// the write. A write torn by a power loss leaves the other slot, which
// lacks only that loss.
const (
	lostMagic     = "TRLO"
	lostSlotSize  = 128
	maxLostCounts = 8
)

// dropReasons are the reasons of tributary_edge_dropped_readings_total, in
// the order of the loss file's counts: append only.
var dropReasons = []string{DropQueueFull, DropInvalid, DropRejected, DropSeqLease, DropClock, DropShutdown, DropRefused}

var _ [maxLostCounts - 7]struct{} // dropReasons fits the slot

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// lossPath is the loss file of device in dir.
func lossPath(dir, device string) string { return filepath.Join(dir, device+".lost") }

// lossLedger persists the drop counters. It is safe for concurrent use.
type lossLedger struct {
	path string

	mu     sync.Mutex
	gen    uint64
	counts [maxLostCounts]uint64
}

// openLossLedger reads the counters in path, creating the file with its
// two slots if missing. A file with no valid slot (damaged) starts the
// counters at zero: damaged is then true, and the caller says so.
func openLossLedger(path string) (l *lossLedger, damaged bool, err error) {
	l = &lossLedger{path: path}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("agent: loss counters: %w", err)
	}
	defer f.Close()
	b := make([]byte, 2*lostSlotSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("agent: read loss counters: %w", err)
	}
	found := false
	for i := 0; i+lostSlotSize <= n; i += lostSlotSize {
		if gen, counts, ok := decodeLostSlot(b[i : i+lostSlotSize]); ok && (!found || gen > l.gen) {
			l.gen, l.counts, found = gen, counts, true
		}
	}
	damaged = !found && n > 0 && !allZero(b[:n])
	if n < len(b) {
		if _, err := f.WriteAt(make([]byte, len(b)-n), int64(n)); err != nil {
			return nil, false, fmt.Errorf("agent: allocate loss counters: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, false, fmt.Errorf("agent: allocate loss counters: %w", err)
		}
	}
	return l, damaged, nil
}

// count returns the persisted count of reason.
func (l *lossLedger) count(reason string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range dropReasons {
		if r == reason {
			return l.counts[i]
		}
	}
	return 0
}

// add adds n to reason's count and writes it durably. On an error the
// count is kept in memory and goes with the next write that succeeds.
func (l *lossLedger) add(reason string, n uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range dropReasons {
		if r == reason {
			l.counts[i] += n
		}
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("agent: write loss counters: %w", err)
	}
	defer f.Close()
	gen := l.gen + 1
	if _, err := f.WriteAt(encodeLostSlot(gen, l.counts), int64(gen%2)*lostSlotSize); err != nil {
		return fmt.Errorf("agent: write loss counters: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("agent: write loss counters: %w", err)
	}
	l.gen = gen
	return nil
}

func encodeLostSlot(gen uint64, counts [maxLostCounts]uint64) []byte {
	b := make([]byte, lostSlotSize)
	copy(b, lostMagic)
	b[4] = 1
	binary.LittleEndian.PutUint64(b[8:], gen)
	for i, c := range counts {
		binary.LittleEndian.PutUint64(b[16+8*i:], c)
	}
	binary.LittleEndian.PutUint32(b[lostSlotSize-4:], crc32.Checksum(b[:lostSlotSize-4], castagnoli))
	return b
}

func decodeLostSlot(b []byte) (gen uint64, counts [maxLostCounts]uint64, ok bool) {
	if string(b[:4]) != lostMagic || b[4] != 1 ||
		binary.LittleEndian.Uint32(b[lostSlotSize-4:]) != crc32.Checksum(b[:lostSlotSize-4], castagnoli) {
		return 0, counts, false
	}
	for i := range counts {
		counts[i] = binary.LittleEndian.Uint64(b[16+8*i:])
	}
	return binary.LittleEndian.Uint64(b[8:]), counts, true
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// lose counts n readings dropped for reason: in the loss file first, then
// in the metric.
func (a *Agent) lose(reason string, n int) {
	if n <= 0 {
		return
	}
	if err := a.lost.add(reason, uint64(n)); err != nil {
		a.lossLogMu.Lock()
		k, ok := a.lossLog.Fail(a.opt.Now())
		a.lossLogMu.Unlock()
		if ok {
			a.log.Error("cannot persist the count of readings dropped; it is kept in memory and written with the next", "device", a.cfg.Device, "err", err, "errors_since_last_log", k)
		}
	}
	a.m.dropped.WithLabelValues(reason).Add(float64(n))
}

// logLosses says, at start, how many readings were dropped before it, if
// any (the same counts as tributary_edge_dropped_readings_total).
func (a *Agent) logLosses() {
	var args []any
	for _, r := range dropReasons {
		if n := a.lost.count(r); n > 0 {
			args = append(args, r, n)
		}
	}
	if len(args) > 0 {
		a.log.Warn("readings dropped before this start, by reason (tributary_edge_dropped_readings_total)",
			append([]any{"device", a.cfg.Device}, args...)...)
	}
}
