package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// maxChunk bounds one write call, in bytes.
const maxChunk = 1 << 20

// flush writes the readings waiting in ov, oldest first, rotating segments
// as they fill. On an error the readings not written stay in ov, in order.
// It runs under s.mu.
func (s *Spool) flush() error {
	for s.ovHead < len(s.ov) {
		if s.w == nil {
			if err := s.newSegment(); err != nil {
				return err
			}
		} else if s.w.off > segHdrSize && s.w.off+int64(s.ov[s.ovHead].size) > s.opt.SegmentSize {
			s.rotate()
			continue
		}
		buf, k := s.wbuf[:0], 0
		for i := s.ovHead; i < len(s.ov); i++ {
			e := &s.ov[i]
			if k > 0 && (s.w.off+int64(len(buf)+e.size) > s.opt.SegmentSize || len(buf)+e.size > maxChunk) {
				break
			}
			buf = appendRecord(buf, &e.r, uint32(s.writeIdx+uint64(k)-s.w.seg.base))
			k++
		}
		s.wbuf = buf
		n, err := s.w.f.WriteAt(buf, s.w.off)
		done, doneBytes := 0, 0
		for done < k && doneBytes+s.ov[s.ovHead+done].size <= n {
			doneBytes += s.ov[s.ovHead+done].size
			done++
		}
		s.written(done, doneBytes)
		if err != nil {
			if n > doneBytes {
				// Do not leave part of a record behind the last whole one;
				// if this fails too, the next write overwrites it.
				s.w.f.Truncate(s.w.off)
			}
			return fmt.Errorf("spool: %w", err) // a *PathError: names the segment
		}
	}
	if cap(s.wbuf) > 4*maxChunk {
		s.wbuf = nil
	}
	return nil
}

// written accounts for the first done readings of ov, which now fill the
// next doneBytes bytes of the segment being written.
func (s *Spool) written(done, doneBytes int) {
	if done == 0 {
		return
	}
	inFlight := min(done, s.ovPeeked)
	for t := range done {
		e := &s.ov[s.ovHead+t]
		e.idx, e.onDisk = s.writeIdx+uint64(t), true
		s.cachePut(*e)
		if t < inFlight {
			s.peeked[len(s.peeked)-s.ovPeeked+t] = *e
		}
		*e = entry{}
	}
	if inFlight > 0 {
		s.rpos = s.writeIdx + uint64(inFlight)
		s.ovPeeked -= inFlight
	}
	s.ovHead += done
	if s.ovHead == len(s.ov) {
		s.ov, s.ovHead = s.ov[:0], 0
	} else if s.ovHead > 1024 && s.ovHead > len(s.ov)/2 {
		k := copy(s.ov, s.ov[s.ovHead:])
		clear(s.ov[k:])
		s.ov, s.ovHead = s.ov[:k], 0
	}
	s.writeIdx += uint64(done)
	s.w.off += int64(doneBytes)
	s.w.seg.end = s.w.off
	s.writeSeq++
}

// flushReport flushes, recording a failure or the recovery from one.
func (s *Spool) flushReport() error {
	err := s.flush()
	switch {
	case err != nil:
		s.recordErr(err)
		s.failing = true
	case s.failing:
		s.failing = false
		s.opt.Logger.Info("spool: writes recovered", "dir", s.dir, "write_errors", s.writeErrors)
	}
	return err
}

// newSegment creates the segment whose first index is writeIdx and makes
// it the one written.
func (s *Spool) newSegment() error {
	base := s.writeIdx
	path := filepath.Join(s.dir, segName(base))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.WriteAt(segHeader(base), 0); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: create segment: %w", err)
	}
	seg := &segment{base: base, path: path, end: segHdrSize}
	if k := len(s.segs); k > 0 && s.segs[k-1].base == base {
		s.segs[k-1] = seg
	} else {
		s.segs = append(s.segs, seg)
	}
	s.w = &writer{seg: seg, f: f, off: segHdrSize}
	s.dirDirty = true
	s.writeSeq++
	return nil
}

