package web

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// skipKinds are the kinds of stored data SkipCounter counts: fields or
// whole hashes of a device's latest values (GET /api/devices), entries of
// its history (/readings) and of its boots (/boots).
var skipKinds = [...]string{"latest", "history", "boots"}

// SkipCounter counts stored data that the API left out of answers as
// malformed (written by something other than the ingest: a device with
// its own Redis user can write anything to its own keys), by kind. The
// zero value is ready; it is safe for concurrent use.
type SkipCounter struct {
	n [len(skipKinds)]atomic.Uint64
}

func (c *SkipCounter) add(kind string, n int) {
	for i, k := range skipKinds {
		if k == kind && n > 0 {
			c.n[i].Add(uint64(n))
		}
	}
}

// Skipped returns how many of kind ("latest", "history" or "boots") were
// left out.
func (c *SkipCounter) Skipped(kind string) uint64 {
	for i, k := range skipKinds {
		if k == kind {
			return c.n[i].Load()
		}
	}
	return 0
}

// Collector returns the counter's metric,
// namespace_stored_data_skipped_total{kind}.
func (c *SkipCounter) Collector(namespace string) prometheus.Collector {
	return &skipCollector{c: c, desc: prometheus.NewDesc(namespace+"_stored_data_skipped_total",
		"Stored data left out of API answers as malformed (not written by the ingest), by kind: latest (fields or hashes of latest values), history (entries), boots (entries).",
		[]string{"kind"}, nil)}
}

type skipCollector struct {
	c    *SkipCounter
	desc *prometheus.Desc
}

func (sc *skipCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sc.desc }

func (sc *skipCollector) Collect(ch chan<- prometheus.Metric) {
	for i, k := range skipKinds {
		ch <- prometheus.MustNewConstMetric(sc.desc, prometheus.CounterValue, float64(sc.c.n[i].Load()), k)
	}
}

// truncateLog cuts s to at most n bytes, for a log line.
func truncateLog(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
