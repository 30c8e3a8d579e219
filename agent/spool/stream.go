package spool

import (
	"errors"
	"io"
	"os"
	"sort"
	"time"
)

// The queue, oldest first, is: the peeked entries (in flight), then the
// stream of readings not in flight: records on disk from rpos up, skipping
// holes, served from the cache once rpos reaches it, then the readings in
// ov that no Peek has taken. Everything here runs under s.mu.

// head returns the oldest reading not in flight, without taking it.
func (s *Spool) head() (entry, bool) {
	for {
		s.rpos = s.skipHoles(s.rpos)
		if s.rpos >= s.writeIdx {
			if i := s.ovHead + s.ovPeeked; i < len(s.ov) {
				return s.ov[i], true
			}
			return entry{}, false
		}
		if s.rpos >= s.cacheLo {
			return s.cacheAt(s.rpos), true
		}
		rec, ok := s.readDisk(s.rpos)
		to := s.cacheLo
		if ok {
			to = rec.idx
		}
		if s.newLoss {
			s.newLoss = false
			s.lose(s.rpos, to)
		}
		s.rpos = to
		if !ok || s.inHole(rec.idx) {
			continue
		}
		return entry{r: rec.r, idx: rec.idx, size: rec.size, onDisk: true}, true
	}
}

// take moves the head of the stream to the end of peeked.
func (s *Spool) take() bool {
	e, ok := s.head()
	if !ok {
		return false
	}
	if e.onDisk {
		s.rpos = e.idx + 1
	} else {
		s.ovPeeked++
	}
	s.peeked = append(s.peeked, e)
	return true
}

// drop removes e, the head of the stream, counting it under reason.
func (s *Spool) drop(e entry, reason int) {
	if e.onDisk {
		s.rpos = e.idx + 1
		if len(s.peeked) == 0 {
			s.updateAck()
		} else {
			s.addHole(e.idx)
		}
	} else {
		s.removeOverflow()
	}
	s.n--
	s.bytes -= int64(e.size)
	s.dropped[reason]++
}

// removeOverflow removes the first entry of ov not in flight, moving the
// ones in flight before it up by one.
func (s *Spool) removeOverflow() {
	h := s.ovHead
	copy(s.ov[h+1:h+1+s.ovPeeked], s.ov[h:h+s.ovPeeked])
	s.ov[h] = entry{}
	s.ovHead++
	if s.ovHead == len(s.ov) {
		s.ov, s.ovHead = s.ov[:0], 0
	}
}

// dropAged drops the oldest readings not in flight while they are older
// than MaxAge, and returns how many.
func (s *Spool) dropAged(now time.Time) (dropped int) {
	if s.opt.MaxAge <= 0 {
		return 0
	}
	cutoff := now.Add(-s.opt.MaxAge)
	for {
		e, ok := s.head()
		if !ok || !e.r.Time.Before(cutoff) {
			return dropped
		}
		s.drop(e, rAge)
		dropped++
	}
}

// addHole records idx, just dropped behind readings in flight, as a hole,
// extending the last hole if no queued reading lies between them.
func (s *Spool) addHole(idx uint64) {
	if k := len(s.holes); k > 0 {
		last := &s.holes[k-1]
		if last.to == idx || last.to < idx && !s.peekedFrom(last.to) {
			last.to = idx + 1
			return
		}
		if idx < last.from {
			// Below a hole of damaged records further on.
			s.insertHole(span{idx, idx + 1})
			return
		}
	}
	s.holes = append(s.holes, span{idx, idx + 1})
}

// insertHole adds sp to the holes, keeping them ordered and merging those
// that overlap or touch.
func (s *Spool) insertHole(sp span) {
	if sp.from >= sp.to {
		return
	}
	i := sort.Search(len(s.holes), func(i int) bool { return s.holes[i].to >= sp.from })
	j := i
	for j < len(s.holes) && s.holes[j].from <= sp.to {
		sp.from, sp.to = min(sp.from, s.holes[j].from), max(sp.to, s.holes[j].to)
		j++
	}
	s.holes = append(s.holes[:i], append([]span{sp}, s.holes[j:]...)...)
}

