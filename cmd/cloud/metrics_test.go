package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/redissource"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// TestMetricNames pins the names, types and help of the cloud's metrics,
// which dashboards and alerts use.
func TestMetricNames(t *testing.T) {
	rdb, err := store.NewClient(store.ClientOptions{URL: "redis://127.0.0.1:1"}) // never dialled
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	reg, err := newRegistry(fanout.NewHub(fanout.Options{}), redissource.New(store.New(rdb, store.Options{}), redissource.Options{}), new(web.ConnCounter), new(web.SkipCounter), newLatency())
	if err != nil {
		t.Fatal(err)
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tributary_cloud_http_connections HTTP connections open, WebSockets included.
# TYPE tributary_cloud_http_connections gauge
tributary_cloud_http_connections 0
# HELP tributary_cloud_events_received_total Event frames (commands' progress) published to the fan-out hub.
# TYPE tributary_cloud_events_received_total counter
tributary_cloud_events_received_total 0
# HELP tributary_cloud_http_connections_refused_total HTTP connections closed as soon as accepted: the connection cap (--max-connections) was reached, or the client address held its share (--max-client-connections).
# TYPE tributary_cloud_http_connections_refused_total counter
tributary_cloud_http_connections_refused_total 0
# HELP tributary_cloud_live_messages_dropped_total Messages on live channels that were not a valid reading of the channel's device.
# TYPE tributary_cloud_live_messages_dropped_total counter
tributary_cloud_live_messages_dropped_total 0
# HELP tributary_cloud_live_subscriptions_total Times the cloud (re)subscribed to live readings in Redis.
# TYPE tributary_cloud_live_subscriptions_total counter
tributary_cloud_live_subscriptions_total 0
# HELP tributary_cloud_readings_delivered_total Readings sent to WebSocket clients (handed to the connection), counted once per client.
# TYPE tributary_cloud_readings_delivered_total counter
tributary_cloud_readings_delivered_total 0
# HELP tributary_cloud_readings_received_total Readings published to the fan-out hub.
# TYPE tributary_cloud_readings_received_total counter
tributary_cloud_readings_received_total 0
# HELP tributary_cloud_redis_up 1 while the cloud is subscribed to live readings in Redis and Redis answers, else 0.
# TYPE tributary_cloud_redis_up gauge
tributary_cloud_redis_up 0
# HELP tributary_cloud_stored_data_skipped_total Stored data left out of API answers as malformed (not written by the ingest), by kind: latest (fields or hashes of latest values), history (entries), boots (entries).
# TYPE tributary_cloud_stored_data_skipped_total counter
tributary_cloud_stored_data_skipped_total{kind="boots"} 0
tributary_cloud_stored_data_skipped_total{kind="history"} 0
tributary_cloud_stored_data_skipped_total{kind="latest"} 0
# HELP tributary_cloud_websocket_bad_messages_total WebSocket clients disconnected for sending a malformed, oversized or binary message.
# TYPE tributary_cloud_websocket_bad_messages_total counter
tributary_cloud_websocket_bad_messages_total 0
# HELP tributary_cloud_websocket_clients WebSocket clients connected to the fan-out hub.
# TYPE tributary_cloud_websocket_clients gauge
tributary_cloud_websocket_clients 0
# HELP tributary_cloud_websocket_frames_sent_total WebSocket text frames (readings and status) written to clients.
# TYPE tributary_cloud_websocket_frames_sent_total counter
tributary_cloud_websocket_frames_sent_total 0
# HELP tributary_cloud_websocket_slow_disconnects_total WebSocket clients disconnected (code 3008) because their queue was full.
# TYPE tributary_cloud_websocket_slow_disconnects_total counter
tributary_cloud_websocket_slow_disconnects_total 0
`), "tributary_cloud_events_received_total", "tributary_cloud_http_connections", "tributary_cloud_http_connections_refused_total", "tributary_cloud_live_messages_dropped_total", "tributary_cloud_live_subscriptions_total",
		"tributary_cloud_readings_delivered_total", "tributary_cloud_readings_received_total", "tributary_cloud_redis_up",
		"tributary_cloud_stored_data_skipped_total", "tributary_cloud_websocket_bad_messages_total", "tributary_cloud_websocket_clients",
		"tributary_cloud_websocket_frames_sent_total", "tributary_cloud_websocket_slow_disconnects_total")
	if err != nil {
		t.Error(err)
	}
	// Both stages of the latency from the start.
	if n, err := testutil.GatherAndCount(reg, "tributary_cloud_reading_latency_seconds"); err != nil || n != 2 {
		t.Errorf("latency: %d series (%v), want 2", n, err)
	}
	// And nothing else but the build info and the Go and process
	// collectors.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	own, runtime := 0, map[string]bool{}
	for _, mf := range mfs {
		switch name := mf.GetName(); {
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"):
			runtime[name] = true
		case name == "tributary_cloud_build_info":
			labels := map[string]string{}
			for _, l := range mf.GetMetric()[0].GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if len(labels) != 3 || labels["version"] == "" || labels["commit"] == "" || !strings.HasPrefix(labels["goversion"], "go") {
				t.Errorf("build info labels %v, want version, commit and goversion", labels)
			}
		default:
			own += len(mf.GetMetric())
		}
	}
	if own != 17 {
		t.Errorf("%d metrics of the cloud's own, want 17", own)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if !runtime[name] {
			t.Errorf("no %s", name)
		}
	}
}

// TestDevicesMetric: tributary_cloud_devices counts the registry's devices
// at scrape time by --offline-after, against Redis's clock; with Redis gone
// the series are left out and the scrape still answers.
func TestDevicesMetric(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rdb, err := store.NewClient(store.ClientOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	for i, dev := range []string{"dev-a", "dev-b", "dev-c"} {
		r := reading.Reading{Device: dev, Sensor: "sim", Metric: "temperature", Value: 1, Unit: "Cel", Time: time.Now(), Seq: uint64(i + 1)}
		if _, err := st.Ingest(ctx, []reading.Reading{r}); err != nil {
			t.Fatal(err)
		}
	}
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, "tributary:devices", redis.Z{Score: float64(now.Add(-time.Hour).UnixMilli()), Member: "dev-c"}).Err(); err != nil {
		t.Fatal(err)
	}
	c := newDevicesCollector(st, time.Minute, slog.New(slog.DiscardHandler))
	err = testutil.CollectAndCompare(c, strings.NewReader(`
# HELP tributary_cloud_devices Devices in the registry, by status: online (a reading within --offline-after, by Redis's clock) or offline (silent for longer, until --device-retention forgets them).
# TYPE tributary_cloud_devices gauge
tributary_cloud_devices{status="offline"} 1
tributary_cloud_devices{status="online"} 2
`))
	if err != nil {
		t.Error(err)
	}
	srv.Stop()
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series with Redis gone, want none", n)
	}
}
