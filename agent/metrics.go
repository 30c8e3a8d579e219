package agent

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/sensors"
)

// Reasons for dropping readings (the reason label of
// tributary_edge_dropped_readings_total). The counts are kept in the state
// dir (<device>.lost) across restarts.
const (
	DropQueueFull = "queue_full" // the queue dropped them (with the spool: tributary_edge_spool_dropped_total says why; the same readings, counted once more here)
	DropInvalid   = "invalid"    // a sensor returned a sample that is not a valid reading
	DropRejected  = "rejected"   // the uplink refused them as invalid (reading.ErrInvalid)
	DropRefused   = "refused"    // the uplink refused them for good (RefusedError: a seq behind its dedup window, a time too far ahead)
	DropSeqLease  = "seq_lease"  // the seq lease could not be persisted
	DropClock     = "clock"      // held for a clock that was not ready: beyond HoldLimit, or still held when the agent stopped
	DropShutdown  = "shutdown"   // still queued in a queue that does not outlive the agent (MemQueue) when it stopped
)

type metrics struct {
	readings     *prometheus.CounterVec
	sensorErrors *prometheus.CounterVec
	sensorUp     *prometheus.GaugeVec
	simulated    *prometheus.GaugeVec
	held         prometheus.GaugeFunc
	restamped    prometheus.Counter
	clockBack    prometheus.Counter
	queue        prometheus.GaugeFunc
	dropped      *prometheus.CounterVec
	uplinkErrors prometheus.Counter
	sent         prometheus.Counter
	sendDuration prometheus.Histogram
	latency      *prometheus.HistogramVec // by uplink kind
	upLatency    prometheus.Observer      // latency's child of this agent's uplink
	uplinkUp     prometheus.Gauge
	duplicates   prometheus.Counter
}

// newMetrics returns the agent's metrics; uplink is the uplink label of
// its reading latency (uplinkKind).
func newMetrics(queueLen, heldLen func() int, uplink string) *metrics {
	m := &metrics{
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_readings_total",
			Help: "Readings produced, by sensor.",
		}, []string{"sensor"}),
		sensorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_sensor_errors_total",
			Help: "Failed sensor reads and invalid samples, by sensor and kind (no_device, bus, crc, out_of_range, stuck, timeout, other, invalid).",
		}, []string{"sensor", "kind"}),
		sensorUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_edge_sensor_up",
			Help: "1 if the sensor's last read succeeded, else 0.",
		}, []string{"sensor"}),
		simulated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_edge_sensor_simulated",
			Help: "1 if a simulation stands in for the sensor's hardware, which could not be opened.",
		}, []string{"sensor"}),
		held: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_edge_clock_held_readings",
			Help: "Readings held in memory until the clock is synchronised.",
		}, func() float64 { return float64(heldLen()) }),
		restamped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_edge_clock_restamped_readings_total",
			Help: "Readings taken before the clock was synchronised, stamped from the monotonic clock once it was.",
		}),
		clockBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_edge_clock_backward_readings_total",
			Help: "Readings whose time was raised to their sensor's previous one because the clock went backwards.",
		}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_edge_queue_readings",
			Help: "Readings queued for the uplink, not yet sent.",
		}, func() float64 { return float64(queueLen()) }),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_dropped_readings_total",
			Help: "Readings dropped before being sent, by reason, since the state dir was created (the counts are kept there across restarts); queue_full counts the queue's drops, which the spool also counts by its own reason in tributary_edge_spool_dropped_total (do not add the two).",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_edge_duplicate_readings_total",
			Help: "Readings the uplink already had (same device and seq): a retry after a lost acknowledgement, or a seq that restarted.",
		}),
		uplinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_edge_uplink_errors_total",
			Help: "Failed uplink sends; every retry counts.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_edge_sent_readings_total",
			Help: "Readings the uplink accepted.",
		}),
		sendDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_edge_send_duration_seconds",
			Help:    "Duration of successful uplink sends.",
			Buckets: prometheus.DefBuckets,
		}),
		uplinkUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_edge_uplink_up",
			Help: "1 if the last uplink send succeeded, else 0.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_edge_reading_latency_seconds",
			Help:    latency.Help + " to its acceptance by the uplink (Redis stored it, or the MQTT broker acknowledged it: PUBACK), spool wait included, by the edge's clock; by uplink (redis, mqtt, other).",
			Buckets: latency.Buckets,
		}, []string{"uplink"}),
	}
	m.upLatency = m.latency.WithLabelValues(uplink)
	return m
}

// uplinkKind is the uplink label of an uplink's reading latency: "redis",
// "mqtt", or "other" (an Uplink of another package).
func uplinkKind(up Uplink) string {
	switch up.(type) {
	case *RedisUplink:
		return "redis"
	case *MQTTUplink:
		return "mqtt"
	}
	return "other"
}

// register registers every metric on reg (nothing if reg is nil), with the
// given sensors and every drop reason at its persisted count (lost) so
// that they show from the start.
func (m *metrics) register(reg prometheus.Registerer, ss []SensorConfig, lost *lossLedger) error {
	for _, s := range ss {
		name := s.Sensor.Name()
		m.readings.WithLabelValues(name)
		for _, k := range sensors.ErrorKinds {
			m.sensorErrors.WithLabelValues(name, k)
		}
		m.sensorUp.WithLabelValues(name)
		sim := 0.0
		if s.Simulated {
			sim = 1
		}
		m.simulated.WithLabelValues(name).Set(sim)
	}
	for _, r := range dropReasons {
		m.dropped.WithLabelValues(r).Add(float64(lost.count(r)))
	}
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.readings, m.sensorErrors, m.sensorUp, m.simulated, m.held, m.restamped, m.clockBack, m.queue, m.dropped, m.uplinkErrors, m.sent, m.sendDuration, m.latency, m.uplinkUp, m.duplicates} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errors.New("agent: register metrics: " + err.Error())
	}
	return nil
}
