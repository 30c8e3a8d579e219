package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/reading"
)

// Reasons for dropping readings: the keys of Stats.Dropped and the reason
// label of tributary_edge_spool_dropped_total.
const (
	ReasonFull      = "full"      // over MaxBytes; the Full policy chose them
	ReasonAge       = "age"       // older than MaxAge
	ReasonDiskFull  = "disk_full" // the disk refused them and MemoryLimit was reached, or Close gave up on them
	ReasonCorrupt   = "corrupt"   // their records were damaged on disk
	ReasonTooLarge  = "too_large" // the record would exceed MaxRecordSize
	ReasonTruncated = "truncated" // written, then missing from the end of the spool at Open (a crash or power loss cut the newest segment)
)

// reasons indexes the drop counters.
const (
	rFull = iota
	rAge
	rDiskFull
	rCorrupt
	rTooLarge
	rTruncated
	nReasons
)

var reasonNames = [nReasons]string{ReasonFull, ReasonAge, ReasonDiskFull, ReasonCorrupt, ReasonTooLarge, ReasonTruncated}

// The cursor has room for maxCounters reasons.
var _ [maxCounters - nReasons]struct{}

// Errors.
var (
	// ErrClosed is returned by Peek on a closed spool.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked is returned by Open when another process holds the spool.
	ErrLocked = errors.New("spool: directory in use")
)

// entry is a queued reading.
type entry struct {
	r      reading.Reading
	idx    uint64 // its record's index, once written
	size   int    // its record's size in bytes
	onDisk bool   // written (idx is valid)
}

// Spool is a durable FIFO of readings in a directory: an agent.Queue that
// survives restarts, kill -9 and, depending on Options.Sync, power loss.
// Create it with Open and release it with Close. It is safe for concurrent
// use: any number of pushers, and one sender that peeks and commits.
type Spool struct {
	dir      string
	opt      Options
	lockFile *os.File
	dirFile  *os.File // the directory, for fsync after creating a segment

	mu       sync.Mutex
	synced   *sync.Cond // broadcast when syncedSeq grows (SyncAlways)
	closed   bool
	closedCh chan struct{}

	segs     []*segment // oldest first; w's segment, if any, is the last
	w        *writer    // the segment being written; nil until one can be created
	writeIdx uint64     // index of the next record written
	wbuf     []byte

	ack   uint64 // every index below is acknowledged or dropped
	holes []span // dropped indices above ack (readings dropped behind a batch in flight)
	cur   *os.File
	curAt cursorState // the cursor last written
	// curDirty says the cursor was written since its last fsync.
	curDirty bool

	// The queue, oldest first: peeked, then the stream: records on disk
	// from rpos (skipping holes), served from the cache from cacheStart,
	// then the readings in ov not yet written.
	peeked   []entry // returned by Peek and not committed: never dropped
	ovPeeked int     // how many of ov's first entries are also in peeked (its last ones)
	ov       []entry // accepted, not yet written: ov[ovHead:]
	ovHead   int
	rpos     uint64
	rd       *segReader
	look     record // the record rd read last, if hasLook
	hasLook  bool
	newLoss  bool // rd skipped damaged bytes not known at Open
	cache    []entry
	cacheHd  int    // ring position of cacheStart
	cacheN   int    // entries cached: indices [cacheStart, writeIdx)
	cacheLo  uint64 // cacheStart
	in       interner
	notify   chan struct{}
	n        int   // readings queued
	bytes    int64 // their record sizes

	// Syncing.
	syncMu              sync.Mutex // serialises syncData
	writeSeq, syncedSeq uint64     // writes made, writes covered by an fsync
	unsynced            []*os.File // segment files rotated out: fsync (unless SyncNever), then close
	dirDirty            bool
	kick                chan struct{}
	done, stopped       chan struct{}

	// Counters. dropped counts over the spool's life: it is persisted in
	// the cursor with every change (see saveCursor).
	dropped     [nReasons]uint64
	writeErrors uint64
	lastErr     error
	lastErrAt   time.Time
	failing     bool // the last write failed
	errLog      lograte.Limiter
	tornTails   int
	truncated   int64
	fsyncs      uint64
	fsyncHist   prometheus.Histogram
}

// writer is the segment being appended to.
type writer struct {
	seg *segment
	f   *os.File
	off int64
}

