package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// units is what each simulated metric must carry.
var units = map[string]string{"temperature": "Cel", "humidity": "%", "pressure": "hPa", "door": "1",
	"on": "1", "duty": "%"} // the simulated heater's and fan's states

// ranges are the physically believable values of each simulated metric.
var ranges = map[string][2]float64{"temperature": {-30, 50}, "humidity": {0, 100}, "pressure": {900, 1100}, "door": {0, 1},
	"on": {0, 1}, "duty": {0, 100}}

// startCloud runs the cloud binary and returns its base URL.
func startCloud(t *testing.T, args ...string) (*proctest.Proc, string) {
	t.Helper()
	p := proctest.Start(t, "cloud", binPath(t, "cloud"), append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	return p, p.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+)/`, 20*time.Second)
}

// startEdge runs an edge agent with simulated sensors sampling every 50 ms.
func startEdge(t *testing.T, device, redisURL string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, "edge "+device, binPath(t, "edge"), "--device", device, "--sim", "--redis", redisURL,
		"--interval", "50ms", "--state-dir", t.TempDir(), "--metrics-listen", "")
}

// checkReadings asserts what a dashboard relies on: known devices only,
// the right unit and a believable value for every metric, and seqs that
// only grow per device. It returns the readings per device.
func checkReadings(t *testing.T, rs []reading.Reading, devices ...string) map[string][]reading.Reading {
	t.Helper()
	by := map[string][]reading.Reading{}
	for _, r := range rs {
		by[r.Device] = append(by[r.Device], r)
	}
	for dev, list := range by {
		found := false
		for _, d := range devices {
			found = found || d == dev
		}
		if !found {
			t.Fatalf("reading of device %q, want only %v", dev, devices)
		}
		for i, r := range list {
			if u, ok := units[r.Metric]; !ok || u != r.Unit {
				t.Fatalf("%s: metric %q with unit %q", dev, r.Metric, r.Unit)
			}
			if rg := ranges[r.Metric]; r.Value < rg[0] || r.Value > rg[1] || math.IsNaN(r.Value) {
				t.Fatalf("%s: %s = %v, outside %v", dev, r.Metric, r.Value, rg)
			}
			if age := time.Since(r.Time); age < -time.Second || age > time.Minute {
				t.Fatalf("%s: reading %v old", dev, age)
			}
			if i > 0 && r.Seq <= list[i-1].Seq {
				t.Fatalf("%s: seq %d after %d: out of order or repeated", dev, r.Seq, list[i-1].Seq)
			}
		}
	}
	return by
}

// enough reports whether every device has at least n readings and every
// simulated metric was seen.
func enough(n int, devices ...string) func([]reading.Reading) bool {
	return func(rs []reading.Reading) bool {
		count := map[string]int{}
		metrics := map[string]bool{}
		for _, r := range rs {
			count[r.Device]++
			metrics[r.Metric] = true
		}
		for _, d := range devices {
			if count[d] < n {
				return false
			}
		}
		return len(metrics) == len(units)
	}
}

func TestPipelineOverRedisServer(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	_, base := startCloud(t, "--redis", srv.URL())
	all := dialStream(t, base, "")
	onlyA := dialStream(t, base, "?device=e2e-a")
	startEdge(t, "e2e-a", srv.URL())
	startEdge(t, "e2e-b", srv.URL())

	checkReadings(t, all.readings(30*time.Second, enough(20, "e2e-a", "e2e-b")), "e2e-a", "e2e-b")
	got := checkReadings(t, onlyA.readings(30*time.Second, enough(20, "e2e-a")), "e2e-a")
	if len(got) != 1 {
		t.Fatalf("?device=e2e-a got devices %v", got)
	}

	ctx := context.Background()
	var devs []struct {
		ID     string            `json:"id"`
		Online bool              `json:"online"`
		Latest []reading.Reading `json:"latest"`
	}
	getJSON(t, ctx, base+"/api/devices", &devs)
	if len(devs) != 2 || devs[0].ID != "e2e-a" || devs[1].ID != "e2e-b" || !devs[0].Online || len(devs[0].Latest) != len(units) {
		t.Fatalf("/api/devices = %+v", devs)
	}
	var hist struct {
		Device   string            `json:"device"`
		Readings []reading.Reading `json:"readings"`
	}
	getJSON(t, ctx, base+"/api/devices/e2e-a/readings?limit=10", &hist)
	if hist.Device != "e2e-a" || len(hist.Readings) != 10 {
		t.Fatalf("history: device %q, %d readings", hist.Device, len(hist.Readings))
	}
	checkReadings(t, hist.Readings, "e2e-a")
}

func TestPipelineOverEmbeddedRedis(t *testing.T) {
	cloud := proctest.Start(t, "cloud", binPath(t, "cloud"), "--listen", "127.0.0.1:0")
	addr := cloud.Await(t, `embedded, in-memory Redis.* addr=(127\.0\.0\.1:\d+)`, 20*time.Second)
	base := cloud.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+)/`, 20*time.Second)
	all := dialStream(t, base, "")
	startEdge(t, "pi-1", "redis://"+addr)
	startEdge(t, "pi-2", "redis://"+addr)
	checkReadings(t, all.readings(30*time.Second, enough(20, "pi-1", "pi-2")), "pi-1", "pi-2")
}

