package spool

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recSize is the record size of every rd(seq) for seq in 128..16383.
var recSize = int64(recordSize(new(rd(200))))

// writeSpool pushes seqs from..to into a new spool in dir and closes it.
func writeSpool(t *testing.T, dir string, opt Options, from, to uint64) {
	t.Helper()
	s := mustOpen(t, dir, opt)
	s.Push(rds(from, to))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patch(t, path, off, []byte{b[off] ^ 0x5a})
}

func TestTornTailIsTruncated(t *testing.T) {
	lastRec := segHdrSize + 9*recSize // offset of the 10th record
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, seg string)
		keep   uint64 // readings kept of the 10
		cut    int64  // bytes truncated
	}{
		{"cut mid-record", func(t *testing.T, seg string) { os.Truncate(seg, lastRec+recSize/2) }, 9, recSize / 2},
		{"cut in the header", func(t *testing.T, seg string) { os.Truncate(seg, lastRec+3) }, 9, 3},
		{"garbage after the last record", func(t *testing.T, seg string) {
			patch(t, seg, lastRec+recSize, []byte("\x17garbage that is not a record\xff\xfe"))
		}, 10, 31},
		{"zeros after the last record", func(t *testing.T, seg string) { patch(t, seg, lastRec+recSize, make([]byte, 4096)) }, 10, 4096},
		{"payload byte flipped", func(t *testing.T, seg string) { flip(t, seg, lastRec+recSize-3) }, 9, recSize},
		{"checksum byte flipped", func(t *testing.T, seg string) { flip(t, seg, lastRec+5) }, 9, recSize},
		{"length too large", func(t *testing.T, seg string) { patch(t, seg, lastRec, u32(1<<30)) }, 9, recSize},
		{"length too small", func(t *testing.T, seg string) { patch(t, seg, lastRec, u32(minPayload)) }, 9, recSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSpool(t, dir, Options{}, 200, 209)
			segs := segFiles(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v, want one", segs)
			}
			tc.damage(t, segs[0])

			s := mustOpen(t, dir, Options{})
			want := span64(200, 199+tc.keep)
			if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
				t.Fatalf("after recovery got %v, want %v", got, want)
			}
			st := s.Stats()
			if st.TornTails != 1 || st.TruncatedBytes != tc.cut || st.Dropped[ReasonCorrupt] != 0 || st.Dropped[ReasonTruncated] != 10-tc.keep {
				t.Errorf("TornTails %d, TruncatedBytes %d, Dropped[corrupt] %d, Dropped[truncated] %d; want 1, %d, 0, %d",
					st.TornTails, st.TruncatedBytes, st.Dropped[ReasonCorrupt], st.Dropped[ReasonTruncated], tc.cut, 10-tc.keep)
			}
			if size := fileSize(t, segs[0]); size != segHdrSize+int64(tc.keep)*recSize {
				t.Errorf("segment is %d bytes after recovery, want %d", size, segHdrSize+int64(tc.keep)*recSize)
			}
			// New readings go after the kept ones and survive a reopen.
			s.Push(rds(300, 309))
			s.Close()
			s = mustOpen(t, dir, Options{})
			if got := seqs(peekAll(t, s)); !slices.Equal(got, append(want, span64(300, 309)...)) {
				t.Fatalf("after pushing more and reopening got %v", got)
			}
			if st := s.Stats(); st.TornTails != 0 || st.Dropped[ReasonCorrupt] != 0 || st.Dropped[ReasonTruncated] != 10-tc.keep {
				t.Errorf("second recovery found damage or forgot the count: %+v", st)
			}
		})
	}
}

