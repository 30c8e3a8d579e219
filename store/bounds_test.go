package store_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// deviceMemory sums MEMORY USAGE of device's keys but its history stream
// (capped by MaxLen on its own), and returns their names.
func deviceMemory(t *testing.T, rdb redis.UniversalClient, prefix, device string) (int64, []string) {
	t.Helper()
	ctx := context.Background()
	var total int64
	var names []string
	iter := rdb.Scan(ctx, 0, prefix+":{"+device+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasSuffix(k, ":readings") {
			continue
		}
		n, err := rdb.MemoryUsage(ctx, k).Result()
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %v", k, err)
		}
		total += n
		names = append(names, k)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return total, names
}

// TestDedupMemoryBounded: seqs spread 65,536 apart cost one 8 KiB dedup
// block each in the old keyspace (200 readings: 1.6 MB). Whatever seqs a
// device sends, its dedup state stays under a fixed bound.
func TestDedupMemoryBounded(t *testing.T) {
	ctx := context.Background()
	rdb := shared.Client(t)
	prefix := fmt.Sprintf("t%d_bounded", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix, MaxLen: 10})
	// The dedup bitmap holds at most 8 KiB; Redis allocates up to twice what
	// a growing string needs, rounded to the allocator's size classes.
	const bound = 24 << 10
	for _, c := range []struct {
		dev string
		seq func(i uint64) uint64
	}{
		{"rising", func(i uint64) uint64 { return 65535 + i*65536 }},
		{"falling", func(i uint64) uint64 { return math.MaxUint64 - i*65536 }},
		{"zigzag", func(i uint64) uint64 { return 65535 + (i%2)*(1<<40) + i*65536 }},
		{"dense-then-far", func(i uint64) uint64 { return 1 + i*4099 + (i/50)*(1<<33) }},
	} {
		for i := range uint64(200) {
			if _, err := s.Ingest(ctx, []reading.Reading{mk(c.dev, c.seq(i), "temperature", float64(i))}); err != nil {
				t.Fatal(err)
			}
		}
		n, names := deviceMemory(t, rdb, prefix, c.dev)
		t.Logf("%s: %d keys, %d bytes", c.dev, len(names), n)
		if n > bound {
			t.Errorf("%s: %d keys hold %d bytes of state, want at most %d (%v...)", c.dev, len(names), n, bound, names[:min(5, len(names))])
		}
	}
}

// TestSeqsNearMaxStayExact: seqs past 2^53 lose precision as Lua numbers;
// the store compares them exactly.
func TestSeqsNearMaxStayExact(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		base := uint64(1) << 60
		for _, seq := range []uint64{base + 1, base + 100, base + 99} {
			if res, err := s.Ingest(ctx, []reading.Reading{mk("big", seq, "temperature", 1)}); err != nil || res.Stored != 1 {
				t.Fatalf("ingest %d: %+v, %v", seq, res, err)
			}
		}
		if last, err := s.LastSeq(ctx, "big"); err != nil || last != base+100 {
			t.Fatalf("LastSeq = %d, %v; want %d", last, err, base+100)
		}
		// The top of the range: distinct, deduplicated, in order.
		top := []reading.Reading{mk("top", math.MaxUint64-1, "temperature", 1), mk("top", math.MaxUint64, "temperature", 2)}
		if res, err := s.Ingest(ctx, top); err != nil || res.Stored != 2 {
			t.Fatalf("ingest top: %+v, %v", res, err)
		}
		if res, err := s.Ingest(ctx, top); err != nil || res.Stored != 0 || res.Duplicates != 2 {
			t.Fatalf("ingest top again: %+v, %v", res, err)
		}
		if last, err := s.LastSeq(ctx, "top"); err != nil || last != math.MaxUint64 {
			t.Fatalf("LastSeq = %d, %v; want %d", last, err, uint64(math.MaxUint64))
		}
	})
}

// TestFutureTimeDoesNotFreezeLatest: a reading stamped a year ahead must
// not stay a series' latest value over the readings that follow it.
func TestFutureTimeDoesNotFreezeLatest(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		now := time.Now().UTC().Truncate(time.Millisecond)
		ahead := mk("clock", 1, "temperature", 99)
		ahead.Time = now.Add(365 * 24 * time.Hour)
		fresh := mk("clock", 2, "temperature", 21)
		fresh.Time = now
		for _, r := range []reading.Reading{ahead, fresh} {
			if _, err := s.Ingest(ctx, []reading.Reading{r}); err != nil {
				t.Fatal(err)
			}
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 || len(devs[0].Latest) != 1 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
		if got := devs[0].Latest[0]; got.Value != 21 {
			t.Fatalf("latest = %+v, want the reading stamped now (21), not the one a year ahead", got)
		}
	})
}