// TestRedisRestartMidStream kills Redis while agents send and a dashboard
// watches: the client is told live data stopped, and once Redis is back the
// cloud has resubscribed and the agents reconnected, so readings flow again.
func TestRedisRestartMidStream(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	_, base := startCloud(t, "--redis", srv.URL())
	s := dialStream(t, base, "")
	startEdge(t, "r-1", srv.URL())
	before := s.readings(30*time.Second, enough(10, "r-1"))
	last := before[len(before)-1].Seq

	srv.Stop()
	for f := s.next(30 * time.Second); ; f = s.next(30 * time.Second) {
		if f.Type == reading.FrameStatus && !f.Status.Live {
			break
		}
	}
	srv.Restart(t)
	after := s.readings(60*time.Second, func(rs []reading.Reading) bool {
		return len(rs) > 0 && rs[len(rs)-1].Seq > last+20
	})
	checkReadings(t, after, "r-1")
	if after[0].Seq <= last {
		t.Fatalf("after the restart seq %d, before it %d", after[0].Seq, last)
	}
}

// TestSlowClientDoesNotStallOthers floods the pipeline while one client
// never reads: the others get every reading, in order.
func TestSlowClientDoesNotStallOthers(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	_, base := startCloud(t, "--redis", srv.URL())
	// Not read until the end, with a small receive buffer so that the
	// kernel does not absorb the flood on its behalf.
	dialStreamWith(t, base, "", smallBuffers)
	fast := []*stream{dialStream(t, base, ""), dialStream(t, base, "?device=flood")}
	for _, f := range fast { // the first frame is the status; then we are subscribed
		if fr := f.next(10 * time.Second); fr.Type != reading.FrameStatus {
			t.Fatalf("first frame %+v", fr)
		}
	}
	st := store.New(srv.Client(t), store.Options{})
	const total = 50000
	// The fast clients read concurrently; the flood waits whenever one of
	// them is more than 2000 readings behind, so only the stalled client
	// can fall behind by its whole queue.
	var received [2]atomic.Int64
	errs := make(chan error, len(fast))
	for i, f := range fast {
		go func() {
			var next uint64 = 1
			for next <= total {
				f.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, data, err := f.conn.ReadMessage()
				if err != nil {
					errs <- fmt.Errorf("client %d after seq %d: %w", i, next-1, err)
					return
				}
				fr, err := reading.DecodeFrame(data)
				if err != nil {
					errs <- err
					return
				}
				for _, r := range fr.Readings {
					if r.Seq != next {
						errs <- fmt.Errorf("client %d: seq %d, want %d", i, r.Seq, next)
						return
					}
					next++
				}
				received[i].Store(int64(next - 1))
			}
			errs <- nil
		}()
	}
	finished := 0
	batch := make([]reading.Reading, 0, 500)
	for seq := uint64(1); seq <= total; seq++ {
		batch = append(batch, reading.Reading{Device: "flood", Sensor: "sim", Metric: "temperature",
			Value: float64(seq % 40), Unit: "Cel", Time: time.Now(), Seq: seq})
		if len(batch) < cap(batch) {
			continue
		}
		if _, err := st.Ingest(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
		for i := range received {
			for int64(seq)-received[i].Load() > 2000 {
				select {
				case err := <-errs:
					if err != nil {
						t.Fatalf("a fast client failed: %v", err)
					}
					finished++
				case <-time.After(time.Millisecond):
				}
			}
		}
	}
	for ; finished < len(fast); finished++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The stalled client was cut off as slow rather than allowed to hold
	// readings back. (Its socket, with its tiny window, is not drained here:
	// TCP's zero-window probing would make that take minutes.)
	if got := metric(t, base, "tributary_cloud_websocket_slow_disconnects_total"); got != 1 {
		t.Fatalf("slow disconnects = %v, want 1", got)
	}
}

// metric returns the value of an unlabelled metric from the cloud's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", name, b)
	return 0
}
