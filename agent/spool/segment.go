package spool

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tributary-iot/tributary/reading"
)

const segSuffix = ".seg"

// segment is one segment file. Its records have indices from base up to
// (not including) the next segment's base.
type segment struct {
	base uint64
	path string
	// end is the offset after the last valid record; the reader reads no
	// further. For the segment being written it is the write offset.
	end int64
	// bad are byte ranges inside [segHdrSize, end) known not to hold valid
	// records (found by recovery or by the reader), skipped when reading.
	bad []span
}

func segName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

// listSegments returns the segment files of dir, oldest first.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var segs []*segment
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		base, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || segName(base) != name {
			continue
		}
		segs = append(segs, &segment{base: base, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(segs, func(a, b *segment) int { return cmp.Compare(a.base, b.base) })
	return segs, nil
}

// record is one valid record read from a segment.
type record struct {
	idx  uint64
	off  int64 // offset in its segment
	size int   // header and payload
	r    reading.Reading
}

// segReader reads the records of one segment in order through a buffer, with
// pread so that the file may grow underneath. It skips known bad ranges, and
// on a record that does not check it searches forward for the next one that
// does (resynchronisation), recording the skipped range.
type segReader struct {
	seg   *segment
	f     *os.File
	off   int64 // next record
	limit uint64
	// lo is the lowest index a record may have to be accepted: one past
	// the last record read, as indices grow along a segment.
	lo     uint64
	buf    []byte
	bufOff int64 // file offset of buf[0]
	in     interner
	// skipped is set when the last next skipped bytes not already known
	// bad; the range is appended to seg.bad.
	skipped bool
	// countOnly makes next check records without decoding their readings
	// (record.r stays zero): recovery needs only indices and sizes.
	countOnly bool
}

const readBufSize = 64 << 10

func openSegReader(seg *segment, limit uint64, in interner) (*segReader, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	return &segReader{seg: seg, f: f, off: segHdrSize, limit: limit, lo: seg.base, in: in}, nil
}

func (sr *segReader) close() {
	if sr != nil && sr.f != nil {
		sr.f.Close()
	}
}

// window returns the bytes [off, off+n) of the file (fewer at its end),
// reading only when the buffer does not hold them.
func (sr *segReader) window(off int64, n int) ([]byte, error) {
	if off >= sr.bufOff && off+int64(n) <= sr.bufOff+int64(len(sr.buf)) {
		return sr.buf[off-sr.bufOff : off-sr.bufOff+int64(n)], nil
	}
	if sr.buf == nil {
		sr.buf = make([]byte, readBufSize)
	}
	sr.buf = sr.buf[:cap(sr.buf)]
	if end := sr.seg.end; end > 0 && off+int64(len(sr.buf)) > end {
		sr.buf = sr.buf[:max(end-off, int64(n), 0)]
	}
	k, err := sr.f.ReadAt(sr.buf, off)
	sr.buf, sr.bufOff = sr.buf[:k], off
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("spool: read %s: %w", sr.seg.path, err)
	}
	return sr.buf[:min(n, k)], nil
}

// at checks for a valid record at off: its payload, if it is one.
func (sr *segReader) at(off int64) ([]byte, bool, error) {
	if off+recHdrSize > sr.seg.end {
		return nil, false, nil
	}
	h, err := sr.window(off, recHdrSize)
	if err != nil || len(h) < recHdrSize {
		return nil, false, err
	}
	n := int(binary.LittleEndian.Uint32(h))
	if n < minPayload || n > maxPayload || off+int64(recHdrSize+n) > sr.seg.end {
		return nil, false, nil
	}
	b, err := sr.window(off, recHdrSize+n)
	if err != nil {
		return nil, false, err
	}
	if _, ok := checkRecord(b); !ok {
		return nil, false, nil
	}
	idx := sr.seg.base + uint64(recordDelta(b))
	if idx < sr.lo || idx >= sr.limit {
		return nil, false, nil
	}
	return b[recHdrSize : recHdrSize+n], true, nil
}

// next returns the next valid record, or io.EOF at the segment's end.
func (sr *segReader) next() (record, error) {
	sr.skipped = false
	for {
		for _, b := range sr.seg.bad {
			if uint64(sr.off) >= b.from && uint64(sr.off) < b.to {
				sr.off = int64(b.to)
			}
		}
		if sr.off >= sr.seg.end {
			return record{}, io.EOF
		}
		p, ok, err := sr.at(sr.off)
		if err != nil {
			return record{}, err
		}
		if ok {
			rec := record{idx: sr.seg.base + uint64(binary.LittleEndian.Uint32(p)), off: sr.off, size: recHdrSize + len(p)}
			var derr error
			if !sr.countOnly {
				_, rec.r, derr = decodePayload(p, sr.in)
			}
			if derr == nil {
				sr.off += int64(rec.size)
				sr.lo = rec.idx + 1
				return rec, nil
			}
		}
		// Not a record: search forward for the next one.
		from := sr.off
		to, err := sr.resync(from + 1)
		if err != nil {
			return record{}, err
		}
		sr.seg.bad = append(sr.seg.bad, span{uint64(from), uint64(to)})
		slices.SortFunc(sr.seg.bad, func(a, b span) int { return cmp.Compare(a.from, b.from) })
		sr.skipped = true
		sr.off = to
	}
}

// resync returns the offset of the first valid record at or after off, or
// the segment's end.
func (sr *segReader) resync(off int64) (int64, error) {
	for ; off+recHdrSize+minPayload <= sr.seg.end; off++ {
		p, ok, err := sr.at(off)
		if err != nil {
			return 0, err
		}
		if ok {
			if _, _, derr := decodePayload(p, sr.in); derr == nil {
				return off, nil
			}
		}
	}
	return sr.seg.end, nil
}