// peekedFrom reports whether a record in flight has an index >= idx.
func (s *Spool) peekedFrom(idx uint64) bool {
	for i := len(s.peeked) - 1; i >= 0; i-- {
		if s.peeked[i].onDisk {
			return s.peeked[i].idx >= idx
		}
	}
	return false
}

func (s *Spool) skipHoles(i uint64) uint64 {
	for _, h := range s.holes {
		if i >= h.from && i < h.to {
			i = h.to
		}
	}
	return i
}

func (s *Spool) inHole(i uint64) bool {
	for _, h := range s.holes {
		if i >= h.from && i < h.to {
			return true
		}
	}
	return false
}

// queuedIn counts the indices in [from, to) that are neither acknowledged
// nor dropped.
func (s *Spool) queuedIn(from, to uint64) uint64 {
	from = max(from, s.ack)
	if from >= to {
		return 0
	}
	n := to - from
	for _, h := range s.holes {
		if lo, hi := max(h.from, from), min(h.to, to); lo < hi {
			n -= hi - lo
		}
	}
	return n
}

// lose counts the queued readings in [from, to) as lost to damage found
// after Open.
func (s *Spool) lose(from, to uint64) {
	q := int(s.queuedIn(from, to))
	if q == 0 {
		return
	}
	q = min(q, s.n-len(s.peeked))
	if s.n > 0 {
		s.bytes -= s.bytes / int64(s.n) * int64(q) // their sizes are unknown
	}
	s.n -= q
	s.dropped[rCorrupt] += uint64(q)
	s.insertHole(span{max(from, s.ack), to}) // not counted again after a restart
	s.opt.Logger.Warn("spool: damaged records skipped", "dir", s.dir, "lost", q, "from_index", from)
}

// updateAck moves ack to the oldest queued reading and forgets the holes
// below it.
func (s *Spool) updateAck() {
	var a uint64
	switch {
	case len(s.peeked) > 0 && s.peeked[0].onDisk:
		a = s.peeked[0].idx
	case len(s.peeked) > 0:
		a = s.writeIdx
	default:
		a = min(s.skipHoles(s.rpos), s.writeIdx)
	}
	if a <= s.ack {
		return
	}
	s.ack = a
	k := 0
	for _, h := range s.holes {
		if h.to <= a {
			continue
		}
		h.from = max(h.from, a)
		s.holes[k] = h
		k++
	}
	s.holes = s.holes[:k]
}

// saveCursor writes the cursor if it changed (a pwrite; fsync'd later):
// the ack, the holes, the index written up to and the drop counters. It
// runs after every Push, Peek, Commit and tick, so a count survives a kill
// -9 from the moment it is known, and a power loss once fsync'd (within
// SyncEvery, or by Close).
func (s *Spool) saveCursor() {
	if s.cur == nil {
		return
	}
	holes := s.holes[:min(len(s.holes), maxHoles)]
	c := cursorState{gen: s.curAt.gen + 1, ack: s.ack, holes: holes, written: s.writeIdx, dropped: s.dropped}
	if c.same(s.curAt) {
		return
	}
	c.holes = append([]span(nil), holes...)
	if err := writeCursor(s.cur, c); err != nil {
		s.recordErr(err)
		return
	}
	s.curAt = c
	s.curDirty = true
}

func equalSpans(a, b []span) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// deleteAcked deletes the segments every reading of which is acknowledged.
// The cursor on disk may lag behind: recovery treats indices below the
// oldest segment as acknowledged, so this is safe.
func (s *Spool) deleteAcked() {
	for len(s.segs) > 1 && s.segs[1].base <= s.ack && (s.w == nil || s.segs[0] != s.w.seg) {
		s.removeSegment(0)
	}
}

