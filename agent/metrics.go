package agent

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for dropping readings (the reason label of
// tributary_edge_dropped_readings_total).
const (
	DropQueueFull = "queue_full" // the queue was full; the oldest made room
	DropInvalid   = "invalid"    // a sensor returned a sample that is not a valid reading
	DropRejected  = "rejected"   // the uplink refused them as invalid (reading.ErrInvalid)
	DropSeqLease  = "seq_lease"  // the seq lease could not be persisted
)

type metrics struct {
	readings     *prometheus.CounterVec
	sensorErrors *prometheus.CounterVec
	queue        prometheus.GaugeFunc
	dropped      *prometheus.CounterVec
	uplinkErrors prometheus.Counter
	sent         prometheus.Counter
	sendDuration prometheus.Histogram
	uplinkUp     prometheus.Gauge
	duplicates   prometheus.Counter
}

func newMetrics(queueLen func() int) *metrics {
	return &metrics{
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_readings_total",
			Help: "Readings produced, by sensor.",
		}, []string{"sensor"}),
		sensorErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_sensor_errors_total",
			Help: "Failed sensor reads and invalid samples, by sensor.",
		}, []string{"sensor"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_edge_queue_readings",
			Help: "Readings queued for the uplink, not yet sent.",
		}, func() float64 { return float64(queueLen()) }),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_dropped_readings_total",
			Help: "Readings dropped before being sent, by reason.",
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
	}
}

// register registers every metric on reg (nothing if reg is nil), with the
// given sensors and every drop reason at zero so that they show from the
// start.
func (m *metrics) register(reg prometheus.Registerer, sensors []string) error {
	for _, s := range sensors {
		m.readings.WithLabelValues(s)
		m.sensorErrors.WithLabelValues(s)
	}
	for _, r := range []string{DropQueueFull, DropInvalid, DropRejected, DropSeqLease} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.readings, m.sensorErrors, m.queue, m.dropped, m.uplinkErrors, m.sent, m.sendDuration, m.uplinkUp, m.duplicates} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errors.New("agent: register metrics: " + err.Error())
	}
	return nil
}
