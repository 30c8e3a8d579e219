package spool

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

func TestFIFOAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentSize: 1024, ReadCache: 16})
	rng := rand.New(rand.NewPCG(1, 2))
	var got []reading.Reading
	ctx := context.Background()
	next := uint64(128)
	for next < 2128 {
		k := uint64(1 + rng.IntN(37))
		s.Push(rds(next, next+k-1))
		next += k
		if rng.IntN(3) == 0 {
			rs, err := s.Peek(ctx, 1+rng.IntN(60))
			if err != nil {
				t.Fatal(err)
			}
			// Peek again before committing: the same readings come first.
			again, _ := s.Peek(ctx, len(rs))
			if !slices.Equal(seqs(again), seqs(rs)) {
				t.Fatalf("second Peek = %v, want %v", seqs(again), seqs(rs))
			}
			got = append(got, rs...)
			s.Commit(len(rs))
		}
	}
	got = append(got, drain(t, s, 50)...)
	if want := span64(128, next-1); !slices.Equal(seqs(got), want) {
		t.Fatalf("got %d readings %v..., want %d in order", len(got), seqs(got)[:min(10, len(got))], len(want))
	}
	for _, r := range got {
		if !sameReading(r, rd(r.Seq)) {
			t.Fatalf("reading %d came back as %+v, want %+v", r.Seq, r, rd(r.Seq))
		}
	}
	if n := len(segFiles(t, dir)); n > 2 {
		t.Errorf("%d segment files after draining everything, want at most 2 (acknowledged ones are deleted)", n)
	}
	if st := s.Stats(); st.Readings != 0 || st.Bytes != 0 || !st.Oldest.IsZero() {
		t.Errorf("Stats after draining: %+v", st)
	}
}

func TestReopenReturnsExactlyTheUnacknowledged(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: 4096, Sync: SyncNever}
	s := mustOpen(t, dir, opt)
	s.Push(rds(128, 1127))
	ctx := context.Background()
	rs, _ := s.Peek(ctx, 300)
	s.Commit(len(rs))
	s.Peek(ctx, 50) // in flight, not committed: must come back
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, opt)
	if s.Len() != 700 {
		t.Fatalf("Len after reopen = %d, want 700", s.Len())
	}
	st := s.Stats()
	if want := int64(700 * recordSize(new(rd(500)))); st.Bytes != want {
		t.Errorf("Bytes after reopen = %d, want %d", st.Bytes, want)
	}
	if !st.Oldest.Equal(rd(428).Time) {
		t.Errorf("Oldest = %v, want %v", st.Oldest, rd(428).Time)
	}
	rs, _ = s.Peek(ctx, 100)
	s.Commit(len(rs))
	s.Push(rds(1128, 1200))
	s.Close()

	s = mustOpen(t, dir, opt)
	if got := seqs(drain(t, s, 64)); !slices.Equal(got, span64(528, 1200)) {
		t.Fatalf("after the second reopen got %d readings from %v, want 528..1200", len(got), got[:min(5, len(got))])
	}
	s.Close()
	s = mustOpen(t, dir, opt)
	if s.Len() != 0 {
		t.Fatalf("Len after draining and reopening = %d", s.Len())
	}
}

