package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// recover opens the directory's files and rebuilds the queue's state from
// them: the cursor says what was acknowledged, a scan of every segment
// finds the valid records (counting them and the readings lost to damage),
// and a new segment is started for writing, so that no record is ever
// appended after bytes of unknown state.
func (s *Spool) recover() error {
	dirFile, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", s.dir, err)
	}
	s.dirFile = dirFile
	cur, cs, found, corrupt, err := openCursor(filepath.Join(s.dir, "cursor"))
	if err != nil {
		return err
	}
	s.cur, s.curAt = cur, cs
	s.ack, s.holes = cs.ack, append([]span(nil), cs.holes...)
	s.dropped = cs.dropped
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	// Zeroed slots are a cursor never written (nothing acknowledged yet),
	// unless segments were already deleted as acknowledged: then the
	// cursor's bytes were lost.
	if !found && !corrupt && len(segs) > 0 && segs[0].base > 0 {
		corrupt = true
	}
	switch {
	case corrupt:
		s.lastErr = errors.New("spool: ack cursor damaged")
		s.opt.Logger.Warn("spool: the ack cursor is damaged; everything in the spool will be sent again (the uplink drops repeats), and the drop counters it kept start again from zero", "dir", s.dir)
	case !found && len(segs) > 0:
		s.opt.Logger.Info("spool: nothing acknowledged yet; everything in the spool will be sent", "dir", s.dir, "segments", len(segs))
	}
	if len(segs) > 0 && s.ack < segs[0].base {
		// Segments below were deleted once acknowledged; a cursor that
		// lags behind them (its last write was not fsync'd) only says so
		// late.
		s.ack = segs[0].base
		s.holes = nil
	}

	expect := s.ack
	records := make([]int, len(segs))
	for i, seg := range segs {
		limit := ^uint64(0)
		if i+1 < len(segs) {
			limit = segs[i+1].base
		}
		if i == 0 {
			expect = seg.base
		}
		if seg.base > expect {
			s.lostAtOpen(expect, seg.base)
		}
		expect = max(expect, seg.base)
		n, next, err := s.scanSegment(seg, limit, expect, i == len(segs)-1)
		if err != nil {
			return err
		}
		records[i], expect = n, next
	}
	// Readings written after the last record found were cut from the end
	// (the newest segment truncated, or lost whole): the cursor says how
	// far writing went. Their indices are reused from here on, and the
	// cursor saved below records the new end with the count, so that no
	// later Open counts them again.
	if cs.written > expect {
		if q := s.queuedIn(expect, cs.written); q > 0 {
			s.dropped[rTruncated] += q
			s.opt.Logger.Warn("spool: readings written before a crash are missing from the end of the spool; they are lost", "dir", s.dir, "lost", q, "from_index", expect)
		}
	}
	s.writeIdx = max(expect, s.ack)
	k := 0
	for _, h := range s.holes {
		if h.from < s.writeIdx {
			h.to = min(h.to, s.writeIdx)
			s.holes[k] = h
			k++
		}
	}
	s.holes = s.holes[:k]

	// Delete what no reading needs: segments fully acknowledged or in a
	// hole (once the cursor saying so is durable), and a newest segment
	// with no valid record.
	synced := false
	for i, seg := range segs {
		hi := s.writeIdx
		if i+1 < len(segs) {
			hi = segs[i+1].base
		}
		inHole := false
		for _, h := range s.holes {
			inHole = inHole || h.from <= seg.base && hi <= h.to
		}
		if inHole && !synced {
			if err := s.cur.Sync(); err != nil {
				return fmt.Errorf("spool: fsync cursor: %w", err)
			}
			synced = true
		}
		if hi <= s.ack || inHole || i == len(segs)-1 && records[i] == 0 {
			if err := os.Remove(seg.path); err != nil {
				return fmt.Errorf("spool: delete segment: %w", err)
			}
			continue
		}
		s.segs = append(s.segs, seg)
	}
	s.rpos = s.ack
	s.cacheLo = s.writeIdx
	if err := s.newSegment(); err != nil {
		// A full disk must not keep the agent from starting: readings
		// wait in memory and the creation is retried.
		s.recordErr(err)
		s.failing = true
	}
	s.saveCursor()
	if s.dropped != cs.dropped && s.opt.Sync != SyncNever {
		// Losses found now are counted durably before anything else.
		if err := s.cur.Sync(); err != nil {
			s.recordErr(fmt.Errorf("spool: fsync cursor: %w", err))
		} else {
			s.curDirty = false
		}
	}
	s.opt.Logger.Info("spool: opened", "dir", s.dir, "readings", s.n, "bytes", s.bytes,
		"segments", len(s.segs), "next_index", s.writeIdx, "torn_tails", s.tornTails)
	var lost []any
	for i, n := range s.dropped {
		if n > 0 {
			lost = append(lost, reasonNames[i], n)
		}
	}
	if len(lost) > 0 {
		s.opt.Logger.Warn("spool: readings dropped over the spool's life, by reason (tributary_edge_spool_dropped_total)",
			append([]any{"dir", s.dir}, lost...)...)
	}
	return nil
}