func TestDamageInOlderSegmentsSkipsOnlyTheDamagedRecords(t *testing.T) {
	segSize := segHdrSize + 10*recSize // ten records a segment
	off := func(rec int64) int64 { return segHdrSize + rec*recSize }
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name   string
		commit int // committed before the damage
		damage func(t *testing.T, segs []string)
		lost   []uint64
	}{
		{"payload byte", 0, func(t *testing.T, segs []string) { flip(t, segs[0], off(3)+10) }, []uint64{203}},
		{"length field", 0, func(t *testing.T, segs []string) { patch(t, segs[0], off(3), u32(100)) }, []uint64{203}},
		{"length field zero", 0, func(t *testing.T, segs []string) { patch(t, segs[1], off(0), u32(0)) }, []uint64{210}},
		{"three records overwritten", 0, func(t *testing.T, segs []string) { patch(t, segs[1], off(2)+4, make([]byte, 2*recSize+9)) }, []uint64{212, 213, 214}},
		{"older segment cut short", 0, func(t *testing.T, segs []string) { os.Truncate(segs[2], off(5)+7) }, span64(225, 229)},
		{"segment file missing", 0, func(t *testing.T, segs []string) { os.Remove(segs[3]) }, span64(230, 239)},
		{"segment header", 0, func(t *testing.T, segs []string) { flip(t, segs[1], 2) }, nil},
		{"damage in acknowledged records", 5, func(t *testing.T, segs []string) { flip(t, segs[0], off(2)+10) }, nil},
		{"damage straddling the ack", 5, func(t *testing.T, segs []string) { patch(t, segs[0], off(3)+4, make([]byte, 3*recSize)) }, []uint64{205, 206}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := Options{SegmentSize: segSize}
			s := mustOpen(t, dir, opt)
			s.Push(rds(200, 249))
			rs, _ := s.Peek(context.Background(), tc.commit)
			s.Commit(len(rs[:tc.commit]))
			s.Close()
			segs := segFiles(t, dir)
			if len(segs) != 5 {
				t.Fatalf("segments %v, want 5", segs)
			}
			tc.damage(t, segs)

			s = mustOpen(t, dir, opt)
			var want []uint64
			for q := uint64(200 + tc.commit); q <= 249; q++ {
				if !slices.Contains(tc.lost, q) {
					want = append(want, q)
				}
			}
			if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			st := s.Stats()
			if st.Dropped[ReasonCorrupt] != uint64(len(tc.lost)) || st.TornTails != 0 || st.Readings != len(want) {
				t.Errorf("Dropped[corrupt] %d, TornTails %d, Readings %d; want %d, 0, %d", st.Dropped[ReasonCorrupt], st.TornTails, st.Readings, len(tc.lost), len(want))
			}
			// The damage is still there after a restart: the count stays,
			// and is not counted again.
			s.Close()
			s = mustOpen(t, dir, opt)
			if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
				t.Fatalf("after a restart got %v\nwant %v", got, want)
			}
			if st := s.Stats(); st.Dropped[ReasonCorrupt] != uint64(len(tc.lost)) || st.Readings != len(want) {
				t.Errorf("after a restart Dropped[corrupt] %d, Readings %d; want %d, %d", st.Dropped[ReasonCorrupt], st.Readings, len(tc.lost), len(want))
			}
		})
	}
}

func TestDamageFoundWhileReading(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: segHdrSize + 10*recSize}
	writeSpool(t, dir, opt, 200, 249)
	s := mustOpen(t, dir, opt)
	if st := s.Stats(); st.Readings != 50 || st.Dropped[ReasonCorrupt] != 0 {
		t.Fatalf("clean reopen: %+v", st)
	}
	flip(t, segFiles(t, dir)[2], segHdrSize+4*recSize+12) // seq 224, in the page cache the reader reads
	got := seqs(drain(t, s, 7))
	want := slices.DeleteFunc(span64(200, 249), func(q uint64) bool { return q == 224 })
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if st := s.Stats(); st.Dropped[ReasonCorrupt] != 1 || st.Readings != 0 || st.Bytes != 0 {
		t.Errorf("after draining: Dropped[corrupt] %d, Readings %d, Bytes %d; want 1, 0, 0", st.Dropped[ReasonCorrupt], st.Readings, st.Bytes)
	}
	s.Close()
	s = mustOpen(t, dir, opt)
	if st := s.Stats(); st.Dropped[ReasonCorrupt] != 1 {
		t.Errorf("after a restart Dropped[corrupt] %d, want 1", st.Dropped[ReasonCorrupt])
	}
}

