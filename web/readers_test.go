package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// skippedMetric returns tributary_cloud_stored_data_skipped_total{kind}.
func skippedMetric(t *testing.T, f *fixture, kind string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tributary_cloud_stored_data_skipped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no stored_data_skipped_total{kind=%q}", kind)
	return 0
}

// TestHostileStoredData: what a device with its own Redis user can write
// to its own keys (raw commands) never fails an answer, never comes back
// in one, never goes into a log line whole; it is counted by kind.
// Before: a malformed boots entry made /boots answer 503 with the entry
// echoed (a 500 KB entry, a 500 KB answer and log line), and a latest key
// of the wrong type made /api/devices 503 for everyone.
func TestHostileStoredData(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, fixtureOptions{raw: true, web: func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}})
	f.ingest(t, temp("fine", 1, 20), temp("evil", 1, 20))
	if err := f.st.RecordBoot(context.Background(), "evil", "boot-1", 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rdb := f.redis.Client(t)
	ctx := context.Background()
	junk := strings.Repeat("j", 500<<10)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{evil}:boots", Values: []string{"boot", "junk", "first_seq", "-1"}}).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{evil}:boots", Values: []string{"boot", junk, "first_seq", "2", "ts", "0"}}).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{evil}:readings", Values: []string{"r", junk}}).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{evil}:readings", Values: []string{"r", `{"not":"a reading"}`}}).Err())

	status, body := f.get(t, "/api/devices/evil/boots")
	if status != 200 || len(body) > 1024 || strings.Contains(body, "jjjj") {
		t.Errorf("boots: %d, %d bytes: %.200s", status, len(body), body)
	}
	var bs struct{ Boots []struct{ Boot string } }
	if err := json.Unmarshal([]byte(body), &bs); err != nil || len(bs.Boots) != 1 || bs.Boots[0].Boot != "boot-1" {
		t.Errorf("boots: %v, %.200s; want boot-1 only", err, body)
	}
	if n := skippedMetric(t, f, "boots"); n != 2 {
		t.Errorf("boots skipped: %v, want 2", n)
	}

	status, body = f.get(t, "/api/devices/evil/readings")
	if status != 200 || len(body) > 1024 || strings.Contains(body, "jjjj") || strings.Contains(body, "not") {
		t.Errorf("readings: %d, %d bytes: %.200s", status, len(body), body)
	}
	if n := skippedMetric(t, f, "history"); n != 2 {
		t.Errorf("history skipped: %v, want 2", n)
	}

	// The device replaces its latest hash with a stream.
	must(rdb.Del(ctx, "tributary:{evil}:latest").Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{evil}:latest", Values: []string{"a", "b"}}).Err())
	var devs []struct{ ID string }
	f.getJSON(t, "/api/devices", 200, &devs)
	if len(devs) != 1 || devs[0].ID != "fine" {
		t.Errorf("devices %+v, want fine only", devs)
	}
	if n := skippedMetric(t, f, "latest"); n != 1 {
		t.Errorf("latest skipped: %v, want 1", n)
	}
	if l := logs.String(); len(l) > 8<<10 || strings.Contains(l, "jjjj") {
		t.Errorf("%d bytes logged: %.300s", len(l), l)
	}
}
