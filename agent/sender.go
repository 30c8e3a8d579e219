package agent

import (
	"context"
	"errors"
	"time"

	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/reading"
)

// send takes batches from the queue and sends them until the queue is empty
// after waitCtx has ended, or sendCtx ends. A failed batch is retried, the
// same readings, with backoff, so the device's order is kept.
func (a *Agent) send(sendCtx, waitCtx context.Context) {
	lim := &lograte.Limiter{Every: a.opt.LogEvery}
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
				a.upState.sent(a.opt.Now())
				if n, ok := lim.OK(); ok {
					a.log.Info("uplink recovered", "device", a.cfg.Device, "errors", n)
				}
				break
			}
			if errors.Is(err, reading.ErrInvalid) {
				a.lose(DropRejected, len(batch))
				a.log.Error("uplink rejected readings; dropping them", "device", a.cfg.Device, "count", len(batch), "err", err)
				break
			}
			if sendCtx.Err() != nil {
				return
			}
			a.m.uplinkErrors.Inc()
			a.m.uplinkUp.Set(0)
			a.upState.failed(err, a.opt.Now())
			if n, ok := lim.Fail(a.opt.Now()); ok {
				a.log.Warn("uplink send failed; retrying", "device", a.cfg.Device, "err", err, "errors_since_last_log", n)
			}
			if !backoff.Sleep(sendCtx, a.backoff(attempt)) {
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
	refused := 0
	if ref, ok := errors.AsType[*RefusedError](err); ok {
		// Done with, but lost: counted, not retried.
		dups, refused, err = ref.Duplicates, ref.Refused, nil
		a.lose(DropRefused, refused)
		if n, ok := a.refLog.Fail(a.opt.Now()); ok {
			a.log.Warn("uplink refused readings for good; dropping them", "device", a.cfg.Device,
				"refused", refused, "reason", ref.Reason, "first_seq", batch[0].Seq, "since_last_log", n)
		}
	}
	if err != nil {
		return err
	}
	if dups > 0 {
		a.m.duplicates.Add(float64(dups))
		// Expected after a retry whose first try was stored; otherwise the
		// device's seq restarted (a lost state dir) and Redis drops these.
		if n, ok := a.dupLog.Fail(a.opt.Now()); ok {
			a.log.Warn("uplink already had readings with these seqs; if this persists, the state dir was lost and readings are being dropped as repeats",
				"device", a.cfg.Device, "duplicates", dups, "first_seq", batch[0].Seq, "since_last_log", n)
		}
	}
	a.m.sendDuration.Observe(time.Since(start).Seconds())
	if refused == 0 {
		// Which readings a refusing far end took is not known: a batch
		// with refusals is left out (refusals are rare and counted).
		now := a.opt.Now()
		for i := range batch {
			a.m.upLatency.Observe(latency.Seconds(batch[i].Time, now))
		}
	}
	a.m.sent.Add(float64(len(batch) - refused))
	a.m.uplinkUp.Set(1)
	return nil
}

// backoff is the wait before retry attempt (0-based) of a send or a boot
// record: full jitter between BackoffMin and BackoffMax (internal/backoff).
func (a *Agent) backoff(attempt int) time.Duration {
	return backoff.Policy{Min: a.opt.BackoffMin, Max: a.opt.BackoffMax}.Delay(attempt)
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
	return d <= 0 || backoff.Sleep(ctx, d)
}