// rotate retires the segment being written; the next flush creates a new
// one. Its file is fsync'd (unless SyncNever) and closed by the next sync.
func (s *Spool) rotate() {
	s.unsynced = append(s.unsynced, s.w.f)
	s.w = nil
}

// syncData fsyncs what was written (segments, and the directory after
// segments were created) and closes retired segment files. With fsync
// false (SyncNever's background passes) it only closes them. Concurrent
// Pushes under SyncAlways that wrote before it started are released when
// it ends: this is the group commit.
func (s *Spool) syncData(fsync bool) error {
	// One pass at a time: a pass must not report writes as synced while
	// another pass still fsyncs the files it took.
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	target := s.writeSeq
	retired := s.unsynced
	s.unsynced = nil
	var cur *os.File
	if s.w != nil && target > s.syncedSeq {
		cur = s.w.f
	}
	dir := s.dirDirty && s.dirFile != nil
	if fsync {
		s.dirDirty = false
	}
	s.mu.Unlock()

	var errs []error
	for _, f := range retired {
		if fsync {
			errs = append(errs, s.fsync(f))
		}
		f.Close()
	}
	if fsync {
		if cur != nil {
			errs = append(errs, s.fsync(cur))
		}
		if dir {
			errs = append(errs, s.fsync(s.dirFile))
		}
	}
	err := errors.Join(errs...)

	s.mu.Lock()
	if err != nil {
		s.recordErr(fmt.Errorf("spool: fsync: %w", err))
	}
	if fsync && target > s.syncedSeq {
		s.syncedSeq = target
	}
	s.synced.Broadcast()
	s.mu.Unlock()
	return err
}

// syncCursor fsyncs the cursor file if it was written since its last
// fsync.
func (s *Spool) syncCursor() error {
	s.mu.Lock()
	f, dirty := s.cur, s.curDirty
	s.curDirty = false
	s.mu.Unlock()
	if !dirty || f == nil {
		return nil
	}
	if err := s.fsync(f); err != nil {
		s.mu.Lock()
		s.curDirty = true
		s.recordErr(fmt.Errorf("spool: fsync cursor: %w", err))
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Spool) fsync(f *os.File) error {
	start := time.Now()
	err := f.Sync()
	s.fsyncHist.Observe(time.Since(start).Seconds())
	s.mu.Lock()
	s.fsyncs++
	s.mu.Unlock()
	return err
}

// run is the background goroutine: group commits under SyncAlways, and
// every SyncEvery the periodic work (tick).
func (s *Spool) run() {
	defer close(s.stopped)
	t := time.NewTicker(s.opt.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
			// Let the Pushes the last pass released write again first, so
			// that this pass covers them too.
			runtime.Gosched()
			s.syncData(true)
		case <-t.C:
			s.tick()
		}
	}
}

// tick retries writes that failed, drops readings past MaxAge, fsyncs by
// the policy and deletes the segments that only dropped readings held.
func (s *Spool) tick() {
	s.mu.Lock()
	if s.ovHead < len(s.ov) {
		s.flushReport()
		s.limitMemory()
	}
	s.dropAged(s.opt.Now())
	s.saveCursor()
	s.deleteAcked()
	s.mu.Unlock()

	never := s.opt.Sync == SyncNever
	s.syncData(!never)
	if !never {
		s.syncCursor()
	}

	// A segment wholly inside a hole goes once the cursor recording the
	// hole is durable, so that recovery never mistakes the gap for damage.
	s.mu.Lock()
	if never || !s.curDirty {
		for _, seg := range s.holeSegments() {
			for i, g := range s.segs {
				if g == seg {
					s.removeSegment(i)
					break
				}
			}
		}
	}
	s.mu.Unlock()
}
