package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

var (
	shared *redistest.Server
	runs   atomic.Int64
)

func TestMain(m *testing.M) {
	var err error
	shared, err = redistest.StartServer(redistest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// backends runs f against the real redis-server and the embedded miniredis
// that `cloud` uses when given no Redis, each with its own key prefix.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	t.Run("redis-server", func(t *testing.T) {
		// The server is shared by the package (and by -count runs): each
		// run gets keys of its own.
		f(t, shared.Client(t), fmt.Sprintf("t%d_%s", runs.Add(1), strings.ReplaceAll(t.Name(), "/", "_")))
	})
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		f(t, c, "tributary")
	})
}

func mk(dev string, seq uint64, metric string, v float64) reading.Reading {
	return reading.Reading{Device: dev, Sensor: "sim", Metric: metric, Value: v, Unit: "Cel",
		Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).Add(time.Duration(seq%100000) * time.Second), Seq: seq}
}

func streamSeqs(t *testing.T, s *store.Store, dev string) []uint64 {
	t.Helper()
	raws, err := s.History(context.Background(), dev, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, raw := range raws {
		r, err := reading.Decode(raw)
		if err != nil {
			t.Fatalf("stream holds %s: %v", raw, err)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func TestIngestIsIdempotentAndPublishesOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		sub := rdb.PSubscribe(ctx, s.LivePattern())
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
			t.Fatal(err)
		}
		batch := []reading.Reading{mk("d1", 1, "temperature", 20), mk("d1", 2, "temperature", 21), mk("d1", 3, "humidity", 50)}
		res, err := s.Ingest(ctx, batch)
		if err != nil || res.Stored != 3 || res.Duplicates != 0 || res.Refused != 0 {
			t.Fatalf("first ingest = %+v, %v", res, err)
		}
		res, err = s.Ingest(ctx, append(batch, mk("d1", 4, "temperature", 22)))
		if err != nil || res.Stored != 1 || res.Duplicates != 3 || res.Refused != 0 {
			t.Fatalf("repeat ingest = %+v, %v", res, err)
		}
		if got := streamSeqs(t, s, "d1"); fmt.Sprint(got) != "[1 2 3 4]" {
			t.Fatalf("stream seqs = %v", got)
		}
		// Exactly 4 messages, then the sentinel: no duplicate was published.
		if _, err := s.Ingest(ctx, []reading.Reading{mk("d1", 99, "temperature", 0)}); err != nil {
			t.Fatal(err)
		}
		var got []uint64
		ch := sub.Channel()
		for len(got) < 5 {
			select {
			case m := <-ch:
				if dev, ok := s.DeviceFromChannel(m.Channel); !ok || dev != "d1" {
					t.Fatalf("message on %q", m.Channel)
				}
				r, err := reading.Decode([]byte(m.Payload))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Seq)
			case <-time.After(10 * time.Second):
				t.Fatalf("published so far: %v", got)
			}
		}
		if fmt.Sprint(got) != "[1 2 3 4 99]" {
			t.Fatalf("published seqs = %v", got)
		}
	})
}

func TestIngestOutOfOrderAndBlockEdges(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		// Out of order, across the dedup blocks' edges and once around the
		// ring (the window is 16 blocks of 4096 seqs), all inside the window.
		seqs := []uint64{10, 5, 4095, 4096, 65535, 65536, 8191, 61440 + 70000, 70000 + 1, 70000}
		var in []reading.Reading
		for _, seq := range seqs {
			in = append(in, mk("d", seq, "temperature", float64(seq)))
		}
		for _, r := range in {
			if res, err := s.Ingest(ctx, []reading.Reading{r}); err != nil || res.Stored != 1 {
				t.Fatalf("ingest seq %d: %+v %v", r.Seq, res, err)
			}
		}
		// The newest seqs (within 61,440 of the highest) are repeats; the
		// others are behind the window now: late repeats, refused.
		res, err := s.Ingest(ctx, in)
		if err != nil || res.Stored != 0 || res.Duplicates != 3 || res.Refused != len(in)-3 {
			t.Fatalf("re-ingest = %+v, %v", res, err)
		}
		for _, f := range res.Refusals {
			if f.Reason != store.RefusedTooOld || in[f.Index].Seq > 70000 {
				t.Fatalf("refusal %+v of seq %d", f, in[f.Index].Seq)
			}
		}
		if got := streamSeqs(t, s, "d"); fmt.Sprint(got) != fmt.Sprint(seqs) {
			t.Fatalf("stream = %v", got)
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
		d := devs[0]
		if d.ID != "d" || d.LastSeq != 61440+70000 || len(d.Latest) != 1 || d.Refused[store.RefusedTooOld] != int64(len(in)-3) {
			t.Fatalf("device = %+v", d)
		}
		// The latest is by time (mk: seq mod 100000 seconds after a base),
		// not by seq or arrival.
		if d.Latest[0].Seq != 70000+1 {
			t.Fatalf("latest = %+v", d.Latest)
		}
		if age := time.Since(d.LastSeen); age < 0 || age > time.Minute {
			t.Fatalf("last seen %v ago", age)
		}
	})
}

