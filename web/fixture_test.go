package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/fanout/redissource"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// fixture is the cloud in-process: a real redis-server, a store, a hub fed
// by a running relay, and the handler on an httptest server.
type fixture struct {
	redis *redistest.Server
	st    *store.Store
	hub   *fanout.Hub
	src   *redissource.Source
	reg   *prometheus.Registry
	srv   *httptest.Server
	skew  atomic.Int64 // added to the handler's clock, in ns
	auth  [2]string    // user and password the helpers send, if any
	s     *server      // the handler's state
}

type fixtureOptions struct {
	web func(*Options) // adjusts the handler's options
	hub fanout.Options // the hub's options
	// relayLatency is the relay's Options.RelayLatency.
	relayLatency prometheus.Observer
	st           store.Options // the store's options
	raw          bool          // don't wait for the relay to be live
	// smallBuffers shrinks the server's socket send buffers, so that a
	// client that stops reading fills them after kilobytes, not megabytes.
	smallBuffers bool
}

func newFixture(t testing.TB, fo fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{redis: redistest.Start(t, redistest.Options{}), reg: prometheus.NewRegistry()}
	f.st = store.New(f.redis.Client(t), fo.st)
	f.hub = fanout.NewHub(fo.hub)
	f.src = redissource.New(f.st, redissource.Options{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RelayLatency: fo.relayLatency})
	skips := new(SkipCounter)
	for _, c := range []prometheus.Collector{f.hub.Collector("tributary_cloud"), f.src.Collector("tributary_cloud"), skips.Collector("tributary_cloud")} {
		if err := f.reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	opt := Options{
		Store: f.st, Hub: f.hub, Ready: f.src.Ready, Gatherer: f.reg, Skips: skips,
		Now: func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
	}
	if fo.web != nil {
		fo.web(&opt)
	}
	f.auth = [2]string{opt.AuthUser, opt.AuthPassword}
	s, h, err := newServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	f.srv = httptest.NewUnstartedServer(h)
	if fo.smallBuffers {
		f.srv.Listener = fanouttest.SmallBuffers(f.srv.Listener)
	}
	f.srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.hub.Run(ctx, f.src) }()
	t.Cleanup(func() {
		f.srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := f.hub.Shutdown(sctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub's source: %v", err)
		}
	})
	if !fo.raw {
		c := f.dial(t, "")
		c.AwaitLive(t)
		c.Conn.Close()
	}
	return f
}

// get fetches path with the fixture's credentials and returns the status
// and body.
func (f *fixture) get(t testing.TB, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.auth[0] != "" {
		req.SetBasicAuth(f.auth[0], f.auth[1])
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// getJSON fetches path, checks the status and decodes the body into v.
func (f *fixture) getJSON(t testing.TB, path string, status int, v any) {
	t.Helper()
	code, body := f.get(t, path)
	if code != status {
		t.Fatalf("GET %s: %d %s, want %d", path, code, body, status)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func (f *fixture) ingest(t testing.TB, rs ...reading.Reading) {
	t.Helper()
	res, err := f.st.Ingest(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != len(rs) {
		t.Fatalf("stored %d of %d", res.Stored, len(rs))
	}
}

func (f *fixture) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/api/stream" + query
}

// dialHeader opens /api/stream with header; on a refused handshake it
// returns the response status.
func (f *fixture) dialHeader(query string, header http.Header) (*websocket.Conn, int, error) {
	conn, resp, err := websocket.DefaultDialer.Dial(f.wsURL(query), header)
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode, err
		}
		return nil, 0, err
	}
	return conn, resp.StatusCode, nil
}

func (f *fixture) header() http.Header {
	h := http.Header{}
	if f.auth[0] != "" {
		r := &http.Request{Header: h}
		r.SetBasicAuth(f.auth[0], f.auth[1])
	}
	return h
}

// dialer dials /api/stream with the fixture's credentials.
func (f *fixture) dialer() fanouttest.Dialer { return fanouttest.Dialer{Header: f.header()} }

// dialRaw opens /api/stream; nothing reads it unless the test does.
func (f *fixture) dialRaw(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	return f.dialer().DialRaw(t, f.wsURL(query))
}

// dial opens /api/stream with a client that reads its frames.
func (f *fixture) dial(t testing.TB, query string) *fanouttest.Client {
	t.Helper()
	return f.dialer().Dial(t, f.wsURL(query))
}

func testReading(dev, sensor, metric, unit string, seq uint64, v float64) reading.Reading {
	return reading.Reading{
		Device: dev, Sensor: sensor, Metric: metric, Value: v, Unit: unit,
		Time: time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second), Seq: seq,
	}
}

func temp(dev string, seq uint64, v float64) reading.Reading {
	return testReading(dev, "bme280", "temperature", "Cel", seq, v)
}

// metricValue returns the value of the fixture's counter or gauge name.
func metricValue(t testing.TB, f *fixture, name string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
