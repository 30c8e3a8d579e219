package web

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/reading"
)

// BenchmarkFanout100Clients measures the whole live path: store.Ingest on a
// real redis-server, PUBLISH, the relay, the hub and 100 real WebSocket
// clients of the HTTP server. b.N readings are ingested in batches of 100
// (ten devices in turn), with at most 500 readings in flight (ingested
// but not yet received by every client), which keeps every queue far from
// its limit. It reports readings delivered per second across all clients
// and the end-to-end latency, from the Ingest call to a client's receipt.
//
//	go test -run '^$' -bench Fanout -benchtime 20000x ./web/
func BenchmarkFanout100Clients(b *testing.B) { benchFanout(b, 0) }

// BenchmarkFanout100ClientsAt2000PerSecond is the same path at a steady
// 2000 readings/s (batches of 10 every 5 ms, as a fleet of a few hundred
// agents would send), so its latency is that of a lightly loaded cloud
// rather than of a saturated one.
func BenchmarkFanout100ClientsAt2000PerSecond(b *testing.B) { benchFanout(b, 2000) }

// benchFanout ingests b.N readings as fast as the window allows (rate 0) or
// at rate readings/s.
func benchFanout(b *testing.B, rate int) {
	const (
		clients = 100
		devices = 10
		window  = 500
	)
	batch := 100
	if rate > 0 {
		batch = 10
	}
	// The latencies observed as the cloud observes them (cmd/cloud).
	obs := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "reading_latency_seconds", Buckets: latency.Buckets}, []string{"stage"})
	f := newFixture(b, fixtureOptions{hub: fanout.Options{WriteLatency: obs.WithLabelValues("write")}, relayLatency: obs.WithLabelValues("relay")})
	n := b.N
	sent := make([]atomic.Int64, n+1) // by seq: unix ns of the Ingest call
	got := make([]atomic.Int64, clients)
	lat := make([][]int64, clients) // ns, per client
	progress := make(chan struct{}, 1)
	done := make(chan error, clients)
	for c := range clients {
		conn := f.dialRaw(b, "")
		if _, _, err := conn.ReadMessage(); err != nil { // the status
			b.Fatal(err)
		}
		lat[c] = make([]int64, 0, n)
		go func() { done <- benchClient(conn, n, sent, &got[c], &lat[c], progress) }()
	}
	minGot := func() int64 {
		m := int64(n)
		for i := range got {
			m = min(m, got[i].Load())
		}
		return m
	}
	awaitProgress := func() {
		select {
		case <-progress:
		case err := <-done:
			b.Fatalf("client ended early: %v", err)
		case <-time.After(30 * time.Second):
			b.Fatalf("no progress in 30s; slowest client at %d of %d", minGot(), n)
		}
	}
	ctx := context.Background()
	devs := make([]string, devices)
	for i := range devs {
		devs[i] = fmt.Sprintf("bench-%02d", i)
	}
	rs := make([]reading.Reading, 0, batch)
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

	b.ResetTimer()
	start := time.Now()
	for next := 0; next < n; {
		for int64(next)-minGot() > int64(window-batch) {
			awaitProgress()
		}
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(next) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d) // pacing the load, not waiting for a result
			}
		}
		k := min(batch, n-next)
		dev := devs[(next/batch)%devices]
		rs = rs[:0]
		for i := range k {
			seq := uint64(next + i + 1)
			rs = append(rs, reading.Reading{Device: dev, Sensor: "sim", Metric: "temperature", Value: float64(seq) / 100, Unit: "Cel", Time: t0.Add(time.Duration(seq) * time.Millisecond), Seq: seq})
		}
		now := time.Now().UnixNano()
		for i := range k {
			sent[next+i+1].Store(now)
		}
		if _, err := f.st.Ingest(ctx, rs); err != nil {
			b.Fatal(err)
		}
		next += k
	}
	for range clients {
		select {
		case err := <-done:
			if err != nil {
				b.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			b.Fatalf("clients not done after 30s; slowest at %d of %d", minGot(), n)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()

	if slow := metricValue(b, f, "tributary_cloud_websocket_slow_disconnects_total"); slow != 0 {
		b.Fatalf("%v slow disconnects", slow)
	}
	all := make([]int64, 0, n*clients)
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "readings/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchClient reads frames until it has n readings, recording each one's
// latency from the send time of its seq. It reads seqs straight from the
// frame bytes: decoding every reading in 100 clients would measure the
// clients, not the server.
func benchClient(conn *websocket.Conn, n int, sent []atomic.Int64, got *atomic.Int64, lat *[]int64, progress chan<- struct{}) error {
	key := []byte(`"seq":`)
	count := 0
	var buf bytes.Buffer
	for count < n {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, r, err := conn.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			return fmt.Errorf("after %d readings: %w", count, err)
		}
		now := time.Now().UnixNano()
		data := buf.Bytes()
		for {
			i := bytes.Index(data, key)
			if i < 0 {
				break
			}
			data = data[i+len(key):]
			seq := 0
			for len(data) > 0 && data[0] >= '0' && data[0] <= '9' {
				seq = seq*10 + int(data[0]-'0')
				data = data[1:]
			}
			if seq < 1 || seq >= len(sent) {
				return fmt.Errorf("seq %d out of range", seq)
			}
			*lat = append(*lat, now-sent[seq].Load())
			count++
		}
		got.Store(int64(count))
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	return nil
}