// TestDedupWindowRefusesLateRepeats: behind the window a reading is
// refused with a reason, counted per device, and never stored.
func TestDedupWindowRefusesLateRepeats(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		const high = 1_000_000
		newest := mk("w", high, "temperature", 1)
		newest.Time = time.Now().UTC()
		if res, err := s.Ingest(ctx, []reading.Reading{newest}); err != nil || res.Stored != 1 {
			t.Fatalf("ingest: %+v, %v", res, err)
		}
		inside := mk("w", high-(store.DedupSeqs-4096), "temperature", 2)
		behind := mk("w", high-store.DedupSeqs, "temperature", 3)
		for _, r := range []*reading.Reading{&inside, &behind} {
			r.Time = newest.Time.Add(-time.Hour) // late: made before the newest
		}
		res, err := s.Ingest(ctx, []reading.Reading{behind, inside, behind})
		if err != nil || res.Stored != 1 || res.Duplicates != 0 || res.Refused != 2 ||
			fmt.Sprint(res.Refusals) != "[{0 too_old} {2 too_old}]" || fmt.Sprint(res.StoredIndex) != "[1]" {
			t.Fatalf("ingest = %+v, %v", res, err)
		}
		if res, err := s.Ingest(ctx, []reading.Reading{inside}); err != nil || res.Duplicates != 1 {
			t.Fatalf("repeat inside the window = %+v, %v", res, err)
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 || devs[0].Refused[store.RefusedTooOld] != 2 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
		if got := streamSeqs(t, s, "w"); fmt.Sprint(got) != fmt.Sprint([]uint64{high, inside.Seq}) {
			t.Fatalf("stream = %v", got)
		}
	})
}

// TestSeqRestartOpensNewWindow: an agent that lost its state dir and could
// not learn its last seq starts again at 1 (or from its clock); its new
// readings, stamped after every stored one, are stored, not refused.
func TestSeqRestartOpensNewWindow(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
		at := func(seq uint64, d time.Duration) reading.Reading {
			r := mk("rs", seq, "temperature", float64(seq))
			r.Time = t0.Add(d)
			return r
		}
		for _, r := range []reading.Reading{at(math.MaxUint64, 0), at(1, time.Second), at(2, 2*time.Second)} {
			if res, err := s.Ingest(ctx, []reading.Reading{r}); err != nil || res.Stored != 1 {
				t.Fatalf("ingest seq %d: %+v, %v", r.Seq, res, err)
			}
		}
		// Repeats in the new window are repeats. A late reading from before
		// the restart with a seq above the new window is taken for new (the
		// old window is forgotten); the restarted seqs then open a window
		// again, since they are stamped after every stored reading.
		res, err := s.Ingest(ctx, []reading.Reading{at(1, time.Second), at(2, 2*time.Second), at(5_000_000, -time.Minute), at(3, 3*time.Second)})
		if err != nil || res.Stored != 2 || res.Duplicates != 2 || res.Refused != 0 {
			t.Fatalf("ingest = %+v, %v", res, err)
		}
		if last, err := s.LastSeq(ctx, "rs"); err != nil || last != math.MaxUint64 {
			t.Fatalf("LastSeq = %d, %v", last, err)
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 || devs[0].Latest[0].Seq != 3 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
	})
}

// TestFutureRefusedWithReason: the limit is Options.MaxFuture, published by
// the cloud; a reading within it is stored.
func TestFutureRefusedWithReason(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix, MaxFuture: time.Hour})
		now := time.Now().UTC()
		near, far := mk("f", 1, "temperature", 1), mk("f", 2, "temperature", 2)
		near.Time, far.Time = now.Add(50*time.Minute), now.Add(70*time.Minute)
		res, err := s.Ingest(ctx, []reading.Reading{far, near})
		if err != nil || res.Stored != 1 || res.Refused != 1 || fmt.Sprint(res.Refusals) != "[{0 future}]" {
			t.Fatalf("ingest = %+v, %v", res, err)
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 || devs[0].Refused[store.RefusedFuture] != 1 || devs[0].Latest[0].Seq != 1 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
		// No limit at all, when asked for.
		free := store.New(rdb, store.Options{Prefix: prefix, MaxFuture: -1})
		if res, err := free.Ingest(ctx, []reading.Reading{far}); err != nil || res.Stored != 1 {
			t.Fatalf("ingest without a limit = %+v, %v", res, err)
		}
	})
}

// TestIngestScriptChecksItsArguments: a device allowed to run the ingest
// script itself cannot make it allocate at will or write half a batch.
func TestIngestScriptChecksItsArguments(t *testing.T) {
	ctx := context.Background()
	rdb := shared.Client(t)
	prefix := fmt.Sprintf("t%d_args", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	if _, err := s.Ingest(ctx, []reading.Reading{mk("a", 1, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	sha, err := rdb.ScriptLoad(ctx, store.IngestScript()).Result()
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{prefix + ":{a}:readings", prefix + ":{a}:latest", prefix + ":{a}:latest_ts", prefix + ":{a}:dedup", prefix + ":{a}:dedup_head"}
	good := []any{"2", "sim/temperature", time.Now().UnixMilli(), `{"ok":1}`}
	for _, bad := range [][]any{
		{"18446744073709551616", "sim/temperature", 1, "{}"},
		{"007", "sim/temperature", 1, "{}"},
		{"-1", "sim/temperature", 1, "{}"},
		{"3", "sim/temperature", "soon", "{}"},
	} {
		args := append([]any{"ch", 100, 0, 60, 600000, 2}, good...)
		args = append(args, bad...)
		if err := rdb.EvalSha(ctx, sha, keys, args...).Err(); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("args %v: %v, want a malformed-reading error", bad, err)
		}
	}
	if err := rdb.EvalSha(ctx, sha, keys, "ch", 100, 0, 60, 600000, 3, "2").Err(); err == nil {
		t.Error("a short argument list was accepted")
	}
	if got := streamSeqs(t, s, "a"); fmt.Sprint(got) != "[1]" {
		t.Fatalf("stream = %v after refused calls", got)
	}
}
