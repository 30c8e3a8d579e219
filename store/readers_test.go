package store_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// The hostile device of these tests writes its own keys with raw commands,
// as its Redis user (deploy/redis) may: anything under tributary:{ID}:*,
// and ZADD to the registry.

// countingClient is a client of the shared redis-server that counts the
// bytes it receives, what the cloud takes from Redis.
func countingClient(t *testing.T) (*redis.Client, *atomic.Int64) {
	t.Helper()
	shared.Client(t) // skips under -short
	var n atomic.Int64
	c := redis.NewClient(&redis.Options{Addr: shared.Addr(), Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{conn, &n}, nil
	}})
	t.Cleanup(func() { c.Close() })
	return c, &n
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestDevicesPageBoundsBytes: one device's 20 MB field in its latest hash
// (a field count within MaxLatestFields) was read whole by every page of
// /api/devices. Now the hash is skipped by its size, unread.
func TestDevicesPageBoundsBytes(t *testing.T) {
	ctx := context.Background()
	rdb, received := countingClient(t)
	prefix := fmt.Sprintf("t%d_bytes", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	if _, err := s.Ingest(ctx, []reading.Reading{mk("fine-1", 1, "temperature", 1), mk("fine-2", 1, "temperature", 1), mk("huge", 1, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), prefix+":{huge}:latest") }) // 20 MB of the shared server
	if err := rdb.HSet(ctx, prefix+":{huge}:latest", "sim/junk", strings.Repeat("x", 20<<20)).Err(); err != nil {
		t.Fatal(err)
	}
	before := received.Load()
	p, err := s.DevicesPage(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := received.Load() - before
	var ids []string
	for _, d := range p.Devices {
		ids = append(ids, d.ID)
	}
	t.Logf("devices %v, skipped %d (%s), %d bytes received", ids, p.Skipped, p.SkippedExample, got)
	if got > 1<<20 {
		t.Errorf("one page took %d bytes from Redis, want at most 1 MiB", got)
	}
	if fmt.Sprint(ids) != "[fine-1 fine-2]" || p.Skipped != 1 || !strings.HasPrefix(p.SkippedExample, "huge latest: ") {
		t.Errorf("devices %v, skipped %d (%q); want [fine-1 fine-2], 1 (huge)", ids, p.Skipped, p.SkippedExample)
	}
}

// TestDevicesPageWrongType: a device that replaced its latest hash with a
// stream (DEL, XADD) made every page fail (WRONGTYPE) for everyone. Now
// that device is skipped.
func TestDevicesPageWrongType(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if _, err := s.Ingest(ctx, []reading.Reading{mk("a-fine", 1, "temperature", 1), mk("b-evil", 1, "temperature", 1), mk("c-fine", 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
		key := prefix + ":{b-evil}:latest"
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []string{"a", "b"}}).Err(); err != nil {
			t.Fatal(err)
		}
		p, err := s.DevicesPage(ctx, "", 0)
		if err != nil {
			t.Fatalf("a device's latest key of the wrong type failed the page: %v", err)
		}
		var ids []string
		for _, d := range p.Devices {
			ids = append(ids, d.ID)
		}
		if fmt.Sprint(ids) != "[a-fine c-fine]" || p.Skipped != 1 {
			t.Errorf("devices %v, skipped %d (%q); want [a-fine c-fine], 1", ids, p.Skipped, p.SkippedExample)
		}
	})
}