// holeSegments returns the segments, other than the one being written,
// whose indices all lie in a hole the cursor file holds.
func (s *Spool) holeSegments() []*segment {
	var out []*segment
	for i := 0; i+1 < len(s.segs); i++ {
		lo, hi := s.segs[i].base, s.segs[i+1].base
		for _, h := range s.curAt.holes {
			if h.from <= lo && hi <= h.to {
				out = append(out, s.segs[i])
				break
			}
		}
	}
	return out
}

func (s *Spool) removeSegment(i int) {
	seg := s.segs[i]
	if s.rd != nil && s.rd.seg == seg {
		s.rd.close()
		s.rd = nil
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.opt.Logger.Warn("spool: delete acknowledged segment", "path", seg.path, "err", err)
	}
	s.segs = append(s.segs[:i], s.segs[i+1:]...)
}

// cacheAt returns the cached entry of index i, cacheLo <= i < writeIdx.
func (s *Spool) cacheAt(i uint64) entry {
	return s.cache[(s.cacheHd+int(i-s.cacheLo))%len(s.cache)]
}

// cachePut caches e, just written with index writeIdx, evicting the oldest.
func (s *Spool) cachePut(e entry) {
	if s.cacheN == len(s.cache) {
		s.cache[s.cacheHd] = entry{}
		s.cacheHd = (s.cacheHd + 1) % len(s.cache)
		s.cacheLo++
		s.cacheN--
	}
	s.cache[(s.cacheHd+s.cacheN)%len(s.cache)] = e
	s.cacheN++
}

// segFor returns the segment that holds index i if any does: the last
// whose base is <= i, or the first.
func (s *Spool) segFor(i uint64) *segment {
	if len(s.segs) == 0 {
		return nil
	}
	k := sort.Search(len(s.segs), func(k int) bool { return s.segs[k].base > i })
	return s.segs[max(k-1, 0)]
}

func (s *Spool) segAfter(seg *segment) *segment {
	for i, g := range s.segs {
		if g == seg && i+1 < len(s.segs) {
			return s.segs[i+1]
		}
	}
	return nil
}

// readDisk returns the first valid record with an index >= i (and below
// cacheLo, unless records are missing), reading forward.
func (s *Spool) readDisk(i uint64) (record, bool) {
	if s.hasLook {
		if s.look.idx >= i {
			return s.look, true
		}
		s.hasLook = false
	}
	if s.rd == nil || s.rd.lo > i || s.rd.seg != s.segFor(i) {
		seg := s.segFor(i)
		for seg != nil && !s.openReader(seg) {
			seg = s.segAfter(seg)
		}
		if seg == nil {
			return record{}, false
		}
	}
	for {
		rec, err := s.rd.next()
		if s.rd.skipped {
			s.newLoss = true
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.recordReadErr(err)
			}
			next := s.segAfter(s.rd.seg)
			for next != nil && next.base < s.cacheLo && !s.openReader(next) {
				next = s.segAfter(next)
			}
			if next == nil || next.base >= s.cacheLo {
				return record{}, false
			}
			continue
		}
		if rec.idx < i {
			continue
		}
		s.look, s.hasLook = rec, true
		return rec, true
	}
}

// openReader points rd at the start of seg.
func (s *Spool) openReader(seg *segment) bool {
	s.rd.close()
	s.rd = nil
	limit := ^uint64(0)
	if next := s.segAfter(seg); next != nil {
		limit = next.base
	}
	rd, err := openSegReader(seg, limit, s.in)
	if err != nil {
		s.recordReadErr(err)
		return false
	}
	s.rd = rd
	return true
}

// recordReadErr handles a segment that cannot be read: the rest of it is
// treated as damaged, so the spool moves on instead of stalling.
func (s *Spool) recordReadErr(err error) {
	s.lastErr, s.lastErrAt = err, s.opt.Now()
	s.opt.Logger.Error("spool: read failed; skipping the rest of the segment", "dir", s.dir, "err", err)
	if s.rd != nil {
		seg := s.rd.seg
		seg.bad = append(seg.bad, span{uint64(s.rd.off), uint64(max(seg.end, s.rd.off))})
		s.rd.off = seg.end
	}
	s.newLoss = true
}
