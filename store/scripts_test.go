package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Ingest and RecordBoot run their scripts by SHA: when Redis has forgotten
// them (a restart, SCRIPT FLUSH), a user that may load scripts loads them
// and stores everything once.
func TestScriptsReloadedAfterFlush(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		testScriptsReloaded(t, redistest.Start(t, redistest.Options{}).Client(t))
	})
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		testScriptsReloaded(t, c)
	})
}

func testScriptsReloaded(t *testing.T, rdb *redis.Client) {
	ctx := context.Background()
	st := store.New(rdb, store.Options{})
	for i := range 3 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := st.Ingest(ctx, []reading.Reading{mk("dev", uint64(i+1), "temperature", 20)})
		if err != nil || res.Stored != 1 {
			t.Fatalf("ingest %d after SCRIPT FLUSH: %+v, %v", i, res, err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordBoot(ctx, "dev", "boot-"+string(rune('a'+i)), uint64(i+1), time.Now()); err != nil {
			t.Fatalf("boot %d after SCRIPT FLUSH: %v", i, err)
		}
	}
	if got := streamSeqs(t, st, "dev"); len(got) != 3 {
		t.Errorf("stored seqs %v, want 1..3", got)
	}
	if bs, err := st.Boots(ctx, "dev"); err != nil || len(bs) != 3 {
		t.Errorf("boots %v, %v; want 3", bs, err)
	}
}

// KeepScriptsLoaded puts the ingesters' scripts in Redis's cache and puts
// them back when Redis forgets them.
func TestKeepScriptsLoaded(t *testing.T) {
	rdb := redistest.Start(t, redistest.Options{}).Client(t)
	st := store.New(rdb, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.KeepScriptsLoaded(ctx, 20*time.Millisecond, func(err error) { t.Log(err) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// ingest.lua, the boot script and events.lua: the scripts in the cache.
	loaded := func() bool {
		n, err := rdb.Do(ctx, "INFO", "memory").Text()
		return err == nil && scriptsCached(n) == 3
	}
	for i := range 3 {
		deadline := time.Now().Add(30 * time.Second)
		for !loaded() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the scripts not in Redis's cache within 30s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// scriptsCached reads number_of_cached_scripts from INFO memory.
func scriptsCached(info string) int {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "number_of_cached_scripts:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}
