package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// TestDevicesPages: the list comes in pages of at most the limit, by id,
// each device exactly once, leaving out registry members without a device.
func TestDevicesPages(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		var in []reading.Reading
		for i := range 25 {
			in = append(in, mk(fmt.Sprintf("dev-%03d", i), 1, "temperature", float64(i)))
		}
		if _, err := s.Ingest(ctx, in); err != nil {
			t.Fatal(err)
		}
		// Members whose devices are gone: skipped, however many in a row.
		for i := range 12 {
			if err := rdb.ZAdd(ctx, prefix+":device_ids", redis.Z{Member: fmt.Sprintf("dev-%03d-gone", i%3+4)}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		for _, limit := range []int{1, 7, 25, 1000} {
			var ids []string
			after := ""
			for pages := 1; ; pages++ {
				p, err := s.DevicesPage(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Devices) > limit || p.Skipped != 0 {
					t.Fatalf("limit %d: page of %d, skipped %d", limit, len(p.Devices), p.Skipped)
				}
				for _, d := range p.Devices {
					ids = append(ids, d.ID)
				}
				if p.Next == "" {
					break
				}
				if pages > 100 {
					t.Fatalf("limit %d: no end", limit)
				}
				after = p.Next
			}
			if len(ids) != 25 {
				t.Fatalf("limit %d: %d devices: %v", limit, len(ids), ids)
			}
			for i, id := range ids {
				if want := fmt.Sprintf("dev-%03d", i); id != want {
					t.Fatalf("limit %d: device %d is %s, want %s", limit, i, id, want)
				}
			}
		}
	})
}

// TestDevicesSkipMalformed: a latest hash written raw (by a device with
// Redis access) costs only its own bad fields, not the list.
func TestDevicesSkipMalformed(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if _, err := s.Ingest(ctx, []reading.Reading{mk("good", 1, "temperature", 1), mk("bad", 1, "temperature", 2)}); err != nil {
			t.Fatal(err)
		}
		other, _ := mk("good", 9, "temperature", 9).MarshalJSON()
		if err := rdb.HSet(ctx, prefix+":{bad}:latest",
			"sim/humidity", "not json",
			"sim/pressure", string(other), // another device's reading
			"seq", "lots",
			"refused:too_old", "-3",
		).Err(); err != nil {
			t.Fatal(err)
		}
		p, err := s.DevicesPage(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Devices) != 2 || p.Skipped != 4 || p.SkippedExample == "" {
			t.Fatalf("page = %+v", p)
		}
		bad := p.Devices[0]
		if bad.ID != "bad" || len(bad.Latest) != 1 || bad.Latest[0].Value != 2 || bad.LastSeen.IsZero() {
			t.Fatalf("bad = %+v", bad)
		}
	})
}