func TestIngestRejectsInvalidBatchWhole(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		bad := mk("d", 2, "temperature", 1)
		bad.Unit = ""
		_, err := s.Ingest(ctx, []reading.Reading{mk("d", 1, "temperature", 1), bad})
		if !errors.Is(err, reading.ErrInvalid) || !strings.Contains(err.Error(), "reading 1: reading: unit: missing") {
			t.Fatalf("err = %v", err)
		}
		if got := streamSeqs(t, s, "d"); len(got) != 0 {
			t.Fatalf("stream = %v after a rejected batch", got)
		}
		if devs, _ := s.Devices(ctx); len(devs) != 0 {
			t.Fatalf("devices = %v", devs)
		}
	})
}

func TestIngestManyDevicesInOneBatch(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		var in []reading.Reading
		for seq := uint64(1); seq <= 5; seq++ {
			for _, d := range []string{"b", "a", "c"} {
				in = append(in, mk(d, seq, "temperature", float64(seq)))
			}
		}
		if res, err := s.Ingest(ctx, in); err != nil || res.Stored != 15 {
			t.Fatalf("ingest = %+v, %v", res, err)
		}
		devs, err := s.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range devs {
			ids = append(ids, d.ID)
			if got := streamSeqs(t, s, d.ID); fmt.Sprint(got) != "[1 2 3 4 5]" {
				t.Fatalf("%s stream = %v", d.ID, got)
			}
		}
		if fmt.Sprint(ids) != "[a b c]" {
			t.Fatalf("devices = %v", ids)
		}
	})
}

func TestHistoryQueries(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		before := time.Now().Add(-time.Second)
		var in []reading.Reading
		for seq := uint64(1); seq <= 50; seq++ {
			in = append(in, mk("h", seq, "temperature", float64(seq)))
		}
		if _, err := s.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		check := func(q store.Query, want string) {
			t.Helper()
			raws, err := s.History(ctx, "h", q)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, raw := range raws {
				r, _ := reading.Decode(raw)
				seqs = append(seqs, r.Seq)
			}
			got := fmt.Sprint(seqs)
			if len(seqs) > 6 {
				got = fmt.Sprintf("%d..%d (%d)", seqs[0], seqs[len(seqs)-1], len(seqs))
			}
			if got != want {
				t.Errorf("History(%+v) = %s, want %s", q, got, want)
			}
		}
		check(store.Query{Limit: 3}, "[48 49 50]")
		check(store.Query{}, "1..50 (50)")
		check(store.Query{Since: before, Until: after, Limit: 2}, "[49 50]")
		check(store.Query{Since: after}, "[]")
		check(store.Query{Until: before}, "[]")
		if raws, err := s.History(ctx, "nobody", store.Query{Limit: 5}); err != nil || len(raws) != 0 {
			t.Fatalf("unknown device history = %v, %v", raws, err)
		}
	})
}

