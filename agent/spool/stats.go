package spool

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of a spool's state and counters.
type Stats struct {
	// Readings queued: on disk, in flight and waiting in memory for the
	// disk (Len).
	Readings int
	// Bytes is the size of their records (header and payload), the
	// quantity Options.MaxBytes bounds.
	Bytes int64
	// Oldest is the Reading.Time of the oldest queued reading (the next to
	// send); zero when empty.
	Oldest time.Time
	// InFlight readings were returned by Peek and not committed.
	InFlight int
	// Overflow readings wait in memory because the disk refused them.
	Overflow int
	// Segments is the number of segment files.
	Segments int
	// Dropped counts the readings dropped over the spool's life, by reason
	// (every Reason* key is present). The counts are kept in the ack
	// cursor, written as soon as they change, and carried over by Open; a
	// cursor damaged in both slots restarts them from zero.
	Dropped map[string]uint64
	// WriteErrors counts failed writes, segment creations and fsyncs since
	// Open; each retry counts.
	WriteErrors uint64
	// LastError is the last write or read error, and when it happened.
	LastError   error
	LastErrorAt time.Time
	// TornTails is how many torn writes Open truncated, TruncatedBytes
	// their size. The readings whose records were cut are counted in
	// Dropped[ReasonTruncated], as far as the cursor saw them written:
	// every one under kill -9, and after a power loss those written before
	// the cursor's last fsync.
	TornTails      int
	TruncatedBytes int64
	// Fsyncs counts the fsyncs since Open.
	Fsyncs uint64
}

// Stats returns the spool's state and counters. It may read the oldest
// reading from disk.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Readings:       s.n,
		Bytes:          s.bytes,
		InFlight:       len(s.peeked),
		Overflow:       len(s.ov) - s.ovHead,
		Segments:       len(s.segs),
		Dropped:        make(map[string]uint64, nReasons),
		WriteErrors:    s.writeErrors,
		LastError:      s.lastErr,
		LastErrorAt:    s.lastErrAt,
		TornTails:      s.tornTails,
		TruncatedBytes: s.truncated,
		Fsyncs:         s.fsyncs,
	}
	for i, name := range reasonNames {
		st.Dropped[name] = s.dropped[i]
	}
	if len(s.peeked) > 0 {
		st.Oldest = s.peeked[0].r.Time
	} else if !s.closed {
		if e, ok := s.head(); ok {
			st.Oldest = e.r.Time
		}
	}
	return st
}

// Collector returns a collector of the spool's metrics, to register on the
// agent's registry:
//
//	tributary_edge_spool_readings             gauge: readings queued
//	tributary_edge_spool_bytes                gauge: their record bytes
//	tributary_edge_spool_oldest_age_seconds   gauge: now minus the oldest reading's time; 0 when empty
//	tributary_edge_spool_overflow_readings    gauge: readings waiting in memory for the disk
//	tributary_edge_spool_dropped_total        counter by reason: full, age, disk_full, corrupt, too_large, truncated; over the spool's life (persisted)
//	tributary_edge_spool_write_errors_total   counter: failed writes, creations and fsyncs
//	tributary_edge_spool_fsync_seconds        histogram: duration of each fsync
//
// Each call returns a new collector over the same spool; register one per
// registry.
func (s *Spool) Collector() prometheus.Collector {
	return &collector{s: s,
		readings:    prometheus.NewDesc("tributary_edge_spool_readings", "Readings in the spool: on disk, in flight and waiting in memory for the disk.", nil, nil),
		bytes:       prometheus.NewDesc("tributary_edge_spool_bytes", "Size of the spooled readings' records, the quantity the byte limit bounds.", nil, nil),
		oldest:      prometheus.NewDesc("tributary_edge_spool_oldest_age_seconds", "Age of the oldest spooled reading, by its time stamp; 0 when the spool is empty.", nil, nil),
		overflow:    prometheus.NewDesc("tributary_edge_spool_overflow_readings", "Readings waiting in memory because the disk refused them.", nil, nil),
		dropped:     prometheus.NewDesc("tributary_edge_spool_dropped_total", "Readings the spool dropped, by reason (full, age, disk_full, corrupt, too_large, truncated), since the spool was created: the counts are kept in its directory across restarts.", []string{"reason"}, nil),
		writeErrors: prometheus.NewDesc("tributary_edge_spool_write_errors_total", "Failed spool writes, segment creations and fsyncs; every retry counts.", nil, nil),
	}
}

type collector struct {
	s                                                       *Spool
	readings, bytes, oldest, overflow, dropped, writeErrors *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.readings, c.bytes, c.oldest, c.overflow, c.dropped, c.writeErrors} {
		ch <- d
	}
	c.s.fsyncHist.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(c.s.opt.Now().Sub(st.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.readings, prometheus.GaugeValue, float64(st.Readings))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.overflow, prometheus.GaugeValue, float64(st.Overflow))
	for _, r := range reasonNames {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(c.writeErrors, prometheus.CounterValue, float64(st.WriteErrors))
	c.s.fsyncHist.Collect(ch)
}
