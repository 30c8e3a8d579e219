package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisWatch pings Redis every interval, from the start, so that the
// bridge says at once when Redis is unreachable (a log line when it goes
// away and when it returns) and /readyz reflects it, even while no
// message arrives to fail on it.
type redisWatch struct {
	rdb      *redis.Client
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	err   error // of the last ping; errNotChecked before the first
	since time.Time
}

var errNotChecked = errors.New("not checked yet")

// newRedisWatch watches the Redis of rdb through a client of its own that
// does not retry, so that a ping fails as soon as a connection does; the
// caller closes it with Close.
func newRedisWatch(rdb *redis.Client, interval time.Duration, log *slog.Logger) *redisWatch {
	o := *rdb.Options()
	o.MaxRetries = -1
	o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
	return &redisWatch{rdb: redis.NewClient(&o), interval: interval, log: log, err: errNotChecked}
}

// Close closes the watch's client.
func (w *redisWatch) Close() error { return w.rdb.Close() }

// Start pings once, so that the state is known (and logged) before the
// bridge starts, then every interval on its own goroutine until ctx is
// done; the returned channel is closed once that goroutine has ended.
func (w *redisWatch) Start(ctx context.Context) <-chan struct{} {
	w.check(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			w.check(ctx)
		}
	}()
	return done
}

func (w *redisWatch) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, max(w.interval, time.Second))
	err := w.rdb.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	prev, since := w.err, w.since
	w.err = err
	if (prev == nil) != (err == nil) || prev == errNotChecked {
		w.since = now
	}
	w.mu.Unlock()
	switch {
	case err != nil && prev == errNotChecked:
		w.log.Error("redis unreachable at start; readings wait in the broker until it answers", "err", err)
	case err != nil && prev == nil:
		w.log.Error("redis unreachable; readings wait in the broker until it answers", "err", err)
	case err == nil && prev == errNotChecked:
		w.log.Info("redis reachable")
	case err == nil && prev != nil:
		w.log.Info("redis reachable again", "down_for", now.Sub(since).Round(time.Millisecond))
	}
}

// Ready is nil while the last ping succeeded.
func (w *redisWatch) Ready() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return fmt.Errorf("redis: %w", w.err)
	}
	return nil
}
