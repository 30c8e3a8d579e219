package history

import "github.com/prometheus/client_golang/prometheus"

// Collector returns a collector of the history's metrics, to register on
// the agent's registry:
//
//	tributary_edge_history_readings               readings kept
//	tributary_edge_history_bytes                  memory they take (bounded by MaxBytes)
//	tributary_edge_history_dropped_total{reason}  readings dropped: age, memory, order
func (h *History) Collector() prometheus.Collector { return collector{h} }

var (
	readingsDesc = prometheus.NewDesc("tributary_edge_history_readings", "Readings kept in the local history.", nil, nil)
	bytesDesc    = prometheus.NewDesc("tributary_edge_history_bytes", "Memory the local history's readings take (bounded by --local-history-max).", nil, nil)
	droppedDesc  = prometheus.NewDesc("tributary_edge_history_dropped_total", "Readings dropped from the local history, by reason (age, memory, order).", []string{"reason"}, nil)
)

type collector struct{ h *History }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readingsDesc
	ch <- bytesDesc
	ch <- droppedDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(readingsDesc, prometheus.GaugeValue, float64(st.Readings))
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	for reason, n := range st.Dropped {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(n), reason)
	}
}