// Open opens the spool in dir, creating dir (mode 0700) if missing, and
// recovers it: it reads the ack cursor, scans every segment, truncates a
// torn tail of the newest segment and skips damaged records elsewhere,
// counting the readings lost (Stats). It locks dir until Close; a second
// Open of the same dir, from any process, fails with ErrLocked. Open starts
// a goroutine that Close stops.
func Open(dir string, opt Options) (*Spool, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir: dir, opt: opt, lockFile: lock,
		closedCh: make(chan struct{}),
		in:       interner{},
		cache:    make([]entry, opt.ReadCache),
		notify:   make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		errLog:   lograte.Limiter{Every: time.Minute},
		fsyncHist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_edge_spool_fsync_seconds",
			Help:    "Duration of the spool's fsyncs (segments, directory and ack cursor).",
			Buckets: prometheus.ExponentialBucketsRange(0.0001, 10, 11),
		}),
	}
	s.synced = sync.NewCond(&s.mu)
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	go s.run()
	return s, nil
}

// Push implements agent.Queue: it appends rs, in order, after everything
// queued, and returns how many readings it dropped to do so (of rs, or
// older ones, by the Full policy, MaxAge, MemoryLimit or MaxRecordSize).
// Under SyncAlways it returns once the readings it wrote are fsync'd,
// sharing the fsync with concurrent Pushes. A write that fails (a full
// disk) does not fail Push: the readings wait in memory (MemoryLimit) and
// are written by a later Push or the background goroutine, in order; the
// error shows in Stats and the log. Push after Close drops rs.
func (s *Spool) Push(rs []reading.Reading) (dropped int) {
	if len(rs) == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.opt.Logger.Error("spool: Push after Close; readings dropped", "count", len(rs))
		return len(rs)
	}
	counted := s.dropped
	now := s.opt.Now()
	dropped = s.dropAged(now)
	var cutoff time.Time
	if s.opt.MaxAge > 0 {
		cutoff = now.Add(-s.opt.MaxAge)
	}
	added := 0
	for i := range rs {
		r := normalize(rs[i])
		size := recordSize(&r)
		switch {
		case size > MaxRecordSize:
			s.dropped[rTooLarge]++
		case s.opt.MaxAge > 0 && r.Time.Before(cutoff):
			s.dropped[rAge]++
		case s.opt.MaxBytes > 0 && s.bytes+int64(size) > s.opt.MaxBytes && !s.makeRoom(size, &dropped):
			s.dropped[rFull]++
		default:
			s.ov = append(s.ov, entry{r: r, size: size})
			s.n++
			s.bytes += int64(size)
			added++
			continue
		}
		dropped++
	}
	wrote := false
	if s.ovHead < len(s.ov) {
		before := s.writeSeq
		s.flushReport()
		wrote = s.writeSeq > before
		dropped += s.limitMemory()
	}
	s.saveCursor()
	s.deleteAcked()
	if added > 0 {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	if wrote && s.opt.Sync == SyncAlways {
		my := s.writeSeq
		select {
		case s.kick <- struct{}{}:
		default:
		}
		for s.syncedSeq < my {
			s.synced.Wait()
		}
	}
	if s.opt.Sync == SyncAlways && s.dropped != counted {
		// What this Push dropped is counted durably before it returns.
		s.mu.Unlock()
		s.syncCursor()
		s.mu.Lock()
	}
	return dropped
}

// makeRoom drops the oldest readings not in flight until size more bytes
// fit under MaxBytes, if the policy is DropOldest, adding the drops to
// *dropped. It reports whether they fit.
func (s *Spool) makeRoom(size int, dropped *int) bool {
	if s.opt.Full != DropOldest {
		return false
	}
	for s.bytes+int64(size) > s.opt.MaxBytes {
		e, ok := s.head()
		if !ok {
			return false
		}
		s.drop(e, rFull)
		*dropped++
	}
	return true
}

// limitMemory drops readings waiting for the disk beyond MemoryLimit, by
// the Full policy but never one in flight, and returns how many.
func (s *Spool) limitMemory() (dropped int) {
	for len(s.ov)-s.ovHead > s.opt.MemoryLimit {
		free := len(s.ov) - s.ovHead - s.ovPeeked
		if free == 0 {
			break
		}
		var e entry
		if s.opt.Full == DropOldest {
			e = s.ov[s.ovHead+s.ovPeeked]
			s.removeOverflow()
		} else {
			e = s.ov[len(s.ov)-1]
			s.ov[len(s.ov)-1] = entry{}
			s.ov = s.ov[:len(s.ov)-1]
		}
		s.n--
		s.bytes -= int64(e.size)
		s.dropped[rDiskFull]++
		dropped++
	}
	return dropped
}