// TestDevicesPageBoundsPageBytes: a page ends early, with a Next, once
// the latest hashes it read reach DevicePageBytes; every device is still
// listed once.
func TestDevicesPageBoundsPageBytes(t *testing.T) {
	ctx := context.Background()
	rdb := shared.Client(t)
	prefix := fmt.Sprintf("t%d_pagebytes", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	const n = 30
	t.Cleanup(func() {
		for i := range n {
			rdb.Del(context.Background(), fmt.Sprintf("%s:{dev-%02d}:latest", prefix, i), fmt.Sprintf("%s:{dev-%02d}:readings", prefix, i))
		}
	})
	for i := range n {
		dev := fmt.Sprintf("dev-%02d", i)
		var rs []reading.Reading
		for j := range 1000 { // about 400 KB each of valid readings
			r := mk(dev, uint64(j+1), fmt.Sprintf("%s_%04d", strings.Repeat("m", 48), j), float64(j))
			r.Sensor = strings.Repeat("s", 60)
			rs = append(rs, r)
		}
		if _, err := s.Ingest(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	pages, listed, after := 0, 0, ""
	for {
		p, err := s.DevicesPage(ctx, after, store.MaxDevicePage)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		listed += len(p.Devices)
		if p.Skipped != 0 {
			t.Fatalf("valid devices skipped: %d (%s)", p.Skipped, p.SkippedExample)
		}
		if p.Next == "" {
			break
		}
		if pages > n {
			t.Fatal("no end")
		}
		after = p.Next
	}
	t.Logf("%d devices in %d pages; MEMORY USAGE of one latest hash: %d", listed, pages, rdb.MemoryUsage(ctx, prefix+":{dev-00}:latest", 0).Val())
	if listed != n || pages < 2 {
		t.Errorf("%d devices in %d pages; want %d in more than one (a page reads at most %d bytes)", listed, pages, n, store.DevicePageBytes)
	}
}

// TestHistoryBoundsBytes: five 8 MB entries XADDed to a device's own
// stream were read whole, by every history request. Now no value longer
// than a valid reading leaves Redis: the entries are there, empty (not
// valid readings), for the caller to count.
func TestHistoryBoundsBytes(t *testing.T) {
	ctx := context.Background()
	rdb, received := countingClient(t)
	prefix := fmt.Sprintf("t%d_histbytes", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	for i := range 10 {
		if _, err := s.Ingest(ctx, []reading.Reading{mk("dev", uint64(i+1), "temperature", float64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { rdb.Del(context.Background(), s.StreamKey("dev")) }) // 40 MB of the shared server
	huge := strings.Repeat("x", 8<<20)
	for range 5 {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.StreamKey("dev"), Values: []string{"r", huge}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []store.Query{{}, {Limit: 7}, {Since: time.Unix(0, 0)}} {
		before := received.Load()
		valid, empty, pages := 0, 0, 0
		err := s.HistoryPages(ctx, "dev", q, func(page [][]byte) error {
			pages++
			for _, raw := range page {
				if len(raw) == 0 {
					empty++
				} else if _, err := reading.Decode(raw); err == nil {
					valid++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := received.Load() - before
		t.Logf("%+v: %d valid, %d empty in %d pages, %d bytes received", q, valid, empty, pages, got)
		if got > 1<<20 {
			t.Errorf("%+v: history took %d bytes from Redis, want at most 1 MiB", q, got)
		}
		wantValid, wantEmpty := 10, 5
		if q.Limit == 7 {
			wantValid, wantEmpty = 2, 5
		}
		if valid != wantValid || empty != wantEmpty {
			t.Errorf("%+v: %d valid, %d empty; want %d, %d", q, valid, empty, wantValid, wantEmpty)
		}
	}
}

// TestBootsSkipMalformed: a malformed boots entry made Boots fail, and
// the error carried the whole entry. Now such entries are left out and
// counted, and a long value is never read.
func TestBootsSkipMalformed(t *testing.T) {
	ctx := context.Background()
	rdb, received := countingClient(t)
	prefix := fmt.Sprintf("t%d_boots", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	if err := s.RecordBoot(ctx, "pi", "boot-1", 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	key := s.BootsKey("pi")
	for _, vals := range [][]string{
		{"boot", "junk", "first_seq", "-1"},
		{"boot", strings.Repeat("j", 500<<10), "first_seq", "5", "ts", "0"},
		{"boot", "ok-id", "first_seq", "7", "ts", strings.Repeat("9", 4<<20)},
	} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordBoot(ctx, "pi", "boot-2", 10, time.Time{}); err != nil {
		t.Fatal(err)
	}
	before := received.Load()
	bs, err := s.Boots(ctx, "pi")
	got := received.Load() - before
	if err != nil {
		t.Fatalf("Boots: %.200v (%d bytes)", err, len(err.Error()))
	}
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	if fmt.Sprint(ids) != "[boot-1 boot-2]" {
		t.Errorf("boots %v, want [boot-1 boot-2]", ids)
	}
	if got > 64<<10 {
		t.Errorf("Boots took %d bytes from Redis, want at most 64 KiB", got)
	}
}

// TestSweepRemovesFakeIDs: 20,000 made-up ids ZADDed to the id index by a
// device stayed there for good, and the dashboard paged through them all.
// The sweep now removes ids without a latest hash, 10,000 a round; real
// devices stay.
func TestSweepRemovesFakeIDs(t *testing.T) {
	ctx := context.Background()
	rdb := shared.Client(t)
	prefix := fmt.Sprintf("t%d_fakeids", runs.Add(1))
	s := store.New(rdb, store.Options{Prefix: prefix})
	real := []string{"aaa-real", "mmm-real", "zzz-real"}
	for _, d := range real {
		if _, err := s.Ingest(ctx, []reading.Reading{mk(d, 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
	}
	const fakes = 20000
	for i := 0; i < fakes; i += 1000 {
		zs := make([]redis.Z, 0, 1000)
		for j := i; j < i+1000; j++ {
			m := fmt.Sprintf("fake-%05d", j)
			if j%10 == 0 {
				m = fmt.Sprintf("not an id %d", j)
			}
			zs = append(zs, redis.Z{Member: m})
		}
		if err := rdb.ZAdd(ctx, prefix+":device_ids", zs...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rounds := 0
	for ; rounds < 10 && rdb.ZCard(ctx, prefix+":device_ids").Val() > int64(len(real)); rounds++ {
		if _, err := s.SweepDevices(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := rdb.ZRange(ctx, prefix+":device_ids", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds", rounds)
	if fmt.Sprint(ids) != fmt.Sprint(real) {
		t.Errorf("after %d rounds the id index holds %d ids (%.60v...), want %v", rounds, len(ids), ids, real)
	}
	if rounds > 3 {
		t.Errorf("%d rounds to remove %d ids, want at most 3", rounds, fakes)
	}
}

// TestDevicesPageDropsFakeIDs: a page removes the index members it finds
// without data.
func TestDevicesPageDropsFakeIDs(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if _, err := s.Ingest(ctx, []reading.Reading{mk("real", 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
		zs := make([]redis.Z, 0, 300)
		for i := range 300 {
			zs = append(zs, redis.Z{Member: fmt.Sprintf("fake-%03d", i)})
		}
		if err := rdb.ZAdd(ctx, prefix+":device_ids", zs...).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DevicesPage(ctx, "", 100); err != nil {
			t.Fatal(err)
		}
		left := rdb.ZCard(ctx, prefix+":device_ids").Val()
		if left > 301-100 {
			t.Errorf("after a page of 100, the index holds %d ids, want at most %d", left, 301-100)
		}
		if n, err := rdb.ZRank(ctx, prefix+":device_ids", "real").Result(); err != nil {
			t.Errorf("real is gone from the index: %v (%d)", err, n)
		}
	})
}