func TestRoundTripIsExact(t *testing.T) {
	dir := t.TempDir()
	local := time.FixedZone("CET", 3600)
	in := []reading.Reading{
		{Device: "d", Sensor: "s", Metric: "m", Unit: "1", Value: -0.0, Time: time.Date(2000, 1, 1, 0, 0, 0, 1, local), Seq: 1},
		{Device: strings.Repeat("x", 64), Sensor: "ü-sensor", Metric: "pressure", Unit: "Pa", Value: math.MaxFloat64, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Seq: math.MaxUint64},
		{Device: "d", Sensor: "s", Metric: "m", Unit: "1", Value: math.SmallestNonzeroFloat64, Time: time.Now(), Seq: 1 << 40},
		{Value: math.Inf(-1)}, // the spool stores what it is given
	}
	s := mustOpen(t, dir, Options{})
	s.Push(in)
	live := peekAll(t, s)
	s.Close()
	s = mustOpen(t, dir, Options{})
	disk := peekAll(t, s)
	if len(live) != len(in) || len(disk) != len(in) {
		t.Fatalf("got %d live and %d from disk, want %d", len(live), len(disk), len(in))
	}
	for i := range in {
		if !sameReading(live[i], in[i]) || !sameReading(disk[i], in[i]) {
			t.Errorf("reading %d: pushed %+v, live %+v, from disk %+v", i, in[i], live[i], disk[i])
		}
		if live[i].Time.Location() != time.UTC || disk[i].Time.Location() != time.UTC {
			t.Errorf("reading %d: time not in UTC", i)
		}
	}
}

func TestTooLargeIsDropped(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	big := rd(200)
	big.Sensor = strings.Repeat("s", MaxRecordSize)
	if d := s.Push([]reading.Reading{rd(199), big, rd(201)}); d != 1 {
		t.Fatalf("Push dropped %d, want 1", d)
	}
	if got := seqs(peekAll(t, s)); !slices.Equal(got, []uint64{199, 201}) {
		t.Fatalf("queued %v", got)
	}
	if n := s.Stats().Dropped[ReasonTooLarge]; n != 1 {
		t.Fatalf("Dropped[too_large] = %d", n)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestPeekWaitsForPushContextOrClose(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Peek(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Peek on an empty spool with an ended context: %v", err)
	}
	got := make(chan []reading.Reading)
	go func() {
		rs, _ := s.Peek(context.Background(), 10)
		got <- rs
	}()
	s.Push(rds(300, 301))
	if rs := <-got; !slices.Equal(seqs(rs), []uint64{300, 301}) {
		t.Fatalf("waiting Peek got %v", seqs(rs))
	}
	// Queued readings come at once even with an ended context.
	if rs, err := s.Peek(ctx, 10); err != nil || len(rs) != 2 {
		t.Fatalf("Peek with queued readings and an ended context = %v, %v", seqs(rs), err)
	}
	s.Commit(2)
	errc := make(chan error)
	go func() {
		_, err := s.Peek(context.Background(), 1)
		errc <- err
	}()
	s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Peek across Close: %v, want ErrClosed", err)
	}
	if d := s.Push(rds(1, 3)); d != 3 {
		t.Fatalf("Push after Close dropped %d, want 3", d)
	}
}

func TestConcurrentPushPeekCommit(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval} {
		t.Run(string(policy), func(t *testing.T) {
			const pushers, per = 4, 1500
			s := mustOpen(t, t.TempDir(), Options{Sync: policy, SegmentSize: 8192, ReadCache: 64, SyncEvery: time.Millisecond})
			var wg sync.WaitGroup
			for p := range pushers {
				wg.Go(func() {
					dev := string(rune('a' + p))
					for seq := uint64(1); seq <= per; {
						k := min(uint64(1+p*3), per-seq+1)
						rs := rds(seq, seq+k-1)
						for i := range rs {
							rs[i].Device = dev
						}
						if d := s.Push(rs); d != 0 {
							t.Errorf("Push dropped %d", d)
						}
						seq += k
					}
				})
			}
			last := map[string]uint64{}
			total := 0
			for total < pushers*per {
				rs, err := s.Peek(context.Background(), 1+total%97)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					if r.Seq != last[r.Device]+1 {
						t.Fatalf("device %s: seq %d after %d", r.Device, r.Seq, last[r.Device])
					}
					last[r.Device] = r.Seq
				}
				total += len(rs)
				s.Commit(len(rs))
			}
			wg.Wait()
			if s.Len() != 0 {
				t.Fatalf("Len = %d after receiving everything", s.Len())
			}
		})
	}
}

