package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/store"
)

// Stages of a reading in the cloud: the stage label of
// tributary_cloud_reading_latency_seconds.
const (
	stageRelay = "relay" // received from Redis's live channel
	stageWrite = "write" // written to a WebSocket (a frame's oldest reading)
)

// newLatency returns tributary_cloud_reading_latency_seconds, with both
// stages present from the start.
func newLatency() *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Name:      "reading_latency_seconds",
		Help: latency.Help + ", by the cloud's clock, to its receipt from Redis's live channel (stage relay) " +
			"and to its write to a WebSocket (stage write: once per frame written, the frame's oldest reading).",
		Buckets: latency.Buckets,
	}, []string{"stage"})
	h.WithLabelValues(stageRelay)
	h.WithLabelValues(stageWrite)
	return h
}

// devicesCollector collects tributary_cloud_devices{status} at scrape
// time from the registry in Redis, by the rule of the device list: online
// if the last reading is at most offlineAfter old. A scrape while Redis
// fails has no devices series (tributary_cloud_redis_up says why); the
// failure is logged at most once a minute.
type devicesCollector struct {
	st           *store.Store
	offlineAfter time.Duration
	timeout      time.Duration // of one count
	log          *slog.Logger
	desc         *prometheus.Desc

	mu  sync.Mutex // scrapes may run at once
	lim lograte.Limiter
}

func newDevicesCollector(st *store.Store, offlineAfter time.Duration, log *slog.Logger) *devicesCollector {
	return &devicesCollector{st: st, offlineAfter: offlineAfter, timeout: 5 * time.Second, log: log,
		lim: lograte.Limiter{Every: time.Minute},
		desc: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", "devices"),
			"Devices in the registry, by status: online (a reading within --offline-after, by Redis's clock) or offline (silent for longer, until --device-retention forgets them).",
			[]string{"status"}, nil),
	}
}

func (c *devicesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *devicesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	n, err := c.st.CountDevices(ctx, c.offlineAfter)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if k, ok := c.lim.Fail(time.Now()); ok {
			c.log.Warn("metrics: cannot count devices", "err", err, "since_last_log", k)
		}
		return
	}
	c.lim.OK()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Online), "online")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Offline), "offline")
}
