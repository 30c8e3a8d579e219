package fanout

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of a hub's clients and counters since NewHub.
type Stats struct {
	// Clients is the number of connected clients.
	Clients int
	// Received counts the readings published to the hub.
	Received uint64
	// Delivered counts the readings handed to client connections, once per
	// client.
	Delivered uint64
	// Frames counts the text frames (readings and status) written.
	Frames uint64
	// Events counts the event frames published (PublishEvent).
	Events uint64
	// SlowDisconnects counts the clients closed with 3008 for a full queue.
	SlowDisconnects uint64
	// BadMessages counts the clients closed for a malformed, oversized or
	// binary message.
	BadMessages uint64
}

// counters are the hub's running counts.
type counters struct {
	received, events, delivered, frames, slow, rejected atomic.Uint64
}

// Stats returns the hub's clients and counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Clients:         h.Clients(),
		Received:        h.n.received.Load(),
		Events:          h.n.events.Load(),
		Delivered:       h.n.delivered.Load(),
		Frames:          h.n.frames.Load(),
		SlowDisconnects: h.n.slow.Load(),
		BadMessages:     h.n.rejected.Load(),
	}
}

// Collector returns a collector of the hub's metrics, named under namespace
// (the cloud uses "tributary_cloud"):
//
//	<namespace>_websocket_clients                  gauge: connected clients
//	<namespace>_readings_received_total            counter: readings published to the hub
//	<namespace>_events_received_total              counter: event frames (commands' progress) published to the hub
//	<namespace>_readings_delivered_total           counter: readings handed to clients, once per client
//	<namespace>_websocket_frames_sent_total        counter: text frames written
//	<namespace>_websocket_slow_disconnects_total   counter: clients closed with 3008
//	<namespace>_websocket_bad_messages_total       counter: clients closed for a bad message
//
// Each call returns a new collector over the same hub; register one per
// registry.
func (h *Hub) Collector(namespace string) prometheus.Collector {
	desc := func(sub, name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, sub, name), help, nil, nil)
	}
	return &collector{h: h,
		clients:   desc("websocket", "clients", "WebSocket clients connected to the fan-out hub."),
		received:  desc("readings", "received_total", "Readings published to the fan-out hub."),
		events:    desc("events", "received_total", "Event frames (commands' progress) published to the fan-out hub."),
		delivered: desc("readings", "delivered_total", "Readings sent to WebSocket clients (handed to the connection), counted once per client."),
		frames:    desc("websocket", "frames_sent_total", "WebSocket text frames (readings and status) written to clients."),
		slow:      desc("websocket", "slow_disconnects_total", "WebSocket clients disconnected (code 3008) because their queue was full."),
		rejected:  desc("websocket", "bad_messages_total", "WebSocket clients disconnected for sending a malformed, oversized or binary message."),
	}
}

type collector struct {
	h                                                            *Hub
	clients, received, events, delivered, frames, slow, rejected *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.clients, c.received, c.events, c.delivered, c.frames, c.slow, c.rejected} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(st.Clients))
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.received, st.Received}, {c.events, st.Events}, {c.delivered, st.Delivered}, {c.frames, st.Frames}, {c.slow, st.SlowDisconnects}, {c.rejected, st.BadMessages}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
}
