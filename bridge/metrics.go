package bridge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/store"
)

// Message kinds, the "kind" label of the message counters.
const (
	kindReadings = "readings" // a batch on ReadingsTopic
	kindStatus   = "status"   // a status on StatusTopic
	kindMapped   = "mapped"   // a foreign format on a mapping's topic
	kindEvents   = "events"   // a batch of command events on EventsTopic
	kindOther    = "other"    // a topic nothing claims
	kindExcluded = "excluded" // a topic a mapping's filter matches and its exclude leaves out
)

// metrics are the bridge's Prometheus metrics.
type metrics struct {
	received        *prometheus.CounterVec
	stored          *prometheus.CounterVec
	readings        prometheus.Counter
	duplicates      prometheus.Counter
	refused         *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	ignored         *prometheus.CounterVec
	restamped       *prometheus.CounterVec
	ingest          prometheus.Histogram
	latency         prometheus.Histogram
	redisUp         prometheus.Gauge
	redisErrors     prometheus.Counter
	mqttUp          prometheus.Gauge
	connectionsLost prometheus.Counter
	queue           prometheus.GaugeFunc

	commandsRelayed prometheus.Counter
	commandsRefused prometheus.Counter
	eventsRelayed   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, queueLen func() float64, mappings []string) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_messages_received_total",
			Help: "MQTT messages received, by kind (readings, status, mapped, events, excluded: left out by a mapping's exclude, other); a redelivered message counts again.",
		}, []string{"kind"}),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_messages_stored_total",
			Help: "MQTT messages acknowledged after Redis stored what they carry, by kind (dead letters not included).",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_bridge_reading_latency_seconds",
			Help:    latency.Help + " to its storage in Redis by the bridge (new readings only), by the bridge's clock.",
			Buckets: latency.Buckets,
		}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_readings_stored_total",
			Help: "Readings stored in Redis for the first time.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_duplicate_readings_total",
			Help: "Readings whose (device, seq) Redis already held (a redelivered message, or a retry after an error).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_readings_refused_total",
			Help: "Readings Redis refused for good and the bridge acknowledged, by reason (store.Refused*: too_old, a seq behind the device's dedup window; future, stamped too far ahead). Each device also counts them (GET /api/devices, \"refused\").",
		}, []string{"reason"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_dead_letters_total",
			Help: "Messages refused and written to the dead-letter stream, by reason.",
		}, []string{"reason"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_ignored_fields_total",
			Help: "Fields of foreign-format messages that no mapping entry claims (or whose value is not a number), by mapping.",
		}, []string{"mapping"}),
		restamped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_bridge_restamped_readings_total",
			Help: "Readings of foreign-format messages whose times fell outside the accepted window, shifted (keeping their spacing) so that the newest of the message is stamped with its arrival time, by mapping (Mapping.Times restamp).",
		}, []string{"mapping"}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_bridge_ingest_duration_seconds",
			Help:    "Duration of one successful ingest of the readings of a group of messages into Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_bridge_redis_up",
			Help: "1 if the last Redis operation succeeded, 0 while Redis is failing (messages stay unacknowledged).",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_redis_errors_total",
			Help: "Failed Redis operations (each one retried).",
		}),
		mqttUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_bridge_mqtt_up",
			Help: "1 while connected to the broker.",
		}),
		connectionsLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_mqtt_connections_lost_total",
			Help: "Connections to the broker lost: closed by the broker (a restart, or a session takeover by another connection of the bridge's user) or timed out.",
		}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_bridge_queue_messages",
			Help: "Messages received and waiting for Redis (not yet acknowledged).",
		}, queueLen),
		commandsRelayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_commands_relayed_total",
			Help: "Commands published from the Redis outbox to their device's MQTT topic and acknowledged by the broker.",
		}),
		commandsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_commands_refused_total",
			Help: "Outbox entries that held no valid command: acknowledged and dropped.",
		}),
		eventsRelayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_bridge_command_events_relayed_total",
			Help: "Command events stored in Redis from devices' MQTT events topics (refused batches are dead letters).",
		}),
	}
	for _, k := range []string{kindReadings, kindStatus, kindMapped, kindEvents, kindOther} {
		m.received.WithLabelValues(k)
		m.stored.WithLabelValues(k)
	}
	m.received.WithLabelValues(kindExcluded)
	for _, r := range []string{store.RefusedTooOld, store.RefusedFuture} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range Reasons {
		m.deadLetters.WithLabelValues(r)
	}
	for _, name := range mappings {
		m.ignored.WithLabelValues(name)
		m.restamped.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(m.received, m.stored, m.readings, m.duplicates, m.refused, m.deadLetters, m.ignored, m.restamped,
			m.ingest, m.latency, m.redisUp, m.redisErrors, m.mqttUp, m.connectionsLost, m.queue,
			m.commandsRelayed, m.commandsRefused, m.eventsRelayed)
	}
	return m
}
