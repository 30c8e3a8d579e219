package fanout

import "github.com/prometheus/client_golang/prometheus"

// hubMetrics are the hub's Prometheus metrics.
type hubMetrics struct {
	clients   prometheus.Gauge
	received  prometheus.Counter
	delivered prometheus.Counter
	frames    prometheus.Counter
	slow      prometheus.Counter
	rejected  prometheus.Counter
}

func newHubMetrics(reg prometheus.Registerer) *hubMetrics {
	m := &hubMetrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_cloud_websocket_clients",
			Help: "WebSocket clients connected to the fan-out hub.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_readings_received_total",
			Help: "Readings published to the fan-out hub.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_readings_delivered_total",
			Help: "Readings sent to WebSocket clients (handed to the connection), counted once per client.",
		}),
		frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_websocket_frames_sent_total",
			Help: "WebSocket text frames (readings and status) written to clients.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_websocket_slow_disconnects_total",
			Help: "WebSocket clients disconnected (code 3008) because their queue was full.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_websocket_bad_messages_total",
			Help: "WebSocket clients disconnected for sending a malformed, oversized or binary message.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.clients, m.received, m.delivered, m.frames, m.slow, m.rejected)
	}
	return m
}