// scanSegment reads every record of seg, which may hold indices from
// expect up to limit, counting the queued ones and the ones lost between
// valid records. It truncates a damaged tail if seg is the newest segment.
// It returns the valid records found and the index after the last.
func (s *Spool) scanSegment(seg *segment, limit, expect uint64, newest bool) (records int, next uint64, err error) {
	st, err := os.Stat(seg.path)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: recover: %w", err)
	}
	size := st.Size()
	seg.end = size
	sr, err := openSegReader(seg, limit, s.in)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: recover: %w", err)
	}
	defer sr.close()
	if h, err := sr.window(0, segHdrSize); err == nil && size >= segHdrSize {
		if base, ok := parseSegHeader(h); !ok || base != seg.base {
			s.opt.Logger.Warn("spool: segment header damaged; reading its records anyway", "path", seg.path)
		}
	}
	sr.lo = expect
	sr.countOnly = true
	lastEnd := int64(segHdrSize)
	for {
		rec, err := sr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.opt.Logger.Error("spool: recover: read failed; skipping the rest of the segment", "path", seg.path, "err", err)
			seg.bad = append(seg.bad, span{uint64(sr.off), uint64(max(size, sr.off))})
			break
		}
		if rec.idx > expect {
			s.lostAtOpen(expect, rec.idx)
		}
		expect = rec.idx + 1
		records++
		if rec.idx >= s.ack && !s.inHole(rec.idx) {
			s.n++
			s.bytes += int64(rec.size)
		}
		lastEnd = rec.off + int64(rec.size)
	}
	if size > lastEnd {
		kept := seg.bad[:0]
		for _, b := range seg.bad {
			if int64(b.from) < lastEnd {
				kept = append(kept, b)
			}
		}
		seg.bad = kept
		seg.end = lastEnd
		if newest {
			// A write torn by a crash (or never completed): its readings
			// were not acknowledged under SyncAlways.
			if err := os.Truncate(seg.path, lastEnd); err != nil {
				return 0, 0, fmt.Errorf("spool: truncate torn tail: %w", err)
			}
			s.tornTails++
			s.truncated += size - lastEnd
			s.opt.Logger.Warn("spool: truncated a torn write at the end of the newest segment", "path", seg.path, "bytes", size-lastEnd)
		} else {
			s.opt.Logger.Warn("spool: segment ends in damaged bytes", "path", seg.path, "bytes", size-lastEnd)
		}
	}
	for _, b := range seg.bad {
		s.opt.Logger.Warn("spool: skipped damaged bytes", "path", seg.path, "offset", b.from, "bytes", b.to-b.from)
	}
	return records, expect, nil
}

// lostAtOpen counts the queued readings in [from, to), which recovery found
// missing, as lost, and makes them a hole, so that the next Open, which
// will find them missing again, does not count them again.
func (s *Spool) lostAtOpen(from, to uint64) {
	if q := s.queuedIn(from, to); q > 0 {
		s.dropped[rCorrupt] += q
		s.insertHole(span{max(from, s.ack), to})
		s.opt.Logger.Warn("spool: readings lost to damaged records", "dir", s.dir, "lost", q, "from_index", from)
	}
}
