package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Retention is how long the keyspace keeps history and remembers seqs. The
// cloud owns it: it publishes its settings in Redis (PublishRetention), and
// every ingester (edge agents, bridges) adopts them within RetentionRefresh,
// since trimming happens where readings are written.
//
//	tributary:retention   Hash. maxlen, maxage_ms, dedup_s, future_ms
//	                      (negative: no limit; absent: each ingester's own).
type Retention struct {
	MaxLen      int64         // see Options.MaxLen
	MaxAge      time.Duration // see Options.MaxAge
	DedupWindow time.Duration // see Options.DedupWindow
	MaxFuture   time.Duration // see Options.MaxFuture
}

// RetentionRefresh is how often an ingester re-reads the published
// retention.
const RetentionRefresh = time.Minute

// retention is the Store's current retention, shared by Ingest calls.
type retention struct {
	mu      sync.Mutex
	cur     Retention
	checked time.Time // when Redis was last asked
}

func (s *Store) retentionKey() string { return s.opt.Prefix + ":retention" }

// Retention returns the retention Ingest currently applies.
func (s *Store) Retention() Retention {
	s.ret.mu.Lock()
	defer s.ret.mu.Unlock()
	return s.ret.cur
}

// PublishRetention writes this store's Options (MaxLen, MaxAge, DedupWindow,
// MaxFuture)
// to Redis for every ingester to apply. The cloud calls it at start and then
// now and then (an empty Redis after a restart forgets it).
func (s *Store) PublishRetention(ctx context.Context) error {
	err := s.rdb.HSet(ctx, s.retentionKey(),
		"maxlen", s.opt.MaxLen, "maxage_ms", s.opt.MaxAge.Milliseconds(),
		"dedup_s", int64(s.opt.DedupWindow/time.Second), "future_ms", s.opt.MaxFuture.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("store: publish retention: %w", err)
	}
	return nil
}

// refreshRetention adopts the published retention if RetentionRefresh has
// passed since it last looked. Without a published one the Store keeps its
// own Options. A failure is not an error for the caller: the ingest that
// follows reports Redis being away.
func (s *Store) refreshRetention(ctx context.Context) {
	s.ret.mu.Lock()
	defer s.ret.mu.Unlock()
	if time.Since(s.ret.checked) < RetentionRefresh {
		return
	}
	v, err := s.rdb.HGetAll(ctx, s.retentionKey()).Result()
	if err != nil {
		return
	}
	s.ret.checked = time.Now()
	if r, ok := parseRetention(v, s.opt.MaxFuture); ok {
		s.ret.cur = r
	}
}

// parseRetention reads a published retention; future is the MaxFuture to
// apply when it has none (published by an older cloud).
func parseRetention(v map[string]string, future time.Duration) (Retention, bool) {
	maxlen, err1 := strconv.ParseInt(v["maxlen"], 10, 64)
	maxage, err2 := strconv.ParseInt(v["maxage_ms"], 10, 64)
	dedup, err3 := strconv.ParseInt(v["dedup_s"], 10, 64)
	if errors.Join(err1, err2, err3) != nil || maxlen == 0 || maxage < 0 || dedup <= 0 {
		return Retention{}, false
	}
	if f, ok := v["future_ms"]; ok {
		ms, err := strconv.ParseInt(f, 10, 64)
		if err != nil || ms == 0 {
			return Retention{}, false
		}
		future = time.Duration(ms) * time.Millisecond
	}
	return Retention{MaxLen: maxlen, MaxAge: time.Duration(maxage) * time.Millisecond, DedupWindow: time.Duration(dedup) * time.Second, MaxFuture: future}, true
}

// RunRetention keeps the retention published, trims history by age on
// devices that have gone quiet (Ingest trims the others as it writes) and
// forgets devices silent for longer than DeviceRetention, SweepBatch at a
// time, and removes up to 10,000 ids without data from the id index (see
// SweepDevices), every interval (default RetentionRefresh) until ctx ends. Errors
// are retried on the next round; it returns nil when ctx ends.
func (s *Store) RunRetention(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = RetentionRefresh
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// The id index is brought up to date whole at start, then a page a
	// round.
	var next int64
	for first := true; first || next > 0; first = false {
		var err error
		if next, err = s.indexDevices(ctx, next); err != nil {
			break
		}
	}
	for {
		// Best effort, each of them; see above.
		s.PublishRetention(ctx)
		next, _ = s.indexDevices(ctx, next)
		s.SweepDevices(ctx)
		s.trimByAge(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// trimByAge trims every device's stream to MaxAge, when set, a page of
// the registry at a time.
func (s *Store) trimByAge(ctx context.Context) error {
	if s.opt.MaxAge <= 0 {
		return nil
	}
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	minID := strconv.FormatInt(now.Add(-s.opt.MaxAge).UnixMilli(), 10)
	for start := int64(0); ; start += MaxDevicePage {
		ids, err := s.rdb.ZRange(ctx, s.devicesKey(), start, start+MaxDevicePage-1).Result()
		if err != nil || len(ids) == 0 {
			return err
		}
		pipe := s.rdb.Pipeline()
		for _, id := range ids {
			pipe.XTrimMinID(ctx, s.StreamKey(id), minID)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if len(ids) < MaxDevicePage {
			return nil
		}
	}
}
