package spool

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

func TestMetrics(t *testing.T) {
	clk := &sensorstest.Clock{Start: rd(1000).Time}
	s := mustOpen(t, t.TempDir(), Options{MaxBytes: 10 * recSize, MaxAge: 500 * time.Second, Now: clk.Now, Sync: SyncAlways})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		t.Fatal(err)
	}
	s.Push(rds(400, 401)) // too old: dropped for age
	s.Push(rds(600, 612)) // 13 into room for 10: 600..602 dropped
	rs, _ := s.Peek(context.Background(), 2)
	s.Commit(len(rs)) // 605..612 left; the oldest, 605, is 395 s old
	want := `
# HELP tributary_edge_spool_bytes Size of the spooled readings' records, the quantity the byte limit bounds.
# TYPE tributary_edge_spool_bytes gauge
tributary_edge_spool_bytes ` + strconv.FormatInt(8*recSize, 10) + `
# HELP tributary_edge_spool_dropped_total Readings the spool dropped, by reason (full, age, disk_full, corrupt, too_large, truncated), since the spool was created: the counts are kept in its directory across restarts.
# TYPE tributary_edge_spool_dropped_total counter
tributary_edge_spool_dropped_total{reason="age"} 2
tributary_edge_spool_dropped_total{reason="corrupt"} 0
tributary_edge_spool_dropped_total{reason="disk_full"} 0
tributary_edge_spool_dropped_total{reason="full"} 3
tributary_edge_spool_dropped_total{reason="too_large"} 0
tributary_edge_spool_dropped_total{reason="truncated"} 0
# HELP tributary_edge_spool_oldest_age_seconds Age of the oldest spooled reading, by its time stamp; 0 when the spool is empty.
# TYPE tributary_edge_spool_oldest_age_seconds gauge
tributary_edge_spool_oldest_age_seconds 395
# HELP tributary_edge_spool_overflow_readings Readings waiting in memory because the disk refused them.
# TYPE tributary_edge_spool_overflow_readings gauge
tributary_edge_spool_overflow_readings 0
# HELP tributary_edge_spool_readings Readings in the spool: on disk, in flight and waiting in memory for the disk.
# TYPE tributary_edge_spool_readings gauge
tributary_edge_spool_readings 8
# HELP tributary_edge_spool_write_errors_total Failed spool writes, segment creations and fsyncs; every retry counts.
# TYPE tributary_edge_spool_write_errors_total counter
tributary_edge_spool_write_errors_total 0
`
	names := []string{"tributary_edge_spool_bytes", "tributary_edge_spool_dropped_total", "tributary_edge_spool_oldest_age_seconds",
		"tributary_edge_spool_overflow_readings", "tributary_edge_spool_readings", "tributary_edge_spool_write_errors_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Under SyncAlways every Push that wrote waited for an fsync.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var fsyncs uint64
	for _, mf := range mfs {
		if mf.GetName() == "tributary_edge_spool_fsync_seconds" {
			fsyncs = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if fsyncs == 0 || fsyncs != s.Stats().Fsyncs {
		t.Errorf("fsync histogram counts %d, Stats.Fsyncs %d; want equal and > 0", fsyncs, s.Stats().Fsyncs)
	}
	// Empty: the age is 0.
	drain(t, s, 100)
	if got := testutil.ToFloat64(gaugeOf(t, reg, "tributary_edge_spool_oldest_age_seconds")); got != 0 {
		t.Errorf("oldest age of an empty spool = %v, want 0", got)
	}
}

// gaugeOf returns a collector of one gathered gauge, for testutil.ToFloat64.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// TestBacklogIsNotHeldInMemory drains a backlog of 300000 readings from disk
// and checks that the heap never holds more than a small part of it.
func TestBacklogIsNotHeldInMemory(t *testing.T) {
	const n = 300000
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Sync: SyncNever})
	for q := uint64(0); q < n; q += 1000 {
		s.Push(rds(200+q, 200+q+999))
	}
	s.Close()

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	s = mustOpen(t, dir, Options{Sync: SyncNever})
	if s.Len() != n {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	var peak uint64
	ctx := context.Background()
	next := uint64(200)
	for got := 0; got < n; {
		rs, err := s.Peek(ctx, 500)
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Seq != next {
			t.Fatalf("batch starts at %d, want %d", rs[0].Seq, next)
		}
		next += uint64(len(rs))
		got += len(rs)
		s.Commit(len(rs))
		if got%50000 < 500 {
			peak = max(peak, heap())
		}
	}
	t.Logf("heap before Open %d bytes, peak while draining %d", before, peak)
	// 300000 readings would take over 30 MB as reading.Reading values.
	if grew := int64(peak) - int64(before); grew > 4<<20 {
		t.Errorf("heap grew by %d bytes while draining %d readings from disk; want under 4 MiB", grew, n)
	}
}
