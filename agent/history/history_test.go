package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

const dev = "pi-1"

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newHistory(t *testing.T, opt Options) (*History, *clock) {
	t.Helper()
	c := &clock{t: t0}
	opt.Device, opt.Now = dev, c.now
	h, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

// query returns what HistoryPages gives, decoded, checking every page's
// size and every reading's JSON against its canonical encoding.
func query(t *testing.T, h *History, q store.Query) []reading.Reading {
	t.Helper()
	var out []reading.Reading
	err := h.HistoryPages(context.Background(), dev, q, func(page [][]byte) error {
		if len(page) == 0 || len(page) > store.HistoryPage {
			t.Fatalf("page of %d readings", len(page))
		}
		for _, raw := range page {
			r, err := reading.Decode(raw)
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !bytes.Equal(raw, r.AppendJSON(nil)) {
				t.Fatalf("not canonical: %s", raw)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameJSON(t *testing.T, what string, got, want []reading.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d readings, want %d", what, len(got), len(want))
	}
	for i := range got {
		if g, w := got[i].AppendJSON(nil), want[i].AppendJSON(nil); !bytes.Equal(g, w) {
			t.Fatalf("%s: reading %d:\n got %s\nwant %s", what, i, g, w)
		}
	}
}

func TestValuesExactly(t *testing.T) {
	h, _ := newHistory(t, Options{})
	values := []float64{21.37, 21.5, 21.37, -4.25, 0, math.Copysign(0, -1), 1.0 / 3, 1013.25, 1e-9, 123456789.123,
		math.MaxFloat64, -math.SmallestNonzeroFloat64, 0.1 + 0.2, 42, 1e300, 7.000001, 3}
	var want []reading.Reading
	seq := uint64(10)
	for i, v := range values {
		unit := "Cel"
		if i > 12 {
			unit = "1" // a unit change mid-series
		}
		for _, sensor := range []string{"a", "b"} {
			seq += uint64(1 + i%3)
			ts := t0.Add(time.Duration(i*1500-int(seq)) * time.Millisecond)
			if sensor == "b" {
				ts = t0.Add(-time.Duration(i) * time.Second) // a clock stepped back: times may go back
			}
			r := reading.Reading{Device: dev, Sensor: sensor, Metric: "temperature", Value: v, Unit: unit, Time: ts, Seq: seq}
			h.Add(r)
			want = append(want, r)
		}
	}
	sameJSON(t, "all", query(t, h, store.Query{}), want)
	// The newest of each series, by sensor then metric.
	p, err := h.DevicesPage(context.Background(), "", 0)
	if err != nil || len(p.Devices) != 1 {
		t.Fatalf("devices %+v, %v", p, err)
	}
	d := p.Devices[0]
	sameJSON(t, "latest", d.Latest, want[len(want)-2:])
	if d.ID != dev || d.LastSeq != seq || !d.LastSeen.Equal(t0) {
		t.Fatalf("device %+v", d)
	}
	if p, _ := h.DevicesPage(context.Background(), dev, 0); len(p.Devices) != 0 {
		t.Fatalf("after %q: %+v", dev, p)
	}
}

// fill adds n readings of three series, one every 100 ms, seq from 1,
// values a random walk rounded like a sensor's.
func fill(h *History, from time.Time, n int) []reading.Reading {
	rnd := rand.New(rand.NewPCG(1, 2))
	v := [3]float64{20, 50, 1000}
	var rs []reading.Reading
	for i := range n {
		s := i % 3
		v[s] = math.Round((v[s]+rnd.Float64()-0.5)*100) / 100
		r := reading.Reading{Device: dev, Sensor: []string{"bme", "bme", "door"}[s], Metric: []string{"temperature", "humidity", "door"}[s],
			Value: v[s], Unit: []string{"Cel", "%", "1"}[s], Time: from.Add(time.Duration(i) * 100 * time.Millisecond), Seq: uint64(i + 1)}
		h.Add(r)
		rs = append(rs, r)
	}
	return rs
}

// selectRef is the cloud's selection, by a plain walk: the readings timed
// in [since, until], the newest limit of them, oldest first.
func selectRef(rs []reading.Reading, q store.Query) []reading.Reading {
	var out []reading.Reading
	for _, r := range rs {
		ms := r.Time.UnixMilli()
		if (q.Since.IsZero() || ms >= q.Since.UnixMilli()) && (q.Until.IsZero() || ms <= q.Until.UnixMilli()) {
			out = append(out, r)
		}
	}
	if q.Limit > 0 && int64(len(out)) > q.Limit {
		out = out[int64(len(out))-q.Limit:]
	}
	return out
}

func TestQueries(t *testing.T) {
	h, c := newHistory(t, Options{})
	rs := fill(h, t0, 7000) // several chunks a series, several pages
	c.t = t0.Add(12 * time.Minute)
	at := func(i int) time.Time { return rs[i].Time }
	for _, q := range []store.Query{
		{},
		{Limit: 1},
		{Limit: 10},
		{Limit: 1000},
		{Limit: 1001},
		{Limit: 3000},
		{Limit: 7000},
		{Limit: 100000},
		{Since: at(5000)},
		{Until: at(2)},
		{Since: at(1000), Until: at(4500)},
		{Since: at(1000), Until: at(4500), Limit: 1500},
		{Since: at(6999).Add(time.Millisecond)},
		{Since: at(1000).Add(-time.Microsecond), Until: at(1000).Add(time.Microsecond)}, // to the millisecond
		{Until: t0.Add(-time.Hour)},
	} {
		t.Run(fmt.Sprintf("since=%v,until=%v,limit=%d", q.Since.Sub(t0), q.Until.Sub(t0), q.Limit), func(t *testing.T) {
			sameJSON(t, "query", query(t, h, q), selectRef(rs, q))
		})
	}
	if err := h.HistoryPages(context.Background(), "other", store.Query{}, func([][]byte) error {
		t.Fatal("readings of another device")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err := h.HistoryPages(context.Background(), dev, store.Query{}, func([][]byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn's error: %v after %d calls", err, calls)
	}
}

func TestWindow(t *testing.T) {
	h, c := newHistory(t, Options{Window: time.Hour})
	rs := fill(h, t0, 3*36000) // 3 hours, the last one hour ago
	c.t = t0.Add(3 * time.Hour)
	// Left out of answers at once, by time, even before a sweep.
	got := query(t, h, store.Query{})
	want := selectRef(rs, store.Query{Since: c.t.Add(-time.Hour)})
	sameJSON(t, "within the window", got, want)
	// The next Add sweeps: whole chunks older than the window go, counted.
	h.Add(reading.Reading{Device: dev, Sensor: "bme", Metric: "temperature", Value: 1, Unit: "Cel", Time: c.t, Seq: 1 << 40})
	st := h.Stats()
	if st.Dropped[DropAge] == 0 || st.Readings+int(st.Dropped[DropAge]) != len(rs)+1 {
		t.Fatalf("stats %+v after 3h of readings in a 1h window", st)
	}
	if st.Readings > len(want)+3*chunkReadings+1 {
		t.Fatalf("kept %d readings, %d in the window", st.Readings, len(want))
	}
	if cut := c.t.Add(-time.Hour - time.Duration(chunkReadings)*300*time.Millisecond); st.Oldest.Before(cut) {
		t.Fatalf("oldest kept %v, window from %v", st.Oldest, c.t.Add(-time.Hour))
	}
}

func TestMemoryBound(t *testing.T) {
	const max = 64 << 10
	h, c := newHistory(t, Options{MaxBytes: max})
	rs := fill(h, t0, 200000)
	c.t = rs[len(rs)-1].Time
	st := h.Stats()
	if st.Bytes > max || st.Bytes < max/2 {
		t.Fatalf("%d bytes held, bound %d", st.Bytes, max)
	}
	if st.Dropped[DropMemory] == 0 || st.Readings+int(st.Dropped[DropMemory]) != len(rs) {
		t.Fatalf("stats %+v", st)
	}
	// The oldest went first: what is left is the newest, whole.
	got := query(t, h, store.Query{})
	if len(got) != st.Readings {
		t.Fatalf("query: %d readings, stats %d", len(got), st.Readings)
	}
	// Each series keeps its newest readings; together, nearly a suffix.
	if first := got[0].Seq; first < uint64(len(rs)-st.Readings-3*chunkReadings) {
		t.Fatalf("oldest kept seq %d of %d, %d kept", first, len(rs), st.Readings)
	}
	sameJSON(t, "newest", got[len(got)-100:], rs[len(rs)-100:])
}

func TestOrder(t *testing.T) {
	h, _ := newHistory(t, Options{})
	r := reading.Reading{Device: dev, Sensor: "s", Metric: "m", Value: 1, Unit: "1", Time: t0, Seq: 5}
	h.Add(r)
	r.Seq = 5
	h.Add(r) // repeated
	r.Seq = 4
	h.Add(r) // back
	r.Device = "other"
	r.Seq = 9
	h.Add(r) // another device's: ignored
	if st := h.Stats(); st.Readings != 1 || st.Dropped[DropOrder] != 2 {
		t.Fatalf("stats %+v", st)
	}
	l, err := h.BootList(context.Background(), dev)
	if err != nil || len(l.Boots) != 0 {
		t.Fatalf("boots without a boot id: %+v %v", l, err)
	}
}

func TestBootList(t *testing.T) {
	h, _ := newHistory(t, Options{Boot: "b-7"})
	if l, _ := h.BootList(context.Background(), dev); len(l.Boots) != 0 {
		t.Fatalf("boots before any reading: %+v", l)
	}
	fill(h, t0, 10)
	l, _ := h.BootList(context.Background(), dev)
	if len(l.Boots) != 1 || l.Boots[0].ID != "b-7" || l.Boots[0].FirstSeq != 1 || !l.Boots[0].Recorded.Equal(t0) {
		t.Fatalf("boots %+v", l)
	}
	if l, _ := h.BootList(context.Background(), "other"); len(l.Boots) != 0 {
		t.Fatalf("boots of another device: %+v", l)
	}
}

// TestQueryNeverHoldsAdd: fn runs without the lock, so a slow client
// reading history never delays the agent's Add.
func TestQueryNeverHoldsAdd(t *testing.T) {
	h, _ := newHistory(t, Options{})
	rs := fill(h, t0, 3000)
	added := make(chan struct{})
	pages := 0
	err := h.HistoryPages(context.Background(), dev, store.Query{}, func([][]byte) error {
		if pages++; pages == 1 {
			go func() {
				for i := range 1000 {
					h.Add(reading.Reading{Device: dev, Sensor: "x", Metric: "m", Value: 1, Unit: "1", Time: t0, Seq: uint64(10000 + i)})
				}
				close(added)
			}()
			select {
			case <-added:
			case <-time.After(time.Minute):
				t.Fatal("Add waited for a query's fn")
			}
		}
		return nil
	})
	if err != nil || pages != 3 {
		t.Fatalf("pages %d, %v", pages, err)
	}
	if got := len(query(t, h, store.Query{})); got != len(rs)+1000 {
		t.Fatalf("%d readings after the adds", got)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, o := range []Options{{Device: ""}, {Device: "a b"}, {Device: "d", Window: -1}, {Device: "d", MaxBytes: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	h, err := New(Options{Device: "d"})
	if err != nil || h.opt.Window != DefaultWindow || h.opt.MaxBytes != DefaultMaxBytes {
		t.Fatalf("defaults: %+v %v", h.opt, err)
	}
}