func TestRetentionByLength(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix, MaxLen: 100})
		var in []reading.Reading
		for seq := uint64(1); seq <= 1000; seq++ {
			in = append(in, mk("r", seq, "temperature", 1))
		}
		if _, err := s.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		n, err := rdb.XLen(ctx, s.StreamKey("r")).Result()
		// MAXLEN ~ trims whole stream nodes (100 entries each by default).
		if err != nil || n < 100 || n > 200 {
			t.Fatalf("stream length %d after 1000 readings with MaxLen 100 (%v)", n, err)
		}
		seqs := streamSeqs(t, s, "r")
		if seqs[len(seqs)-1] != 1000 {
			t.Fatalf("newest kept = %d", seqs[len(seqs)-1])
		}
	})
}

func TestRetentionByAge(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t) // its clock can be moved, so age is testable without waiting
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	s := store.New(rdb, store.Options{MaxAge: time.Hour})
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m.SetTime(t0)
	if _, err := s.Ingest(ctx, []reading.Reading{mk("a", 1, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	m.SetTime(t0.Add(2 * time.Hour))
	if _, err := s.Ingest(ctx, []reading.Reading{mk("a", 2, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	if got := streamSeqs(t, s, "a"); fmt.Sprint(got) != "[2]" {
		t.Fatalf("after 2h with MaxAge 1h: %v", got)
	}
}

func TestDeviceFromChannel(t *testing.T) {
	s := store.New(nil, store.Options{})
	if d, ok := s.DeviceFromChannel(s.LiveChannel("pi-7")); !ok || d != "pi-7" {
		t.Fatalf("got %q %v", d, ok)
	}
	for _, ch := range []string{"tributary:live:pi", "tributary:live:{}", "other:live:{x}", ""} {
		if _, ok := s.DeviceFromChannel(ch); ok {
			t.Errorf("%q accepted", ch)
		}
	}
}

// TestLatestFollowsTimeAfterSeqReset: a device that lost its seq lease
// starts again at 1; its newer readings must still become the latest.
func TestLatestFollowsTimeAfterSeqReset(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		old := mk("z", 70000, "temperature", 10)
		fresh := mk("z", 1, "temperature", 99)
		fresh.Time = old.Time.Add(time.Hour)
		for _, r := range []reading.Reading{old, fresh} {
			if _, err := s.Ingest(ctx, []reading.Reading{r}); err != nil {
				t.Fatal(err)
			}
		}
		devs, err := s.Devices(ctx)
		if err != nil || len(devs) != 1 || len(devs[0].Latest) != 1 {
			t.Fatalf("devices = %+v, %v", devs, err)
		}
		if got := devs[0].Latest[0]; got.Value != 99 || devs[0].LastSeq != 70000 {
			t.Fatalf("latest = %+v, last seq %d; want the newer reading (99) and the highest seq", got, devs[0].LastSeq)
		}
	})
}

func TestHistoryAcrossPages(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		const total = 2*store.HistoryPage + 500
		var in []reading.Reading
		for seq := uint64(1); seq <= total; seq++ {
			in = append(in, mk("p", seq, "temperature", 1))
		}
		if _, err := s.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			limit      int64
			first, len uint64
		}{{0, 1, total}, {total + 10, 1, total}, {store.HistoryPage + 1, total - store.HistoryPage, store.HistoryPage + 1}, {store.HistoryPage, total - store.HistoryPage + 1, store.HistoryPage}, {1, total, 1}} {
			var seqs []uint64
			pages := 0
			err := s.HistoryPages(ctx, "p", store.Query{Limit: c.limit}, func(page [][]byte) error {
				pages++
				if len(page) > store.HistoryPage {
					t.Fatalf("page of %d", len(page))
				}
				for _, raw := range page {
					r, err := reading.Decode(raw)
					if err != nil {
						t.Fatal(err)
					}
					seqs = append(seqs, r.Seq)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(seqs)) != c.len || seqs[0] != c.first || seqs[len(seqs)-1] != c.first+c.len-1 {
				t.Fatalf("limit %d: %d readings %d..%d, want %d from %d", c.limit, len(seqs), seqs[0], seqs[len(seqs)-1], c.len, c.first)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] != seqs[i-1]+1 {
					t.Fatalf("limit %d: seq %d after %d", c.limit, seqs[i], seqs[i-1])
				}
			}
			if c.len > store.HistoryPage && pages < 2 {
				t.Fatalf("limit %d: %d pages", c.limit, pages)
			}
		}
	})
}
