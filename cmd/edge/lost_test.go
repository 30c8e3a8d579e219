package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
)

// scrapeOne reads the value of the metric line name (with its labels) at url,
// or -1 if absent.
func scrapeOne(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLossesOutliveTheProcess: an edge whose uplink is down and whose spool
// is full drops readings; after a restart (with a working uplink, so that
// nothing more is dropped) its metrics start where they were and its log
// says the totals.
func TestLossesOutliveTheProcess(t *testing.T) {
	const (
		spoolFull = `tributary_edge_spool_dropped_total{reason="full"}`
		queueFull = `tributary_edge_dropped_readings_total{reason="queue_full"}`
	)
	proctest.SkipShort(t, "redis-server and two edge runs (8 s)")
	dir := t.TempDir()
	r := startRun(t, "--device", "edge-lost", "--redis", "redis://127.0.0.1:1", "--state-dir", dir,
		"--interval", "10ms", "--spool-max-size", "2KiB", "--metrics-listen", "127.0.0.1:0")
	url := r.stderr.Await(t, `metrics=(http://\S+/metrics)`, 30*time.Second)
	await(t, "drops of a full spool", func() bool { return scrapeOne(t, url, spoolFull) >= 20 && scrapeOne(t, url, queueFull) >= 20 })
	spool, queue := scrapeOne(t, url, spoolFull), scrapeOne(t, url, queueFull)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	srv := redistest.Start(t, redistest.Options{})
	r = startRun(t, "--device", "edge-lost", "--redis", srv.URL(), "--state-dir", dir,
		"--interval", "10ms", "--metrics-listen", "127.0.0.1:0")
	url = r.stderr.Await(t, `metrics=(http://\S+/metrics)`, 30*time.Second)
	if got := scrapeOne(t, url, spoolFull); got < spool {
		t.Errorf("after a restart %s = %v, was %v", spoolFull, got, spool)
	}
	if got := scrapeOne(t, url, queueFull); got < queue {
		t.Errorf("after a restart %s = %v, was %v", queueFull, got, queue)
	}
	r.stderr.Await(t, `readings dropped over the spool's life.* full=\d+`, 30*time.Second)
	r.stderr.Await(t, `readings dropped before this start.* queue_full=\d+`, 30*time.Second)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