// Peek implements agent.Queue: it returns up to max (at least 1) of the
// oldest readings without removing them. Readings a previous Peek returned
// come first again and are never dropped until Commit. If nothing is
// queued it waits for a Push, ctx or Close (then ErrClosed). Recent
// readings come from memory; a backlog is read from disk sequentially, max
// readings at a time. Readings read back have Time in UTC without a
// monotonic clock reading; the other fields are as pushed.
func (s *Spool) Peek(ctx context.Context, max int) ([]reading.Reading, error) {
	if max <= 0 {
		max = 1
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		s.dropAged(s.opt.Now())
		var out []reading.Reading
		if s.n > 0 {
			out = make([]reading.Reading, 0, min(max, s.n))
			for i := 0; i < len(s.peeked) && len(out) < max; i++ {
				out = append(out, s.peeked[i].r)
			}
			for len(out) < max && s.take() {
				out = append(out, s.peeked[len(s.peeked)-1].r)
			}
			if len(out) == 0 {
				// Nothing to read although the count says otherwise: trust
				// what is there, so that Peek waits instead of spinning.
				s.opt.Logger.Error("spool: reading count out of step with the files; correcting", "dir", s.dir, "count", s.n)
				s.n, s.bytes = 0, 0
			}
		}
		s.saveCursor()
		s.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closedCh:
		case <-s.notify:
		}
	}
}

// Commit implements agent.Queue: it removes the n oldest readings, which
// the last Peek returned, and persists the ack cursor (a pwrite, fsync'd
// later: see the package documentation). Fully acknowledged segments are
// deleted.
func (s *Spool) Commit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || n <= 0 {
		return
	}
	n = min(n, len(s.peeked))
	for _, e := range s.peeked[:n] {
		s.n--
		s.bytes -= int64(e.size)
		if !e.onDisk {
			// Sent before the disk took it: it need never be written.
			s.ov[s.ovHead] = entry{}
			s.ovHead++
			s.ovPeeked--
		}
	}
	k := copy(s.peeked, s.peeked[n:])
	clear(s.peeked[k:])
	s.peeked = s.peeked[:k]
	s.updateAck()
	s.saveCursor()
	s.deleteAcked()
}

// Len implements agent.Queue: the readings queued, in flight and waiting in
// memory for the disk included.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Sync writes what waits in memory and fsyncs the segments and the ack
// cursor now, whatever the policy. It returns the first error.
func (s *Spool) Sync() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	var err error
	if s.ovHead < len(s.ov) {
		err = s.flushReport()
	}
	s.saveCursor()
	s.mu.Unlock()
	return errors.Join(err, s.syncData(true), s.syncCursor())
}

// Close writes what waits in memory if the disk takes it, fsyncs
// everything (under every policy), stops the background goroutine and
// releases the directory. Readings the disk still refuses are lost and
// counted as disk_full. Peek then returns ErrClosed and Push drops its
// readings. Close is idempotent; it returns the first error.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closedCh)
	s.mu.Unlock()
	close(s.done)
	<-s.stopped

	s.mu.Lock()
	var err error
	if s.ovHead < len(s.ov) {
		err = s.flushReport()
		if lost := len(s.ov) - s.ovHead; lost > 0 {
			s.dropped[rDiskFull] += uint64(lost)
			s.n -= lost
			for _, e := range s.ov[s.ovHead:] {
				s.bytes -= int64(e.size)
			}
			s.opt.Logger.Error("spool: closing with readings the disk refused; they are lost", "dir", s.dir, "count", lost, "err", err)
		}
	}
	s.saveCursor()
	s.mu.Unlock()
	err = errors.Join(err, s.syncData(true), s.syncCursor())

	s.mu.Lock()
	s.closeFiles()
	s.syncedSeq = s.writeSeq
	s.synced.Broadcast()
	s.mu.Unlock()
	return err
}

// closeFiles closes every file the spool holds, the lock last.
func (s *Spool) closeFiles() {
	if s.w != nil {
		s.w.f.Close()
		s.w = nil
	}
	for _, f := range s.unsynced {
		f.Close()
	}
	s.unsynced = nil
	s.rd.close()
	s.rd = nil
	for _, f := range []*os.File{s.cur, s.dirFile, s.lockFile} {
		if f != nil {
			f.Close()
		}
	}
	s.cur, s.dirFile, s.lockFile = nil, nil, nil
}

// recordErr notes a failed write, creation or fsync.
func (s *Spool) recordErr(err error) {
	s.writeErrors++
	s.lastErr = err
	s.lastErrAt = s.opt.Now()
	if n, ok := s.errLog.Fail(s.lastErrAt); ok {
		s.opt.Logger.Error("spool: write failed; readings wait in memory and are retried", "dir", s.dir, "err", err, "errors_since_last_log", n)
	}
}
