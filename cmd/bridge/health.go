package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// Run pings until ctx is done.
func (w *redisWatch) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// readyz answers 200 "ready" when every check is nil, else 503 with the
// first failure.
func readyz(checks ...func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		for _, c := range checks {
			if err := c(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "not ready:", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	}
}
