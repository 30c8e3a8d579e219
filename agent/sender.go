package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// send takes batches from the queue and sends them until the queue is empty
// after waitCtx has ended, or sendCtx ends. A failed batch is retried, the
// same readings, with backoff, so the device's order is kept.
func (a *Agent) send(sendCtx, waitCtx context.Context) {
	lim := &logLimiter{every: a.opt.LogEvery, now: a.opt.Now}
	drain := newPacer(a.opt.DrainRate)
	for {
		batch, _ := a.q.Peek(waitCtx, a.opt.BatchSize)
		if len(batch) == 0 {
			return
		}
		// A backlog (more queued than this batch) drains at DrainRate.
		if a.q.Len() > len(batch) || drain.owed() {
			if !drain.wait(sendCtx, len(batch)) {
				return
			}
		}
		for attempt := 0; ; attempt++ {
			err := a.sendOnce(sendCtx, batch)
			if err == nil {
				if n, ok := lim.ok(); ok {
					a.log.Info("uplink recovered", "device", a.cfg.Device, "errors", n)
				}
				break
			}
			if errors.Is(err, reading.ErrInvalid) {
				a.m.dropped.WithLabelValues(DropRejected).Add(float64(len(batch)))
				a.log.Error("uplink rejected readings; dropping them", "device", a.cfg.Device, "count", len(batch), "err", err)
				break
			}
			if sendCtx.Err() != nil {
				return
			}
			a.m.uplinkErrors.Inc()
			a.m.uplinkUp.Set(0)
			if n, ok := lim.fail(); ok {
				a.log.Warn("uplink send failed; retrying", "device", a.cfg.Device, "err", err, "errors_since_last_log", n)
			}
			if !sleep(sendCtx, a.backoff(attempt)) {
				return
			}
		}
		a.q.Commit(len(batch))
	}
}

func (a *Agent) sendOnce(ctx context.Context, batch []reading.Reading) error {
	ctx, cancel := context.WithTimeout(ctx, a.opt.SendTimeout)
	defer cancel()
	start := time.Now()
	dups, err := a.up.Send(ctx, batch)
	if err != nil {
		return err
	}
	if dups > 0 {
		a.m.duplicates.Add(float64(dups))
		// Expected after a retry whose first try was stored; otherwise the
		// device's seq restarted (a lost state dir) and Redis drops these.
		if n, ok := a.dupLog.fail(); ok {
			a.log.Warn("uplink already had readings with these seqs; if this persists, the state dir was lost and readings are being dropped as repeats",
				"device", a.cfg.Device, "duplicates", dups, "first_seq", batch[0].Seq, "since_last_log", n)
		}
	}
	a.m.sendDuration.Observe(time.Since(start).Seconds())
	a.m.sent.Add(float64(len(batch)))
	a.m.uplinkUp.Set(1)
	return nil
}

// backoff is the wait before retry attempt (0-based): uniformly random in
// [0, min(BackoffMax, BackoffMin*2^attempt)] ("full jitter").
func (a *Agent) backoff(attempt int) time.Duration {
	ceil := a.opt.BackoffMax
	if attempt < 63 && a.opt.BackoffMin <= a.opt.BackoffMax>>attempt { // no overflow
		ceil = a.opt.BackoffMin << attempt
	}
	return rand.N(ceil + 1)
}

// pacer spaces sends so that they average at most rate readings a second.
// It is used by the sender goroutine only.
type pacer struct {
	rate float64 // readings per second; <= 0: no cap
	next time.Time
}

func newPacer(rate float64) *pacer { return &pacer{rate: rate} }

// owed reports whether the last paced send's time is still ahead.
func (p *pacer) owed() bool { return p.rate > 0 && time.Now().Before(p.next) }

// wait waits for the slot of the next n readings, or until ctx ends; it
// reports whether it waited the slot.
func (p *pacer) wait(ctx context.Context, n int) bool {
	if p.rate <= 0 {
		return true
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	return d <= 0 || sleep(ctx, d)
}

// sleep waits d or until ctx ends; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logLimiter lets one error through per interval, counting the others, and
// notices recovery. It is used by one goroutine.
type logLimiter struct {
	every   time.Duration
	now     func() time.Time
	last    time.Time
	skipped int // errors not logged since the last logged one
	total   int // errors since the last success
}

// fail records an error; ok says whether to log it, n how many were not
// logged before it.
func (l *logLimiter) fail() (n int, ok bool) {
	l.total++
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every && now.Sub(l.last) >= 0 {
		l.skipped++
		return 0, false
	}
	n, l.skipped, l.last = l.skipped, 0, now
	return n, true
}

// ok records a success; it says whether errors came before it, and how many.
func (l *logLimiter) ok() (n int, ok bool) {
	n, l.total, l.skipped, l.last = l.total, 0, 0, time.Time{}
	return n, n > 0
}
