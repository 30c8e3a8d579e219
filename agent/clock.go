package agent

import (
	"os"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// A board without a real-time clock boots at 1970 (or, with fake-hwclock,
// at the time it last shut down) and learns the time from the network
// later, when the clock jumps. The agent never stamps a reading with a time
// it does not trust:
//
//   - While Options.ClockReady reports false, readings are numbered (so
//     their order is kept) but held in memory, each with the monotonic time
//     it was taken, up to Options.HoldLimit (the oldest are dropped beyond,
//     counted as DropClock). They are not spooled: a reading with no
//     trustworthy time cannot be sent, and a power loss before the first
//     sync loses them (counted at the next start as a seq gap).
//   - When the clock becomes ready, each held reading is stamped with the
//     now-trusted wall time minus the monotonic time elapsed since it was
//     taken, which is exact up to the sync's own error, and queued ahead of
//     anything newer.
//   - Times never go backwards per sensor: a reading stamped earlier than
//     its sensor's previous one (the clock was stepped back) takes the
//     previous one's time.

// heldReading is a reading taken before the clock was ready.
type heldReading struct {
	r    reading.Reading
	mono time.Time // time.Now() when taken: its monotonic part counts
}

func (a *Agent) heldLen() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.held)
}

// emit numbers rs, stamps them with the time now and queues them, under
// one lock so that the queue is in seq order. While the clock is not ready
// they are held.
func (a *Agent) emit(sensor string, rs []reading.Reading) {
	if len(rs) == 0 {
		return
	}
	// Decide, then read the clock: a reading is never stamped with a time
	// read before the clock was trusted.
	ready := a.clockTrusted()
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	if ready && now.Year() < 2000 {
		ready = false // stepped back to 1970 in between
	}
	a.mu.Lock()
	first, err := a.seq.take(len(rs))
	if err != nil {
		a.mu.Unlock()
		a.lose(DropSeqLease, len(rs))
		a.mu.Lock()
		n, ok := a.leaseLog.Fail(a.opt.Now())
		a.mu.Unlock()
		if ok {
			a.log.Error("cannot number readings; dropping them", "sensor", sensor, "err", err, "errors_since_last_log", n)
		}
		return
	}
	for i := range rs {
		rs[i].Seq = first + uint64(i)
	}
	var dropped, clockDropped int
	if !ready {
		clockDropped = a.hold(rs)
	} else {
		if !a.clockOK {
			a.clockOK = true
			if len(a.held) > 0 {
				dropped += a.release()
			}
		}
		for i := range rs {
			rs[i].Time = now
			a.monotonic(&rs[i])
		}
		a.tap(rs)
		dropped += a.q.Push(rs)
	}
	a.mu.Unlock()
	a.m.readings.WithLabelValues(sensor).Add(float64(len(rs)))
	if dropped > 0 {
		a.lose(DropQueueFull, dropped)
		a.mu.Lock()
		n, ok := a.dropLog.Fail(a.opt.Now())
		a.mu.Unlock()
		if ok {
			a.log.Warn("the queue is full: readings dropped by its policy (the spool's metrics say which and why)",
				"device", a.cfg.Device, "dropped", dropped, "drops_since_last_log", n)
		}
	}
	if clockDropped > 0 {
		a.lose(DropClock, clockDropped)
	}
}

// tap hands rs to Options.OnReading. Called with a.mu held.
func (a *Agent) tap(rs []reading.Reading) {
	if a.opt.OnReading != nil {
		for _, r := range rs {
			a.opt.OnReading(r)
		}
	}
}

// hold keeps rs until the clock is ready; it returns how many held readings
// it dropped to stay within HoldLimit. Called with a.mu held.
func (a *Agent) hold(rs []reading.Reading) int {
	if a.clockOK {
		a.clockOK = false
		a.log.Warn("the clock is no longer trusted; holding readings until it is", "device", a.cfg.Device)
	} else if len(a.held) == 0 {
		a.log.Warn("the clock is not synchronised yet; holding readings until it is", "device", a.cfg.Device)
	}
	mono := time.Now()
	for _, r := range rs {
		a.held = append(a.held, heldReading{r: r, mono: mono})
	}
	if over := len(a.held) - a.opt.HoldLimit; over > 0 {
		// Reslice rather than copy: append reallocates (and so frees the
		// dropped head) only when the backing array fills.
		clear(a.held[:over])
		a.held = a.held[over:]
		return over
	}
	return 0
}

// release stamps the held readings from the now-trusted clock and queues
// them; it returns how many the queue dropped. Called with a.mu held.
func (a *Agent) release() int {
	wall, mono := a.opt.Now(), time.Now()
	rs := make([]reading.Reading, len(a.held))
	for i, h := range a.held {
		rs[i] = h.r
		rs[i].Time = wall.Add(-mono.Sub(h.mono)).UTC().Truncate(time.Millisecond)
		a.monotonic(&rs[i])
	}
	a.log.Info("the clock is synchronised; stamping and sending the readings held until now",
		"device", a.cfg.Device, "readings", len(rs), "oldest", rs[0].Time)
	a.m.restamped.Add(float64(len(rs)))
	a.held = nil
	a.tap(rs)
	return a.q.Push(rs)
}

// monotonic keeps r's time from going back behind its sensor's previous
// reading. Called with a.mu held.
func (a *Agent) monotonic(r *reading.Reading) {
	if last, ok := a.lastTS[r.Sensor]; ok && r.Time.Before(last) {
		r.Time = last
		a.m.clockBack.Inc()
	}
	a.lastTS[r.Sensor] = r.Time
}

// dropHeld counts and forgets the readings still held when sampling stops:
// with no trusted clock they cannot be sent, and the next run cannot stamp
// them either.
func (a *Agent) dropHeld() {
	a.mu.Lock()
	held := a.held
	a.held = nil
	a.mu.Unlock()
	if len(held) == 0 {
		return
	}
	a.lose(DropClock, len(held))
	a.log.Warn("agent stopped before the clock was trusted; readings held for it are lost",
		"device", a.cfg.Device, "readings", len(held), "first_seq", held[0].r.Seq, "last_seq", held[len(held)-1].r.Seq)
}

// stateWritten is the last time the agent of device wrote its state in
// stateDir, by the wall clock of then (the seq lease is written at least
// every lease's worth of readings), or the zero time if it has none. A
// clock behind it has been set back.
func stateWritten(stateDir, device string) time.Time {
	var t time.Time
	for _, path := range []string{seqPath(stateDir, device), bootPath(stateDir, device)} {
		if fi, err := os.Stat(path); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}
