package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
)

// footprintWindowEnv sets how long BenchmarkEdgeFootprint measures each
// run (a Go duration); default 30s.
const footprintWindowEnv = "TRIBUTARY_FOOTPRINT_WINDOW"

// BenchmarkEdgeFootprint measures what the edge's own dashboard costs the
// agent, for the Pi Zero: the edge binary with ten simulated sensors read
// every second (testdata/ten-sensors.yaml) sending to a real Redis, first
// without --listen, then with it and two dashboards open (each: the page,
// a 3000-reading history, a WebSocket of live readings, GET /api/edge
// every 2 s, as js/edge.js polls). It reports each run's resident memory
// (VmRSS at the end, and its peak VmHWM) and CPU (user+system over the
// window, % of one core). Run it with make bench, or alone:
//
//	go test -run '^$' -bench EdgeFootprint ./internal/e2e
func BenchmarkEdgeFootprint(b *testing.B) {
	window := 30 * time.Second
	if v := os.Getenv(footprintWindowEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("$%s=%q: want a positive duration", footprintWindowEnv, v)
		}
		window = d
	}
	bin := binPath(b, "edge")
	srv := redistest.Start(b, redistest.Options{})
	for b.Loop() {
		plain := footprint(b, bin, srv.URL(), window, false)
		dash := footprint(b, bin, srv.URL(), window, true)
		b.ReportMetric(plain.rssMiB, "RSS-MiB-plain")
		b.ReportMetric(dash.rssMiB, "RSS-MiB-dashboard")
		b.ReportMetric(plain.hwmMiB, "peakRSS-MiB-plain")
		b.ReportMetric(dash.hwmMiB, "peakRSS-MiB-dashboard")
		b.ReportMetric(plain.cpu, "CPU-%-plain")
		b.ReportMetric(dash.cpu, "CPU-%-dashboard")
	}
}

type usage struct {
	rssMiB, hwmMiB, cpu float64
}

// footprint runs one edge for window (after a warm-up of 10 s) and
// measures it.
func footprint(b *testing.B, bin, redisURL string, window time.Duration, dashboard bool) usage {
	b.Helper()
	args := []string{"--device", "footprint", "--sim", "--config", "testdata/ten-sensors.yaml", "--redis", redisURL,
		"--state-dir", b.TempDir(), "--metrics-listen", ""}
	if dashboard {
		args = append(args, "--listen", "127.0.0.1:0")
	}
	p := proctest.Start(b, "edge footprint", bin, args...)
	defer p.Stop()
	p.Await(b, `msg="agent started"`, time.Minute)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if dashboard {
		base := p.Await(b, `msg="dashboard serving" .* url=(http://127\.0\.0\.1:\d+)/`, time.Second)
		for range 2 {
			openDashboard(b, &wg, stop, base)
		}
	}
	time.Sleep(10 * time.Second) // warm-up: a measured window, not an await
	pid := p.Cmd.Process.Pid
	before := cpuTicks(b, pid)
	time.Sleep(window)
	used := cpuTicks(b, pid) - before
	rss, hwm := memKiB(b, pid)
	close(stop)
	wg.Wait()
	return usage{rssMiB: rss / 1024, hwmMiB: hwm / 1024, cpu: 100 * float64(used) / 100 / window.Seconds()} // 100 ticks a second
}

// openDashboard does what an open dashboard does, until stop.
func openDashboard(b *testing.B, wg *sync.WaitGroup, stop chan struct{}, base string) {
	b.Helper()
	for _, path := range []string{"/", "/js/main.js", "/js/edge.js", "/api/devices", "/api/devices/footprint/readings?limit=3000", "/api/edge"} {
		httpGet(b, base+path)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/stream", nil)
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		defer conn.Close()
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				httpGet(b, base+"/api/edge")
			}
		}
	})
}

func httpGet(b *testing.B, url string) {
	resp, err := http.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("GET %s: %s", url, resp.Status)
	}
}

// cpuTicks is the user and system time pid has used, in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the line.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// memKiB is pid's resident memory and its peak, in KiB.
func memKiB(b *testing.B, pid int) (rss, hwm float64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			v, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				rss = v
			} else {
				hwm = v
			}
		}
	}
	return rss, hwm
}
