// Package history is the edge agent's bounded, in-memory history of its own
// readings, so that the edge can serve its dashboard (package web) with the
// uplink down: a [web.Store] answering the same queries, with the same
// JSON, as the cloud's Redis.
//
// Each series (sensor and metric) keeps its readings in chunks of up to
// 1024, delta-encoded (see chunk.go): about 4 bytes a reading for the
// rounded values sensors report, so 10 sensors at 1 Hz over 24 hours take
// about 4 MB (BenchmarkDay measures it). Readings older than
// Options.Window, and the oldest chunks beyond Options.MaxBytes, are
// dropped, a chunk at a time, and counted.
//
// History is ordered by seq, as the cloud's is by arrival; since and until
// select by the readings' own times (the agent's clock), inclusive, to the
// millisecond. It holds one device's readings: others are refused.
package history

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Defaults of Options.
const (
	DefaultWindow   = 24 * time.Hour
	DefaultMaxBytes = 32 << 20
)

// Options configure a History. The zero value of every field but Device is
// usable.
type Options struct {
	// Device is the id of the device whose readings it keeps. Required.
	Device string
	// Boot is the agent's boot id, listed by BootList with the seq of the
	// first reading added. Default "": no boots.
	Boot string
	// Window is how long readings are kept, by their times. Default
	// DefaultWindow (24h).
	Window time.Duration
	// MaxBytes bounds the memory the readings take (their chunks, as
	// counted by Stats.Bytes); beyond it, the oldest chunk goes. Default
	// DefaultMaxBytes (32 MiB).
	MaxBytes int64
	// Now is the clock of the window and of LastSeen. Default time.Now.
	Now func() time.Time
}

// Reasons readings were dropped, the keys of Stats.Dropped.
const (
	DropAge    = "age"    // older than the window
	DropMemory = "memory" // the oldest beyond MaxBytes
	DropOrder  = "order"  // a seq not after its series' newest: the agent never does that
)

// Indices of History.dropped.
const (
	dropAge = iota
	dropMemory
	dropOrder
)

// History is a device's recent readings in memory. It is safe for
// concurrent use; Add never waits for a query's caller (queries copy what
// they need under a short lock and decode outside it).
type History struct {
	opt Options

	mu       sync.Mutex
	series   map[seriesKey]*series
	bytes    int64 // chunks' sizes
	readings int
	lastSeq  uint64
	lastSeen time.Time // by Now, of the newest reading added
	firstSeq uint64    // of the first reading added: this boot's
	booted   time.Time // by Now, when the first reading was added
	swept    time.Time // last sweep of the window
	dropped  [3]uint64 // by reason: age, memory, order
}

type seriesKey struct{ sensor, metric string }

// series is one sensor's metric: its chunks, oldest first, and its newest
// reading.
type series struct {
	key    seriesKey
	chunks []*chunk
	latest reading.Reading
}

// New returns an empty history of opt.Device.
func New(opt Options) (*History, error) {
	if !reading.ValidID(opt.Device) {
		return nil, fmt.Errorf("history: device id %q is not valid", opt.Device)
	}
	if opt.Window < 0 || opt.MaxBytes < 0 {
		return nil, fmt.Errorf("history: negative window %v or memory bound %d", opt.Window, opt.MaxBytes)
	}
	opt.Window = cmp.Or(opt.Window, DefaultWindow)
	opt.MaxBytes = cmp.Or(opt.MaxBytes, DefaultMaxBytes)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &History{opt: opt, series: map[seriesKey]*series{}}, nil
}

// Add keeps r, a valid reading of the device stamped by the agent (seq
// growing). A reading of another device is ignored; one whose seq is not
// after its series' newest is dropped and counted (DropOrder). It takes
// microseconds and never waits for a query.
func (h *History) Add(r reading.Reading) {
	if r.Device != h.opt.Device {
		return
	}
	now := h.opt.Now()
	ms := r.Time.UnixMilli()
	h.mu.Lock()
	defer h.mu.Unlock()
	k := seriesKey{r.Sensor, r.Metric}
	s := h.series[k]
	if s == nil {
		s = &series{key: k}
		h.series[k] = s
	}
	var last *chunk
	if n := len(s.chunks); n > 0 {
		last = s.chunks[n-1]
		if r.Seq <= last.lastSeq {
			h.dropped[dropOrder]++
			return
		}
	}
	if last != nil && last.add(ms, r.Seq, r.Value, r.Unit) {
		h.recount(last)
	} else {
		var scale int8
		if last != nil {
			last.seal()
			h.recount(last)
			scale = max(last.scale, 0)
		}
		c := newChunk(r.Unit, r.Value, scale)
		c.add(ms, r.Seq, r.Value, r.Unit) // a new chunk takes any reading
		s.chunks = append(s.chunks, c)
		h.recount(c)
	}
	h.readings++
	s.latest = r
	if h.firstSeq == 0 {
		h.firstSeq, h.booted = r.Seq, now
	}
	h.lastSeq = max(h.lastSeq, r.Seq)
	h.lastSeen = now
	if now.Sub(h.swept) >= time.Second || now.Before(h.swept) {
		h.swept = now
		h.dropOld(now)
	}
	for h.bytes > h.opt.MaxBytes && h.dropOldest(dropMemory) {
	}
}

