package history

import (
	"container/heap"
	"context"
	"math"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// HistoryPages implements web.Store: it calls fn with pages of at most
// store.HistoryPage readings of device selected by q, oldest (lowest seq)
// first, each as its canonical JSON, which fn owns. Since and Until select
// by the readings' times, to the millisecond, inclusive; Limit keeps the
// newest Limit of the range. Readings older than the window are left out,
// even before a sweep dropped them. It holds the lock only to take the
// chunks it reads, never while fn runs; readings added meanwhile are not
// included.
func (h *History) HistoryPages(ctx context.Context, device string, q store.Query, fn func(page [][]byte) error) error {
	if device != h.opt.Device {
		return nil
	}
	lo, hi := h.opt.Now().Add(-h.opt.Window).UnixMilli(), int64(math.MaxInt64)
	if !q.Since.IsZero() {
		lo = max(lo, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		hi = q.Until.UnixMilli()
	}
	if lo > hi {
		return nil
	}
	vs := h.views(lo, hi, q.Limit)
	var from uint64 // lowest seq to send
	if q.Limit > 0 {
		from = startSeq(vs, lo, hi, q.Limit)
	}
	m := newMerge(vs, lo, hi, from, true)
	sent := int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := make([]byte, 0, 64<<10)
		var ends []int
		for len(ends) < store.HistoryPage && (q.Limit <= 0 || sent < q.Limit) {
			c, p, ok := m.next()
			if !ok {
				break
			}
			r := reading.Reading{Device: h.opt.Device, Sensor: c.key.sensor, Metric: c.key.metric, Value: p.v, Unit: c.unit,
				Time: time.UnixMilli(p.ms).UTC(), Seq: p.seq}
			buf = r.AppendJSON(buf)
			ends = append(ends, len(buf))
			sent++
		}
		if len(ends) == 0 {
			return nil
		}
		page := make([][]byte, len(ends))
		start := 0
		for i, e := range ends {
			page[i] = buf[start:e:e]
			start = e
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(ends) < store.HistoryPage {
			return nil
		}
	}
}

// views takes, under the lock, the chunks of every series that may hold
// readings timed in [lo, hi], oldest first; with limit > 0, of each series
// only as many of the newest as hold limit readings in the range.
func (h *History) views(lo, hi, limit int64) [][]view {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([][]view, 0, len(h.series))
	for _, s := range h.series {
		var vs []view
		held := int64(0)
		for i := len(s.chunks) - 1; i >= 0 && (limit <= 0 || held < limit); i-- {
			c := s.chunks[i]
			if c.minMS > hi || c.maxMS < lo {
				continue
			}
			vs = append(vs, c.view(s))
			if c.minMS >= lo && c.maxMS <= hi {
				held += int64(c.n)
			}
		}
		if len(vs) == 0 {
			continue
		}
		for i, j := 0, len(vs)-1; i < j; i, j = i+1, j-1 {
			vs[i], vs[j] = vs[j], vs[i]
		}
		out = append(out, vs)
	}
	return out
}

// startSeq walks the range back from its newest reading and returns the
// seq of the limit-th, or 0 when it holds fewer.
func startSeq(vs [][]view, lo, hi, limit int64) uint64 {
	m := newMerge(vs, lo, hi, 0, false)
	var seq uint64
	for n := int64(0); n < limit; n++ {
		_, p, ok := m.next()
		if !ok {
			return 0
		}
		seq = p.seq
	}
	return seq
}

// cursor walks one series' chunks, decoding one at a time.
type cursor struct {
	key  seriesKey
	unit string // of the chunk decoded
	vs   []view
	vi   int // the chunk decoded, in vs
	buf  []point
	bi   int // the current point, in buf
}

// merge walks several series' readings in the range, by seq: forward
// (lowest first, from a seq on) or backward (highest first).
type merge struct {
	cs       []*cursor // a heap by the current point's seq
	fwd      bool
	lo, hi   int64
	from     uint64
	lastUsed *cursor // to advance before the next pop
}

func newMerge(vs [][]view, lo, hi int64, from uint64, fwd bool) *merge {
	m := &merge{fwd: fwd, lo: lo, hi: hi, from: from}
	for _, v := range vs {
		c := &cursor{key: v[0].s.key, vs: v, vi: -1}
		if !fwd {
			c.vi = len(v)
		}
		if m.settle(c, false) {
			m.cs = append(m.cs, c)
		}
	}
	heap.Init(m)
	return m
}

// settle moves c to its next point in the range (past the current one if
// advance), decoding chunks as needed; false when it has none left.
func (m *merge) settle(c *cursor, advance bool) bool {
	if advance {
		if m.fwd {
			c.bi++
		} else {
			c.bi--
		}
	}
	for {
		for c.bi >= 0 && c.bi < len(c.buf) {
			p := c.buf[c.bi]
			if p.ms >= m.lo && p.ms <= m.hi && p.seq >= m.from {
				return true
			}
			if m.fwd {
				c.bi++
			} else {
				c.bi--
			}
		}
		if m.fwd {
			c.vi++
		} else {
			c.vi--
		}
		if c.vi < 0 || c.vi >= len(c.vs) {
			c.buf = nil
			return false
		}
		v := c.vs[c.vi]
		c.unit = v.unit
		c.buf = v.decode(c.buf[:0])
		c.bi = 0
		if !m.fwd {
			c.bi = len(c.buf) - 1
		}
	}
}

// next returns the next reading (its series and point), or false when
// none is left.
func (m *merge) next() (*cursor, point, bool) {
	if c := m.lastUsed; c != nil {
		m.lastUsed = nil
		if m.settle(c, true) {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	if len(m.cs) == 0 {
		return nil, point{}, false
	}
	c := m.cs[0]
	m.lastUsed = c
	return c, c.buf[c.bi], true
}

// heap.Interface, on the cursors' current seqs.
func (m *merge) Len() int { return len(m.cs) }
func (m *merge) Less(i, j int) bool {
	a, b := m.cs[i].buf[m.cs[i].bi].seq, m.cs[j].buf[m.cs[j].bi].seq
	if m.fwd {
		return a < b
	}
	return a > b
}
func (m *merge) Swap(i, j int) { m.cs[i], m.cs[j] = m.cs[j], m.cs[i] }
func (m *merge) Push(x any)    { m.cs = append(m.cs, x.(*cursor)) }
func (m *merge) Pop() any {
	c := m.cs[len(m.cs)-1]
	m.cs = m.cs[:len(m.cs)-1]
	return c
}
