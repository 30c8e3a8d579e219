package history

import (
	"encoding/binary"
	"math"
)

// A chunk holds up to chunkReadings consecutive readings of one series,
// delta-encoded: per reading, the change of its time (zigzag varint, ms),
// of its seq (uvarint) and of its value. A value is a decimal mantissa at
// the chunk's scale (value = m / 10^scale, zigzag varint of the change of
// m) when that gives back the very same float64 bits, as it does for the
// rounded values sensors report; otherwise the chunk stores raw float64
// bits (scale rawScale). About 4 bytes a reading at 1 Hz.
//
// Only the series' newest chunk is appended to. Appending never changes
// the bytes already written, so a query may decode data[:len] it read
// under the lock after releasing it.
type chunk struct {
	unit         string
	scale        int8  // decimal places of the mantissas, or rawScale
	n            int   // readings
	firstMS      int64 // time of the first reading
	minMS, maxMS int64 // range of the readings' times
	firstSeq     uint64
	lastSeq      uint64
	// The previous reading, the base of the next delta.
	prevMS int64
	prevM  int64
	data   []byte
	// counted is the size the history counts for it (History.recount).
	counted int64
}

const (
	// chunkReadings is the most readings a chunk holds.
	chunkReadings = 1024
	// chunkOverhead is about what a chunk costs besides its data, for the
	// memory accounting: the struct, its pointer in the series.
	chunkOverhead = 112
	// rawScale marks a chunk of raw float64 values.
	rawScale = -1
	// maxScale is the most decimal places tried.
	maxScale = 9
	// firstCap is the capacity of a new chunk's data.
	firstCap = 256
)

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// mantissa returns m with m/10^scale == v to the bit, if there is one
// small enough to be exact.
func mantissa(v float64, scale int8) (int64, bool) {
	if scale < 0 {
		return 0, false
	}
	f := math.Round(v * pow10[scale])
	if math.Abs(f) > 1<<53 {
		return 0, false
	}
	m := int64(f)
	return m, math.Float64bits(float64(m)/pow10[scale]) == math.Float64bits(v)
}

// scaleOf is the fewest decimal places that hold v exactly, or rawScale.
func scaleOf(v float64) int8 {
	for s := int8(0); s <= maxScale; s++ {
		if _, ok := mantissa(v, s); ok {
			return s
		}
	}
	return rawScale
}

// newChunk starts a chunk for a reading of unit and value v, at least at
// scale min (a series' scale only grows, so that its chunks stay long).
func newChunk(unit string, v float64, min int8) *chunk {
	s := scaleOf(v)
	if s != rawScale && s < min {
		if _, ok := mantissa(v, min); ok {
			s = min
		}
	}
	return &chunk{unit: unit, scale: s, data: make([]byte, 0, firstCap)}
}

// add appends a reading; it reports false, appending nothing, when the
// chunk is full or cannot hold it exactly (another unit, a value not at
// its scale).
func (c *chunk) add(ms int64, seq uint64, v float64, unit string) bool {
	if c.n >= chunkReadings || unit != c.unit {
		return false
	}
	var m int64
	if c.scale != rawScale {
		var ok bool
		if m, ok = mantissa(v, c.scale); !ok {
			return false
		}
	}
	if c.n == 0 {
		c.firstMS, c.minMS, c.maxMS, c.prevMS, c.firstSeq, c.lastSeq = ms, ms, ms, ms, seq, seq
	}
	c.data = binary.AppendVarint(c.data, ms-c.prevMS)
	c.data = binary.AppendUvarint(c.data, seq-c.lastSeq)
	if c.scale == rawScale {
		c.data = binary.LittleEndian.AppendUint64(c.data, math.Float64bits(v))
	} else {
		c.data = binary.AppendVarint(c.data, m-c.prevM)
		c.prevM = m
	}
	c.prevMS, c.lastSeq = ms, seq
	c.minMS, c.maxMS = min(c.minMS, ms), max(c.maxMS, ms)
	c.n++
	return true
}

// seal trims a chunk that takes no more readings to its size.
func (c *chunk) seal() {
	if cap(c.data) > len(c.data) {
		c.data = append(make([]byte, 0, len(c.data)), c.data...)
	}
}

// size is what the chunk counts for in the memory bound.
func (c *chunk) size() int64 { return int64(cap(c.data)) + chunkOverhead }

// point is one decoded reading of a series.
type point struct {
	ms  int64
	seq uint64
	v   float64
}

// view is what a query needs of a chunk, taken under the lock: its data
// then never changes.
type view struct {
	s            *series
	unit         string
	scale        int8
	n            int
	firstSeq     uint64
	firstMS      int64
	minMS, maxMS int64
	data         []byte
}

func (c *chunk) view(s *series) view {
	return view{s: s, unit: c.unit, scale: c.scale, n: c.n, firstSeq: c.firstSeq, firstMS: c.firstMS, minMS: c.minMS, maxMS: c.maxMS, data: c.data[:len(c.data):len(c.data)]}
}

// decode appends the chunk's readings to dst, oldest first.
func (v view) decode(dst []point) []point {
	b := v.data
	ms, seq, m := v.firstMS, v.firstSeq, int64(0)
	for i := 0; i < v.n; i++ {
		dms, k := binary.Varint(b)
		b = b[k:]
		dseq, k := binary.Uvarint(b)
		b = b[k:]
		ms += dms
		seq += dseq
		var val float64
		if v.scale == rawScale {
			val = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		} else {
			dm, k := binary.Varint(b)
			b = b[k:]
			m += dm
			val = float64(m) / pow10[v.scale]
		}
		dst = append(dst, point{ms: ms, seq: seq, v: val})
	}
	return dst
}
