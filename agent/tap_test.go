package agent

import (
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// tapped collects what Options.OnReading is given.
type tapped struct {
	mu sync.Mutex
	rs []reading.Reading
}

func (c *tapped) add(r reading.Reading) {
	c.mu.Lock()
	c.rs = append(c.rs, r)
	c.mu.Unlock()
}

func (c *tapped) list() []reading.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]reading.Reading(nil), c.rs...)
}

// TestOnReadingSeesWhatIsSent: the tap gets every reading, stamped, in
// seq order, those held for the clock included, as the uplink gets them.
func TestOnReadingSeesWhatIsSent(t *testing.T) {
	up := &flakyUplink{}
	c := newClock(time.Unix(0, 0))
	var tap tapped
	a := start(t, Config{Device: "dev-t", Sensors: []SensorConfig{{Sensor: door("d")}, {Sensor: climate("c")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{Now: c.Now, ClockReady: c.Ready, OnReading: tap.add})
	await(t, "readings held", func() bool { return a.heldLen() >= 10 })
	if n := len(tap.list()); n != 0 {
		t.Fatalf("%d readings tapped before they had a trusted time", n)
	}
	c.set(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC), true)
	await(t, "readings sent", func() bool { return len(up.accepted()) >= 40 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	got, sent := tap.list(), up.accepted()
	if len(got) != len(sent) {
		t.Fatalf("%d readings tapped, %d sent", len(got), len(sent))
	}
	for i := range got {
		if got[i] != sent[i] {
			t.Fatalf("reading %d: tapped %+v, sent %+v", i, got[i], sent[i])
		}
		if got[i].Seq != uint64(i+1) || got[i].Time.Year() != 2026 {
			t.Fatalf("reading %d tapped with seq %d, time %v", i, got[i].Seq, got[i].Time)
		}
	}
}

func TestUplinkState(t *testing.T) {
	if st := (&Agent{}).Uplink(); st.Connected || !st.Since.IsZero() {
		t.Fatalf("state before any send: %+v", st)
	}
	up := &flakyUplink{fails: 3}
	a := start(t, Config{Device: "dev-u", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	await(t, "readings accepted", func() bool { return len(up.accepted()) >= 5 })
	st := a.Uplink()
	if !st.Connected || st.Errors != 0 || st.LastError != "network unreachable" || !st.Since.Equal(t0) || !st.LastSent.Equal(t0) || !st.LastErrorAt.Equal(t0) {
		t.Fatalf("state after a recovery: %+v", st)
	}

	down := &flakyUplink{fails: 1 << 30}
	b := start(t, Config{Device: "dev-v", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		down, Options{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	await(t, "failed sends", func() bool { return b.Uplink().Errors >= 3 })
	if st := b.Uplink(); st.Connected || !st.Since.Equal(t0) || st.LastError != "network unreachable" || !st.LastSent.IsZero() {
		t.Fatalf("state of an uplink down: %+v", st)
	}
}
