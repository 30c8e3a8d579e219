package spool

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

func TestByteLimit(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		full     FullPolicy
		peek     int  // readings peeked before overflowing
		oneByOne bool // push the overflow one reading per Push
		dropped  int
		want     []uint64 // queued afterwards, in order
		reopen   []uint64 // queued after Commit(peek), Close and Open
	}{
		{"oldest, nothing in flight", DropOldest, 0, false, 5, span64(205, 214), span64(205, 214)},
		{"oldest, one by one", DropOldest, 0, true, 5, span64(205, 214), span64(205, 214)},
		{"oldest, batch in flight", DropOldest, 3, false, 5, append(span64(200, 202), span64(208, 214)...), span64(208, 214)},
		{"oldest, batch in flight, one by one", DropOldest, 3, true, 5, append(span64(200, 202), span64(208, 214)...), span64(208, 214)},
		{"oldest, all in flight", DropOldest, 10, false, 5, span64(200, 209), nil},
		{"newest", DropNewest, 0, false, 5, span64(200, 209), span64(200, 209)},
		{"newest, batch in flight", DropNewest, 3, true, 5, span64(200, 209), span64(203, 209)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := Options{MaxBytes: 10 * recSize, Full: tc.full, SegmentSize: segHdrSize + 4*recSize}
			s := mustOpen(t, dir, opt)
			if d := s.Push(rds(200, 209)); d != 0 {
				t.Fatalf("filling to the limit dropped %d", d)
			}
			var inFlight []reading.Reading
			if tc.peek > 0 {
				inFlight, _ = s.Peek(ctx, tc.peek)
			}
			dropped := 0
			if tc.oneByOne {
				for q := uint64(210); q <= 214; q++ {
					dropped += s.Push(rds(q, q))
				}
			} else {
				dropped = s.Push(rds(210, 214))
			}
			if dropped != tc.dropped {
				t.Errorf("Push dropped %d, want %d", dropped, tc.dropped)
			}
			st := s.Stats()
			if st.Dropped[ReasonFull] != uint64(tc.dropped) || st.Readings != len(tc.want) || st.Bytes != int64(len(tc.want))*recSize {
				t.Errorf("Stats: Dropped[full] %d, Readings %d, Bytes %d; want %d, %d, %d", st.Dropped[ReasonFull], st.Readings, st.Bytes, tc.dropped, len(tc.want), int64(len(tc.want))*recSize)
			}
			if got := seqs(peekAll(t, s)); !slices.Equal(got, tc.want) {
				t.Fatalf("queued %v, want %v", got, tc.want)
			}
			// The dropped readings stay dropped: commit the batch in flight,
			// which peekAll extended, and reopen.
			s.Commit(len(inFlight))
			s.Close()
			s = mustOpen(t, dir, opt)
			if got := seqs(peekAll(t, s)); !slices.Equal(got, tc.reopen) {
				t.Fatalf("after Commit(%d) and reopening: %v, want %v", len(inFlight), got, tc.reopen)
			}
			if st := s.Stats(); st.Dropped[ReasonCorrupt] != 0 {
				t.Errorf("reopening counted %d readings lost", st.Dropped[ReasonCorrupt])
			}
		})
	}
}

// TestDroppedBehindBatchSurvivesCrash drops readings behind a batch in
// flight and reopens without the batch committed: the batch comes back, the
// dropped readings do not.
func TestDroppedBehindBatchSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	opt := Options{MaxBytes: 10 * recSize, SegmentSize: segHdrSize + 4*recSize}
	s := mustOpen(t, dir, opt)
	s.Push(rds(200, 209))
	s.Peek(context.Background(), 2)
	for q := uint64(210); q < 230; q++ { // drops 202..221, whole segments among them
		if d := s.Push(rds(q, q)); d != 1 {
			t.Fatalf("Push of %d dropped %d, want 1", q, d)
		}
	}
	s.Sync()
	s.tick() // deletes the segments wholly dropped, once the cursor is durable
	// Segments of 4 hold 200..203, 204..207, ... 228..229; the four from
	// 204 to 219 held only dropped readings.
	if n := len(segFiles(t, dir)); n != 4 {
		t.Errorf("%d segment files, want 4: the segments of dropped readings should be deleted", n)
	}
	s.Close()
	s = mustOpen(t, dir, opt)
	want := append([]uint64{200, 201}, span64(222, 229)...)
	if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
		t.Fatalf("after reopening: %v, want %v", got, want)
	}
	if st := s.Stats(); st.Dropped[ReasonCorrupt] != 0 || st.Readings != 10 {
		t.Errorf("after reopening: %+v", st)
	}
}

// clock is a settable test clock.
func TestAgeLimit(t *testing.T) {
	for _, full := range []FullPolicy{DropOldest, DropNewest} {
		t.Run(string(full), func(t *testing.T) {
			ctx := context.Background()
			clk := &sensorstest.Clock{Start: rd(1000).Time}
			dir := t.TempDir()
			opt := Options{MaxAge: 100 * time.Second, Full: full, Now: clk.Now, SegmentSize: segHdrSize + 8*recSize, ReadCache: 4}
			s := mustOpen(t, dir, opt)
			// 850..899 are older than 100 s at push time (t = 1000 s).
			if d := s.Push(rds(850, 949)); d != 50 {
				t.Fatalf("Push dropped %d, want the 50 older than MaxAge", d)
			}
			batch, _ := s.Peek(ctx, 5) // 900..904, in flight
			clk.Set(rd(1030).Time)     // now 900..929 are too old, but 900..904 are in flight
			if d := s.Push(rds(1030, 1030)); d != 25 {
				t.Fatalf("Push at t=1030 dropped %d, want 25 (905..929)", d)
			}
			if s.Len() != 5+20+1 {
				t.Fatalf("Len = %d, want 26: 900..904 in flight, 930..949, 1030", s.Len())
			}
			if again, _ := s.Peek(ctx, 5); !slices.Equal(seqs(again), seqs(batch)) {
				t.Fatalf("Peek again = %v, want the batch in flight %v", seqs(again), seqs(batch))
			}
			s.Commit(len(batch))
			// Peek drops what aged meanwhile, from disk, without a Push.
			clk.Set(rd(1045).Time)
			rs, _ := s.Peek(ctx, 100)
			if want := append(span64(945, 949), 1030); !slices.Equal(seqs(rs), want) {
				t.Fatalf("Peek at t=1045 = %v, want %v", seqs(rs), want)
			}
			st := s.Stats()
			if st.Dropped[ReasonAge] != 50+25+15 || st.Dropped[ReasonFull] != 0 || st.Readings != 6 {
				t.Errorf("Stats: Dropped %v, Readings %d; want age 90, full 0, 6 readings", st.Dropped, st.Readings)
			}
			if !st.Oldest.Equal(rd(945).Time) {
				t.Errorf("Oldest = %v, want %v", st.Oldest, rd(945).Time)
			}
		})
	}
}