// TestDamageFoundWhileReadingNotCountedTwice: damage found by the reader,
// then a restart before the sender got past it: the next Open finds it
// again and must not count it again.
func TestDamageFoundWhileReadingNotCountedTwice(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: segHdrSize + 10*recSize}
	writeSpool(t, dir, opt, 200, 249)
	s := mustOpen(t, dir, opt)
	flip(t, segFiles(t, dir)[2], segHdrSize+4*recSize+12) // seq 224
	ctx := context.Background()
	for range 3 { // peek 200..229 and commit 200..219: 224 is found, the batch after it is in flight
		rs, _ := s.Peek(ctx, 10)
		if rs[0].Seq < 220 {
			s.Commit(len(rs))
		}
	}
	if st := s.Stats(); st.Dropped[ReasonCorrupt] != 1 {
		t.Fatalf("Dropped[corrupt] %d after reading past the damage, want 1", st.Dropped[ReasonCorrupt])
	}
	s.Close()
	s = mustOpen(t, dir, opt)
	want := slices.DeleteFunc(span64(220, 249), func(q uint64) bool { return q == 224 })
	if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
		t.Fatalf("after a restart got %v\nwant %v", got, want)
	}
	if st := s.Stats(); st.Dropped[ReasonCorrupt] != 1 {
		t.Errorf("after a restart Dropped[corrupt] %d, want 1", st.Dropped[ReasonCorrupt])
	}
}

func TestDamagedCursor(t *testing.T) {
	opt := Options{SegmentSize: segHdrSize + 10*recSize}
	setup := func(t *testing.T) (dir string, cursor string) {
		dir = t.TempDir()
		s := mustOpen(t, dir, opt)
		s.Push(rds(200, 249))
		ctx := context.Background()
		for _, n := range []int{15, 3} { // ack 215, then 218
			rs, _ := s.Peek(ctx, n)
			s.Commit(len(rs))
		}
		s.Close()
		return dir, filepath.Join(dir, "cursor")
	}
	t.Run("both slots", func(t *testing.T) {
		dir, cursor := setup(t)
		patch(t, cursor, 0, make([]byte, 2*slotSize))
		s := mustOpen(t, dir, opt)
		// Segment 200..209 was deleted; everything still on disk is sent again.
		if got := seqs(peekAll(t, s)); !slices.Equal(got, span64(210, 249)) {
			t.Fatalf("got %v, want 210..249", got)
		}
		if st := s.Stats(); st.Dropped[ReasonCorrupt] != 0 || st.LastError == nil {
			t.Errorf("Stats: %+v; want no loss and the damage reported", st)
		}
	})
	t.Run("newest slot", func(t *testing.T) {
		dir, cursor := setup(t)
		b, _ := os.ReadFile(cursor)
		newest := 0
		a, _ := decodeSlot(b[:slotSize])
		c, _ := decodeSlot(b[slotSize:])
		if c.gen > a.gen {
			newest = 1
		}
		if ack := max(a.ack, c.ack); ack != 18 {
			t.Fatalf("cursor ack %d, want 18", ack)
		}
		flip(t, cursor, int64(newest*slotSize+20))
		s := mustOpen(t, dir, opt)
		// The previous cursor said 215: five readings are sent again.
		if got := seqs(peekAll(t, s)); !slices.Equal(got, span64(215, 249)) {
			t.Fatalf("got %v, want 215..249", got)
		}
	})
}

// TestNothingAckedIsNotDamage: a spool closed before anything was
// acknowledged (the uplink was down all along) reopens with its cursor
// slots still zero: that is a cursor never written, not a damaged one.
func TestNothingAckedIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	s.Push(rds(1, 20))
	s.Close()
	s = mustOpen(t, dir, Options{})
	if got := seqs(peekAll(t, s)); !slices.Equal(got, span64(1, 20)) {
		t.Fatalf("got %v, want 1..20", got)
	}
	if st := s.Stats(); st.LastError != nil {
		t.Fatalf("reopening a spool with nothing acknowledged reports %v", st.LastError)
	}
}