// TestSweepForgetsSilentDevices: a device silent for longer than
// DeviceRetention loses its keys and its registry entries; a registry
// entry is a hint, checked against the device's own keys.
func TestSweepForgetsSilentDevices(t *testing.T) {
	m := miniredis.RunT(t) // its clock can be moved
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // after mk's readings
	m.SetTime(t0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := store.New(rdb, store.Options{DeviceRetention: 48 * time.Hour})
	if _, err := s.Ingest(ctx, []reading.Reading{mk("quiet", 1, "temperature", 1), mk("busy", 1, "temperature", 1), mk("lagging", 1, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordBoot(ctx, "quiet", "b1", 1, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextSeqs(ctx, "quiet", 1); err != nil {
		t.Fatal(err)
	}
	// A member with no device behind it, one whose score lies far ahead, and
	// one whose registry score lags its keys (the registry write failed).
	rdb.ZAdd(ctx, "tributary:devices", redis.Z{Score: float64(t0.UnixMilli()), Member: "ghost"})
	rdb.ZAdd(ctx, "tributary:device_ids", redis.Z{Member: "ghost"})
	rdb.ZAdd(ctx, "tributary:devices", redis.Z{Score: 1e15, Member: "ahead"})
	m.SetTime(t0.Add(47 * time.Hour))
	if _, err := s.Ingest(ctx, []reading.Reading{mk("busy", 2, "temperature", 1), mk("lagging", 2, "temperature", 1)}); err != nil {
		t.Fatal(err)
	}
	rdb.ZAdd(ctx, "tributary:devices", redis.Z{Score: float64(t0.UnixMilli()), Member: "lagging"})
	m.SetTime(t0.Add(49 * time.Hour))

	done := make(chan error, 1)
	go func() { done <- s.RunRetention(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(60 * time.Second)
	for rdb.ZScore(ctx, "tributary:devices", "quiet").Err() != redis.Nil || rdb.ZScore(ctx, "tributary:devices", "ghost").Err() != redis.Nil {
		if time.Now().After(deadline) {
			t.Fatal("the silent device and the ghost are still registered")
		}
		time.Sleep(5 * time.Millisecond) // polling Redis: nothing to await
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx = context.Background()
	if keys := m.Keys(); len(keys) == 0 {
		t.Fatal("no keys at all")
	} else {
		for _, k := range keys {
			if len(k) > 17 && k[:17] == "tributary:{quiet}" {
				t.Errorf("key %s of the forgotten device is left", k)
			}
		}
	}
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].ID != "busy" || devs[1].ID != "lagging" {
		t.Fatalf("devices = %+v", devs)
	}
	if sc := rdb.ZScore(ctx, "tributary:devices", "lagging").Val(); sc != float64(t0.Add(47*time.Hour).UnixMilli()) {
		t.Errorf("lagging's registry score = %v, want its last ingest", sc)
	}
	if sc := rdb.ZScore(ctx, "tributary:devices", "ahead").Val(); sc > float64(t0.Add(50*time.Hour).UnixMilli()) {
		t.Errorf("a registry score far ahead stays at %v", sc)
	}
	if rdb.ZScore(ctx, "tributary:device_ids", "quiet").Err() != redis.Nil {
		t.Error("the forgotten device is still in the id index")
	}
}

// TestSweepRetentionSettings: devices are kept 30 days by default, and
// forever with a negative DeviceRetention.
func TestSweepRetentionSettings(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // after mk's readings
	m.SetTime(t0)
	ctx := context.Background()
	forever := store.New(rdb, store.Options{Prefix: "forever", DeviceRetention: -1})
	var logs bytes.Buffer
	def := store.New(rdb, store.Options{Prefix: "default", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, s := range []*store.Store{forever, def} {
		if _, err := s.Ingest(ctx, []reading.Reading{mk("d", 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(s *store.Store) {
		if _, err := s.SweepDevices(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m.SetTime(t0.Add(29 * 24 * time.Hour))
	run(def)
	if n := len(mustDevices(t, def)); n != 1 {
		t.Fatalf("default retention: %d devices after 29 days", n)
	}
	m.SetTime(t0.Add(31 * 24 * time.Hour))
	run(def)
	run(forever)
	if n := len(mustDevices(t, def)); n != 0 {
		t.Fatalf("default retention: %d devices after 31 days", n)
	}
	if !strings.Contains(logs.String(), "devices forgotten") || !strings.Contains(logs.String(), "count=1 devices=[d]") {
		t.Errorf("the forgotten device is not logged: %q", logs.String())
	}
	if n := len(mustDevices(t, forever)); n != 1 {
		t.Fatalf("no retention: %d devices after 31 days", n)
	}
}

func mustDevices(t *testing.T, s *store.Store) []store.Device {
	t.Helper()
	devs, err := s.Devices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return devs
}

// TestDevicesPageBoundsWhatItReads: a latest hash grown past
// MaxLatestFields is not read, and registry members that are not device
// ids are skipped, however many.
func TestDevicesPageBoundsWhatItReads(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if _, err := s.Ingest(ctx, []reading.Reading{mk("big", 1, "temperature", 1), mk("fine", 1, "temperature", 1)}); err != nil {
			t.Fatal(err)
		}
		var fields []any
		for i := range store.MaxLatestFields + 1 {
			fields = append(fields, fmt.Sprintf("junk/%d", i), "x")
		}
		if err := rdb.HSet(ctx, prefix+":{big}:latest", fields...).Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			rdb.ZAdd(ctx, prefix+":device_ids", redis.Z{Member: fmt.Sprintf("a bad id %d", i)})
		}
		var ids []string
		skipped := 0
		after := ""
		for pages := 0; ; pages++ {
			p, err := s.DevicesPage(ctx, after, 10)
			if err != nil {
				t.Fatal(err)
			}
			skipped += p.Skipped
			for _, d := range p.Devices {
				ids = append(ids, d.ID)
			}
			if p.Next == "" {
				break
			}
			if pages > 100 {
				t.Fatal("no end")
			}
			after = p.Next
		}
		if fmt.Sprint(ids) != "[fine]" || skipped != 1 {
			t.Fatalf("devices %v, skipped %d; want [fine], 1", ids, skipped)
		}
	})
}

// TestRunRetentionIndexesOldRegistries: devices registered before the id
// index existed (or by older ingesters) become listable.
func TestRunRetentionIndexesOldRegistries(t *testing.T) {
	m := miniredis.RunT(t)
	// A thousand devices through miniredis under -race can take longer
	// than go-redis's 3 s read timeout while the other packages' tests
	// load both cores: a timed-out pass never finishes the index.
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer rdb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := store.New(rdb, store.Options{})
	var rs []reading.Reading
	for i := range store.MaxDevicePage + 5 {
		rs = append(rs, mk(fmt.Sprintf("old-%04d", i), 1, "temperature", 1))
	}
	if _, err := s.Ingest(ctx, rs); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, "tributary:device_ids") // as an older version left it
	if n := len(mustDevices(t, s)); n != 0 {
		t.Fatalf("%d devices listed without the index", n)
	}
	done := make(chan error, 1)
	// Rounds follow each other quickly: should the pass at start fail
	// half way (a timeout under load), the rounds after it go on.
	go func() { done <- s.RunRetention(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(3 * time.Minute)
	for rdb.ZCard(ctx, "tributary:device_ids").Val() != int64(len(rs)) {
		if time.Now().After(deadline) {
			t.Fatal("the id index was not rebuilt")
		}
		time.Sleep(5 * time.Millisecond) // polling Redis: nothing to await
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(mustDevices(t, s)); n != len(rs) {
		t.Fatalf("%d devices listed, want %d", n, len(rs))
	}
}

// TestCountDevices: online are the devices whose last ingest is at most
// the threshold before Redis's clock, offline the others.
func TestCountDevices(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if c, err := s.CountDevices(ctx, time.Minute); err != nil || c != (store.DeviceCounts{}) {
			t.Fatalf("empty registry: %+v, %v", c, err)
		}
		for _, d := range []string{"dev-a", "dev-b", "dev-c"} {
			if _, err := s.Ingest(ctx, []reading.Reading{mk(d, 1, "temperature", 1)}); err != nil {
				t.Fatal(err)
			}
		}
		now, err := rdb.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		// dev-c last ingested ten minutes ago by Redis's clock.
		if err := rdb.ZAdd(ctx, prefix+":devices", redis.Z{Score: float64(now.Add(-10 * time.Minute).UnixMilli()), Member: "dev-c"}).Err(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			after time.Duration
			want  store.DeviceCounts
		}{
			{time.Minute, store.DeviceCounts{Online: 2, Offline: 1}},
			{time.Hour, store.DeviceCounts{Online: 3}},
		} {
			c, err := s.CountDevices(ctx, tc.after)
			if err != nil || c != tc.want {
				t.Errorf("offline after %v: %+v, %v; want %+v", tc.after, c, err, tc.want)
			}
		}
	})
}