// recount brings c's size into the memory count. Called with mu held.
func (h *History) recount(c *chunk) {
	d := c.size() - c.counted
	h.bytes += d
	c.counted += d
}

// dropOld drops the chunks whose newest reading is older than the
// window. Called with mu held.
func (h *History) dropOld(now time.Time) {
	cutoff := now.Add(-h.opt.Window).UnixMilli()
	for _, s := range h.series {
		for len(s.chunks) > 0 && s.chunks[0].maxMS < cutoff {
			h.dropFirst(s, dropAge)
		}
	}
}

// dropOldest drops the oldest chunk of all (by its first seq), counting
// its readings under reason; it reports false when there is none. Called
// with mu held.
func (h *History) dropOldest(reason int) bool {
	var oldest *series
	for _, s := range h.series {
		if len(s.chunks) > 0 && (oldest == nil || s.chunks[0].firstSeq < oldest.chunks[0].firstSeq) {
			oldest = s
		}
	}
	if oldest == nil {
		return false
	}
	h.dropFirst(oldest, reason)
	return true
}

// dropFirst drops s's oldest chunk. Called with mu held.
func (h *History) dropFirst(s *series, reason int) {
	c := s.chunks[0]
	s.chunks[0] = nil
	s.chunks = s.chunks[1:]
	if len(s.chunks) == 0 {
		s.chunks = nil // let the backing array go
	}
	h.bytes -= c.counted
	h.readings -= c.n
	h.dropped[reason] += uint64(c.n)
}

// Stats is a snapshot of a history's state.
type Stats struct {
	Readings int               `json:"readings"`  // kept
	Series   int               `json:"series"`    // sensor and metric pairs seen
	Bytes    int64             `json:"bytes"`     // memory their chunks take, as bounded by MaxBytes
	MaxBytes int64             `json:"max_bytes"` // Options.MaxBytes
	Window   time.Duration     `json:"window_ns"` // Options.Window
	Oldest   time.Time         `json:"oldest,omitzero"`
	Dropped  map[string]uint64 `json:"dropped"` // by reason (DropAge, DropMemory, DropOrder)
}

// Stats returns the history's state.
func (h *History) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Readings: h.readings, Series: len(h.series), Bytes: h.bytes, MaxBytes: h.opt.MaxBytes, Window: h.opt.Window,
		Dropped: map[string]uint64{DropAge: h.dropped[dropAge], DropMemory: h.dropped[dropMemory], DropOrder: h.dropped[dropOrder]}}
	oldest := int64(0)
	for _, s := range h.series {
		if len(s.chunks) > 0 && (oldest == 0 || s.chunks[0].minMS < oldest) {
			oldest = s.chunks[0].minMS
		}
	}
	if oldest != 0 {
		st.Oldest = time.UnixMilli(oldest).UTC()
	}
	return st
}

// DevicesPage implements web.Store: the device, once it has a reading,
// with the newest reading of each series (by sensor, then metric), when
// after sorts before it.
func (h *History) DevicesPage(_ context.Context, after string, _ int) (store.DevicePage, error) {
	p := store.DevicePage{Devices: []store.Device{}}
	if h.opt.Device <= after {
		return p, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.series) == 0 {
		return p, nil
	}
	d := store.Device{ID: h.opt.Device, LastSeen: h.lastSeen, LastSeq: h.lastSeq, Latest: make([]reading.Reading, 0, len(h.series))}
	for _, s := range h.series {
		d.Latest = append(d.Latest, s.latest)
	}
	slices.SortFunc(d.Latest, func(a, b reading.Reading) int {
		return cmp.Or(cmp.Compare(a.Sensor, b.Sensor), cmp.Compare(a.Metric, b.Metric))
	})
	p.Devices = append(p.Devices, d)
	return p, nil
}

// BootList implements web.Store: this boot (Options.Boot), once a reading
// has been added, with the seq of the first and, as Recorded, when it was
// added. Its start time is not known here (zero).
func (h *History) BootList(_ context.Context, device string) (store.BootList, error) {
	l := store.BootList{Boots: []store.Boot{}}
	h.mu.Lock()
	defer h.mu.Unlock()
	if device == h.opt.Device && h.opt.Boot != "" && h.firstSeq != 0 {
		l.Boots = append(l.Boots, store.Boot{ID: h.opt.Boot, FirstSeq: h.firstSeq, Recorded: h.booted.UTC().Truncate(time.Millisecond)})
	}
	return l, nil
}
