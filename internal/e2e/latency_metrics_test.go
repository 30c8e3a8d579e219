package e2e

import (
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestLatencyAndRuntimeMetrics runs the real binaries on a real Redis and
// mosquitto: one edge over MQTT through the bridge, one straight to Redis,
// the cloud relaying both to a WebSocket client. Once readings have reached
// the client, every stage's latency histogram has observations with sane
// sums, every binary says its build in three labels, the cloud and the
// bridge export the Go runtime's and the process's metrics, and the cloud
// counts both devices online. It logs p50 and p99 per stage.
func TestLatencyAndRuntimeMetrics(t *testing.T) {
	const viaMQTT, viaRedis = "lat-mqtt", "lat-redis"
	r := newMQTTRig(t, viaMQTT)
	_, base := startCloud(t, "--redis", r.rd.URL())
	client := dialStream(t, base, "")
	edgeMQTT := startEdgeProc(t, viaMQTT, "--mqtt", r.mq.URL(), "--mqtt-password-file", r.pwFiles[viaMQTT],
		"--interval", "50ms", "--state-dir", t.TempDir())
	edgeRedis := startEdgeProc(t, viaRedis, "--redis", r.rd.URL(), "--interval", "50ms", "--state-dir", t.TempDir())
	checkReadings(t, client.readings(60*time.Second, enough(50, viaMQTT, viaRedis)), viaMQTT, viaRedis)

	cloud := scrapeFamilies(t, base+"/metrics")
	bridge := scrapeFamilies(t, r.metrics)
	edges := map[string]map[string]*dto.MetricFamily{"mqtt": scrapeFamilies(t, edgeMQTT.metrics), "redis": scrapeFamilies(t, edgeRedis.metrics)}

	stages := []struct {
		name   string
		fams   map[string]*dto.MetricFamily
		metric string
		label  [2]string // the series' label, if any
	}{
		{"edge (mqtt: PUBACK)", edges["mqtt"], "tributary_edge_reading_latency_seconds", [2]string{"uplink", "mqtt"}},
		{"edge (redis: stored)", edges["redis"], "tributary_edge_reading_latency_seconds", [2]string{"uplink", "redis"}},
		{"bridge (stored)", bridge, "tributary_bridge_reading_latency_seconds", [2]string{}},
		{"cloud relay", cloud, "tributary_cloud_reading_latency_seconds", [2]string{"stage", "relay"}},
		{"cloud write", cloud, "tributary_cloud_reading_latency_seconds", [2]string{"stage", "write"}},
	}
	for _, s := range stages {
		h := histogram(t, s.fams, s.metric, s.label)
		n, sum := h.GetSampleCount(), h.GetSampleSum()
		// Each reading waits at most a few sampling rounds and a batch on
		// a busy machine: a mean over 10 s means a wrong clock or unit.
		if n == 0 || sum < 0 || sum/float64(n) > 10 {
			t.Errorf("%s: %d observations, sum %vs", s.name, n, sum)
			continue
		}
		t.Logf("latency %-22s n=%-5d mean %7.1f ms  p50 %7.1f ms  p99 %7.1f ms", s.name, n,
			1000*sum/float64(n), 1000*quantile(.5, h), 1000*quantile(.99, h))
	}
	if got, stored := histogram(t, bridge, "tributary_bridge_reading_latency_seconds", [2]string{}).GetSampleCount(),
		bridge["tributary_bridge_readings_stored_total"].GetMetric()[0].GetCounter().GetValue(); float64(got) != stored {
		t.Errorf("bridge: %d latency observations for %v new readings stored", got, stored)
	}

	for name, fams := range map[string]map[string]*dto.MetricFamily{"cloud": cloud, "bridge": bridge, "edge": edges["mqtt"]} {
		info := fams["tributary_"+name+"_build_info"]
		if info == nil || len(info.GetMetric()) != 1 || info.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Errorf("%s: build_info %v", name, info)
			continue
		}
		labels := map[string]string{}
		for _, l := range info.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if len(labels) != 3 || labels["version"] == "" || labels["commit"] == "" || !strings.HasPrefix(labels["goversion"], "go1.") {
			t.Errorf("%s: build_info labels %v, want version, commit and goversion", name, labels)
		}
	}
	for name, fams := range map[string]map[string]*dto.MetricFamily{"cloud": cloud, "bridge": bridge} {
		for _, m := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_start_time_seconds", "process_cpu_seconds_total"} {
			f := fams[m]
			if f == nil || len(f.GetMetric()) == 0 {
				t.Errorf("%s: no %s", name, m)
			}
		}
		if start := fams["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue(); math.Abs(float64(time.Now().Unix())-start) > 600 {
			t.Errorf("%s: process_start_time_seconds %v", name, start)
		}
	}
	// That the dashboards and alert rules query only exported series is
	// TestPrometheusScrapesTheBinaries's to check, through a real Prometheus.

	devices := map[string]float64{}
	for _, m := range cloud["tributary_cloud_devices"].GetMetric() {
		devices[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if devices["online"] != 2 || devices["offline"] != 0 {
		t.Errorf("tributary_cloud_devices %v, want 2 online, 0 offline", devices)
	}
}

// scrapeFamilies fetches url and parses the text exposition.
func scrapeFamilies(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

// histogram returns the series of the histogram name with label (none if
// label is empty), failing the test if there is none.
func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, label [2]string) *dto.Histogram {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		match := label[0] == ""
		for _, l := range m.GetLabel() {
			match = match || l.GetName() == label[0] && l.GetValue() == label[1]
		}
		if match && m.GetHistogram() != nil {
			return m.GetHistogram()
		}
	}
	t.Fatalf("no histogram %s%v", name, label)
	return nil
}

// quantile estimates the q-quantile of h as Prometheus's
// histogram_quantile does: linear within the bucket that holds it.
func quantile(q float64, h *dto.Histogram) float64 {
	bs := h.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	n := float64(h.GetSampleCount())
	if n == 0 {
		return math.NaN()
	}
	rank, lower, below := q*n, 0.0, 0.0
	for _, b := range bs {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			if c == below {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(c-below)
		}
		lower, below = b.GetUpperBound(), c
	}
	return lower // in the +Inf bucket: the highest finite bound
}
