package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// TestPublishedRetentionApplies: the cloud's retention, published in Redis,
// is what an edge's ingest applies, whatever the edge was built with.
func TestPublishedRetentionApplies(t *testing.T) {
	ctx := context.Background()
	rdb := shared.Client(t)
	prefix := "ret" + time.Now().Format("150405.000000")
	cloud := store.New(rdb, store.Options{Prefix: prefix, MaxLen: 100, MaxAge: time.Hour, DedupWindow: 48 * time.Hour})
	if err := cloud.PublishRetention(ctx); err != nil {
		t.Fatal(err)
	}
	edge := store.New(rdb, store.Options{Prefix: prefix})
	var in []reading.Reading
	for seq := uint64(1); seq <= 1000; seq++ {
		in = append(in, mk("r", seq, "temperature", 1))
	}
	if _, err := edge.Ingest(ctx, in); err != nil {
		t.Fatal(err)
	}
	want := store.Retention{MaxLen: 100, MaxAge: time.Hour, DedupWindow: 48 * time.Hour, MaxFuture: store.DefaultMaxFuture}
	if got := edge.Retention(); got != want {
		t.Fatalf("edge retention = %+v, want %+v", got, want)
	}
	n, err := rdb.XLen(ctx, edge.StreamKey("r")).Result()
	if err != nil || n > 200 {
		t.Fatalf("stream length %d with a published MaxLen of 100 (%v)", n, err)
	}
	for _, k := range []string{"dedup", "dedup_head"} {
		ttl, err := rdb.TTL(ctx, prefix+":{r}:"+k).Result()
		if err != nil || ttl <= 47*time.Hour || ttl > 48*time.Hour {
			t.Fatalf("%s TTL %v, want the published 48h (%v)", k, ttl, err)
		}
	}
}

// TestRunRetentionTrimsQuietDevices: history older than MaxAge goes even
// when its device sends nothing more.
func TestRunRetentionTrimsQuietDevices(t *testing.T) {
	m := miniredis.RunT(t) // its clock can be moved
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m.SetTime(t0)
	s := store.New(rdb, store.Options{MaxAge: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Ingest(ctx, []reading.Reading{mk("quiet", 1, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	m.SetTime(t0.Add(2 * time.Hour))
	done := make(chan error, 1)
	go func() { done <- s.RunRetention(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.XLen(ctx, s.StreamKey("quiet")).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the quiet device's two-hour-old history was not trimmed")
		}
		time.Sleep(5 * time.Millisecond) // polling Redis: nothing to await
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