// TestLiveReadingsComeFromMemory checks that a sender keeping up never
// reads the disk.
func TestLiveReadingsComeFromMemory(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{SegmentSize: 1024, ReadCache: 64})
	ctx := context.Background()
	for q := uint64(200); q < 2200; q += 10 {
		s.Push(rds(q, q+9))
		rs, _ := s.Peek(ctx, 500)
		if len(rs) != 10 || rs[0].Seq != q {
			t.Fatalf("Peek = %v, want %d..%d", seqs(rs), q, q+9)
		}
		s.Commit(len(rs))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rd != nil {
		t.Fatalf("the disk reader was opened (on %s) although the sender kept up", s.rd.seg.path)
	}
}

// TestConcurrentWithDrops pushes from several goroutines into a spool too
// small to hold everything while a sender drains it: every reading is
// received once, in order per device, or counted as dropped.
func TestConcurrentWithDrops(t *testing.T) {
	for _, full := range []FullPolicy{DropOldest, DropNewest} {
		t.Run(string(full), func(t *testing.T) {
			const pushers, per = 3, 3000
			s := mustOpen(t, t.TempDir(), Options{Full: full, MaxBytes: 200 * recSize, SegmentSize: 2048, ReadCache: 32})
			var wg sync.WaitGroup
			var mu sync.Mutex
			dropped := 0
			for p := range pushers {
				wg.Go(func() {
					for seq := uint64(200); seq < 200+per; seq += 5 {
						rs := rds(seq, seq+4)
						for i := range rs {
							rs[i].Device = string(rune('a' + p))
						}
						d := s.Push(rs)
						mu.Lock()
						dropped += d
						mu.Unlock()
					}
				})
			}
			// Peek fails only once everything is pushed and the spool is empty.
			ctx, cancel := context.WithCancel(context.Background())
			go func() { wg.Wait(); cancel() }()
			last := map[string]uint64{}
			received := 0
			for {
				rs, err := s.Peek(ctx, 1+received%50)
				if err != nil {
					break
				}
				for _, r := range rs {
					if r.Seq <= last[r.Device] {
						t.Fatalf("device %s: seq %d after %d", r.Device, r.Seq, last[r.Device])
					}
					last[r.Device] = r.Seq
				}
				received += len(rs)
				s.Commit(len(rs))
			}
			st := s.Stats()
			if received+dropped != pushers*per || st.Dropped[ReasonFull] != uint64(dropped) {
				t.Fatalf("received %d + dropped %d != pushed %d (Stats: %v)", received, dropped, pushers*per, st.Dropped)
			}
			t.Logf("received %d, dropped %d", received, dropped)
		})
	}
}

func TestPolicyFlags(t *testing.T) {
	var sp SyncPolicy
	if sp.String() != "interval" {
		t.Errorf("zero SyncPolicy prints %q, want the default interval", sp.String())
	}
	for _, v := range []string{"always", "interval", "never"} {
		if err := sp.Set(v); err != nil || sp.String() != v {
			t.Errorf("Set(%q): %v, now %q", v, err, sp.String())
		}
	}
	var fp FullPolicy
	if fp.String() != "oldest" {
		t.Errorf("zero FullPolicy prints %q, want the default oldest", fp.String())
	}
	for _, v := range []string{"oldest", "newest"} {
		if err := fp.Set(v); err != nil || fp.String() != v {
			t.Errorf("Set(%q): %v, now %q", v, err, fp.String())
		}
	}
	if sp.Set("sometimes") == nil || fp.Set("middle") == nil {
		t.Error("Set accepted an unknown policy")
	}
	for _, opt := range []Options{{Sync: "sometimes"}, {Full: "middle"}, {SegmentSize: 10}} {
		if _, err := Open(t.TempDir(), opt); err == nil {
			t.Errorf("Open accepted %+v", opt)
		}
	}
}
