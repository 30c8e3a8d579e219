package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// A device's Redis user may call the ingest script itself (by its SHA):
// the script takes at most reading.MaxBatch readings of at most
// reading.MaxEncoded bytes a call, since Redis runs nothing else while it
// runs. Ingest splits a device's larger batches into such runs, in order.
func TestIngestScriptBoundsOneCall(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		st := store.New(rdb, store.Options{Prefix: prefix})
		const n = 2*reading.MaxBatch + 5
		rs := make([]reading.Reading, n)
		for i := range rs {
			rs[i] = mk("big", uint64(i+1), "temperature", float64(i))
		}
		res, err := st.Ingest(ctx, rs)
		if err != nil || res.Stored != n {
			t.Fatalf("ingest of %d readings: %+v, %v", n, res, err)
		}
		got := streamSeqs(t, st, "big")
		for i, s := range got {
			if s != uint64(i+1) {
				t.Fatalf("stream position %d holds seq %d: not in order", i, s)
			}
		}
		if len(got) != n {
			t.Fatalf("%d readings stored, want %d", len(got), n)
		}

		// The script called directly, as a device's user can.
		if err := st.LoadScripts(ctx); err != nil {
			t.Fatal(err)
		}
		sha := scriptSHA(t, rdb, ctx)
		keys := []string{st.StreamKey("dev"), prefix + ":{dev}:latest", prefix + ":{dev}:latest_ts", prefix + ":{dev}:dedup", prefix + ":{dev}:dedup_head"}
		call := func(count int, json string) error {
			args := []any{st.LiveChannel("dev"), -1, 0, 3600, -1, count}
			for i := range count {
				args = append(args, strconv.Itoa(i+1), "s/m", time.Now().UnixMilli(), json)
			}
			return rdb.EvalSha(ctx, sha, keys, args...).Err()
		}
		if err := call(reading.MaxBatch+1, `{}`); err == nil || !strings.Contains(err.Error(), "limit 1000") {
			t.Errorf("a call of %d readings: %v, want refused", reading.MaxBatch+1, err)
		}
		if err := call(1, strings.Repeat("x", reading.MaxEncoded+1)); err == nil || !strings.Contains(err.Error(), "malformed reading") {
			t.Errorf("a reading of %d bytes: %v, want refused", reading.MaxEncoded+1, err)
		}
		if n, _ := rdb.XLen(ctx, st.StreamKey("dev")).Result(); n != 0 {
			t.Errorf("refused calls stored %d entries", n)
		}
		if err := call(reading.MaxBatch, `{}`); err != nil {
			t.Errorf("a call of %d readings: %v", reading.MaxBatch, err)
		}
	})
}

// scriptSHA is the SHA of ingest.lua, the script in the cache that
// answers the ingest's argument check.
func scriptSHA(t *testing.T, rdb redis.UniversalClient, ctx context.Context) string {
	t.Helper()
	sha := store.IngestScriptSHA()
	if ok, err := rdb.ScriptExists(ctx, sha).Result(); err != nil || !ok[0] {
		t.Fatalf("ingest script not loaded: %v %v", ok, err)
	}
	return sha
}

// Keys of the wrong type, which only a device's own raw writes can make,
// do not fail its ingest, boots or assigned seqs forever (on the bridge,
// a group that holds such a device's message would stop everyone).
func TestWrongTypedKeysDoNotStopIngest(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		st := store.New(rdb, store.Options{Prefix: prefix})
		if _, err := st.Ingest(ctx, []reading.Reading{mk("dev", 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
		k := func(name string) string { return prefix + ":{dev}:" + name }
		for _, name := range []string{"readings", "latest", "latest_ts", "dedup", "dedup_head", "boots", "assigned_seq"} {
			rdb.Del(ctx, k(name))
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: k("latest_ts"), Values: []any{"a", "b"}}).Err())
		must(rdb.Set(ctx, k("readings"), "x", 0).Err())
		must(rdb.Set(ctx, k("latest"), "x", 0).Err())
		must(rdb.HSet(ctx, k("dedup"), "a", "b").Err())
		must(rdb.Set(ctx, k("dedup_head"), "x", 0).Err())
		must(rdb.Set(ctx, k("boots"), "x", 0).Err())
		must(rdb.HSet(ctx, k("assigned_seq"), "a", "b").Err())
		res, err := st.Ingest(ctx, []reading.Reading{mk("dev", 2, "temperature", 2)})
		if err != nil || res.Stored != 1 {
			t.Fatalf("ingest over wrong-typed keys: %+v, %v", res, err)
		}
		if err := st.RecordBoot(ctx, "dev", "boot-1", 2, time.Now()); err != nil {
			t.Fatalf("boot over a wrong-typed boots key: %v", err)
		}
		if _, err := st.NextSeqs(ctx, "dev", 3); err != nil {
			t.Fatalf("seqs over a wrong-typed counter: %v", err)
		}
		must(rdb.Set(ctx, k("assigned_seq"), "not a number", 0).Err())
		if _, err := st.NextSeqs(ctx, "dev", 3); err != nil {
			t.Fatalf("seqs over a counter that is no number: %v", err)
		}
		if got := streamSeqs(t, st, "dev"); len(got) != 1 || got[0] != 2 {
			t.Errorf("stream %v, want [2]", got)
		}
	})
}
