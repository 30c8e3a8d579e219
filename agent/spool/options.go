package spool

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// SyncPolicy says when the spool fsyncs what it writes. It implements
// flag.Value.
type SyncPolicy string

// Sync policies; see the package documentation for what each risks.
const (
	// SyncAlways: Push returns only after its readings are fsync'd.
	// Concurrent Pushes share one fsync (group commit).
	SyncAlways SyncPolicy = "always"
	// SyncInterval: a background goroutine fsyncs at most once per
	// Options.SyncEvery. The default.
	SyncInterval SyncPolicy = "interval"
	// SyncNever: the spool never fsyncs while it runs (only in Close); the
	// kernel writes dirty pages back on its own (about 30 s on Linux).
	SyncNever SyncPolicy = "never"
)

// String implements flag.Value.
func (p *SyncPolicy) String() string {
	if p == nil || *p == "" {
		return string(SyncInterval)
	}
	return string(*p)
}

// Set implements flag.Value.
func (p *SyncPolicy) Set(s string) error {
	switch SyncPolicy(s) {
	case SyncAlways, SyncInterval, SyncNever:
		*p = SyncPolicy(s)
		return nil
	}
	return fmt.Errorf("spool: fsync policy %q: want always, interval or never", s)
}

// FullPolicy says which readings go when the spool is over Options.MaxBytes.
// It implements flag.Value.
type FullPolicy string

// Full policies.
const (
	// DropOldest drops the oldest readings that are not in flight (peeked
	// and not committed) to make room; if every queued reading is in
	// flight, the pushed reading itself is dropped. The default.
	DropOldest FullPolicy = "oldest"
	// DropNewest drops the pushed readings that do not fit.
	DropNewest FullPolicy = "newest"
)

// String implements flag.Value.
func (p *FullPolicy) String() string {
	if p == nil || *p == "" {
		return string(DropOldest)
	}
	return string(*p)
}

// Set implements flag.Value.
func (p *FullPolicy) Set(s string) error {
	switch FullPolicy(s) {
	case DropOldest, DropNewest:
		*p = FullPolicy(s)
		return nil
	}
	return fmt.Errorf("spool: full policy %q: want oldest or newest", s)
}

// Defaults of Options.
const (
	DefaultSegmentSize = 4 << 20
	DefaultMaxBytes    = 256 << 20
	DefaultMaxAge      = 7 * 24 * time.Hour
	DefaultMemoryLimit = 10000
	DefaultReadCache   = 4096
	DefaultSyncEvery   = time.Second
)

// Options tune a spool. The zero value is usable; each field says its
// default.
type Options struct {
	// Sync is the fsync policy. Default SyncInterval.
	Sync SyncPolicy
	// SyncEvery is the period of SyncInterval's fsyncs and, under every
	// policy but SyncNever, the most often the ack cursor is fsync'd; it
	// is also how often the spool retries writes that failed and drops
	// readings past MaxAge when nothing is pushed. Default 1s.
	SyncEvery time.Duration
	// SegmentSize is the size at which the spool starts a new segment
	// file, in bytes. Fully acknowledged segments are deleted whole, so the
	// disk holds up to about one segment more than the queued readings.
	// Default DefaultSegmentSize (4 MiB).
	SegmentSize int64
	// MaxBytes bounds the encoded size of the queued readings (records and
	// their headers, as written to disk), in bytes; Full says what goes
	// when a Push would exceed it. Default DefaultMaxBytes (256 MiB);
	// negative: no limit.
	MaxBytes int64
	// MaxAge drops readings whose Reading.Time is older than MaxAge before
	// now (Now), whatever Full says, with reason "age": a pushed reading at
	// once, a queued one when it is the oldest not in flight (checked on
	// every Push and Peek and every SyncEvery). Default DefaultMaxAge
	// (7 days); negative: no limit.
	MaxAge time.Duration
	// Full is the policy when MaxBytes is reached. Default DropOldest.
	Full FullPolicy
	// MemoryLimit bounds the readings that wait in memory because the disk
	// refused them (ENOSPC, EIO, ...). Beyond it readings are dropped by
	// the Full policy with reason "disk_full". Default DefaultMemoryLimit
	// (10000).
	MemoryLimit int
	// ReadCache is how many of the most recently written readings the
	// spool keeps in memory, so that a sender keeping up never reads the
	// disk. Default DefaultReadCache (4096).
	ReadCache int
	// Logger receives recovery findings and write errors (at most one
	// write error a minute, with the count in between). Default: discard.
	Logger *slog.Logger
	// Now is the clock MaxAge and the oldest-age metric use. Default
	// time.Now.
	Now func() time.Time
}

const (
	minSegmentSize = 256
	maxSegmentSize = 1 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.Sync == "" {
		o.Sync = SyncInterval
	}
	if err := new(SyncPolicy).Set(string(o.Sync)); err != nil {
		return o, err
	}
	if o.Full == "" {
		o.Full = DropOldest
	}
	if err := new(FullPolicy).Set(string(o.Full)); err != nil {
		return o, err
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize < minSegmentSize || o.SegmentSize > maxSegmentSize {
		return o, fmt.Errorf("spool: segment size %d outside %d..%d bytes", o.SegmentSize, minSegmentSize, maxSegmentSize)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.ReadCache <= 0 {
		o.ReadCache = DefaultReadCache
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
