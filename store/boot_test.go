package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

func TestRecordBootIsIdempotentAndOrdered(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		at := time.Date(2026, 11, 27, 6, 0, 0, 123e6, time.UTC)
		steps := []struct {
			boot  string
			first uint64
		}{
			{"boot-a", 1},
			{"boot-a", 1}, // the retained status, delivered again
			{"boot-b", 1001},
			{"boot-b", 1001},
			{"boot-a", 1}, // an old boot seen again stays recorded once
			{"boot-c", 2001},
		}
		for i, st := range steps {
			if err := s.RecordBoot(ctx, "pi-1", st.boot, st.first, at.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Boots(ctx, "pi-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Boot{{ID: "boot-a", FirstSeq: 1, Time: at}, {ID: "boot-b", FirstSeq: 1001, Time: at.Add(2 * time.Minute)}, {ID: "boot-c", FirstSeq: 2001, Time: at.Add(5 * time.Minute)}}
		if len(got) != len(want) {
			t.Fatalf("boots %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].FirstSeq != want[i].FirstSeq || !got[i].Time.Equal(want[i].Time) {
				t.Errorf("boot %d: %+v, want %+v", i, got[i], want[i])
			}
			if got[i].Recorded.IsZero() || time.Since(got[i].Recorded) > time.Hour {
				t.Errorf("boot %d recorded at %v, want about now", i, got[i].Recorded)
			}
		}
		if n, err := rdb.Exists(ctx, prefix+":{pi-1}:boots").Result(); err != nil || n != 1 {
			t.Errorf("key %s:{pi-1}:boots: exists %d, %v", prefix, n, err)
		}
		if got, err := s.Boots(ctx, "unknown"); err != nil || len(got) != 0 || got == nil {
			t.Errorf("boots of an unknown device: %#v, %v; want an empty slice", got, err)
		}
	})
}

func TestRecordBootRejects(t *testing.T) {
	s := store.New(shared.Client(t), store.Options{Prefix: fmt.Sprintf("t%d", runs.Add(1))})
	ctx := context.Background()
	for _, tc := range []struct {
		dev, boot string
		first     uint64
	}{{"bad dev", "b", 1}, {"pi", "bad boot", 1}, {"pi", "", 1}, {"pi", "b", 0}} {
		if err := s.RecordBoot(ctx, tc.dev, tc.boot, tc.first, time.Now()); !errors.Is(err, reading.ErrInvalid) {
			t.Errorf("RecordBoot(%q, %q, %d): %v, want ErrInvalid", tc.dev, tc.boot, tc.first, err)
		}
	}
}

func TestRecordBootCapped(t *testing.T) {
	s := store.New(shared.Client(t), store.Options{Prefix: fmt.Sprintf("t%d", runs.Add(1))})
	ctx := context.Background()
	for i := range store.MaxBoots + 500 {
		if err := s.RecordBoot(ctx, "pi", fmt.Sprintf("b%d", i), uint64(i+1), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Boots(ctx, "pi")
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole macro nodes (100 entries by default).
	if len(got) < store.MaxBoots || len(got) > store.MaxBoots+200 {
		t.Fatalf("%d boots kept, want about %d", len(got), store.MaxBoots)
	}
	if last := got[len(got)-1]; last.ID != fmt.Sprintf("b%d", store.MaxBoots+499) {
		t.Errorf("newest boot %s", last.ID)
	}
}

func TestNextSeqs(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		for _, tc := range []struct {
			n    int
			want uint64
		}{{1, 1}, {3, 2}, {1, 5}, {100, 6}} {
			got, err := s.NextSeqs(ctx, "z2m-kitchen", tc.n)
			if err != nil || got != tc.want {
				t.Fatalf("NextSeqs(%d) = %d, %v; want %d", tc.n, got, err, tc.want)
			}
		}
		if v, err := rdb.Get(ctx, prefix+":{z2m-kitchen}:assigned_seq").Result(); err != nil || v != "105" {
			t.Errorf("counter %q, %v; want 105", v, err)
		}
		if _, err := s.NextSeqs(ctx, "z2m-kitchen", 0); err == nil {
			t.Error("NextSeqs(0) did not fail")
		}
		if _, err := s.NextSeqs(ctx, "bad id", 1); !errors.Is(err, reading.ErrInvalid) {
			t.Errorf("NextSeqs of a bad id: %v", err)
		}

		// A device with readings but no counter (lost, or a device that
		// used to number its own) continues after its highest stored seq,
		// so the dedup bitmaps do not drop the new readings.
		if _, err := s.Ingest(ctx, []reading.Reading{mk("tasmota-1", 41, "temperature", 20)}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.NextSeqs(ctx, "tasmota-1", 2); err != nil || got != 42 {
			t.Fatalf("NextSeqs after stored seq 41 = %d, %v; want 42", got, err)
		}
	})
}

// Concurrent callers (several bridges) never get overlapping seqs.
func TestNextSeqsConcurrent(t *testing.T) {
	s := store.New(shared.Client(t), store.Options{Prefix: fmt.Sprintf("t%d", runs.Add(1))})
	ctx := context.Background()
	const workers, calls = 8, 50
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range calls {
				n := 1 + w%3
				first, err := s.NextSeqs(ctx, "dev", n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for q := first; q < first+uint64(n); q++ {
					if seen[q] {
						t.Errorf("seq %d handed out twice", q)
					}
					seen[q] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := 0
	for w := range workers {
		want += calls * (1 + w%3)
	}
	if len(seen) != want {
		t.Fatalf("%d seqs handed out, want %d", len(seen), want)
	}
	for q := uint64(1); q <= uint64(want); q++ {
		if !seen[q] {
			t.Fatalf("seq %d skipped", q)
		}
	}
}
