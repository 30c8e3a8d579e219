package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/redissource"
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
	reg, err := newRegistry(fanout.NewHub(fanout.Options{}), redissource.New(store.New(rdb, store.Options{}), redissource.Options{}), new(web.ConnCounter), new(web.SkipCounter))
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
	// And nothing else but the build info.
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 16 {
		t.Errorf("%d metrics (%v), want 16", n, err)
	}
	if n, err := testutil.GatherAndCount(reg, "tributary_cloud_build_info"); err != nil || n != 1 {
		t.Errorf("build info: %d (%v), want 1", n, err)
	}
}
