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
