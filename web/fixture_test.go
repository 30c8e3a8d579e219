package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/fanout"
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
}

type fixtureOptions struct {
	web func(*Options) // adjusts the handler's options
	hub fanout.Options // the hub's options
	st  store.Options  // the store's options
	raw bool           // don't wait for the relay to be live
	// smallBuffers shrinks the server's socket send buffers, so that a
	// client that stops reading fills them after kilobytes, not megabytes.
	smallBuffers bool
}

func newFixture(t testing.TB, fo fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{redis: redistest.Start(t, redistest.Options{}), reg: prometheus.NewRegistry()}
	f.st = store.New(f.redis.Client(t), fo.st)
	f.hub = fanout.NewHub(fo.hub)
	f.src = redissource.New(f.st, redissource.Options{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	for _, c := range []prometheus.Collector{f.hub.Collector("tributary_cloud"), f.src.Collector("tributary_cloud")} {
		if err := f.reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	opt := Options{
		Store: f.st, Hub: f.hub, Ready: f.src.Ready, Gatherer: f.reg,
		Now: func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) },
	}
	if fo.web != nil {
		fo.web(&opt)
	}
	f.auth = [2]string{opt.AuthUser, opt.AuthPassword}
	h, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(h)
	if fo.smallBuffers {
		f.srv.Listener = smallBufferListener{f.srv.Listener}
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
		c.awaitLive(t)
		c.conn.Close()
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

// smallBufferListener gives accepted connections a small send buffer.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetWriteBuffer(smallBuffer); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, err
}

const smallBuffer = 16 << 10

// dialSmallBuffer opens /api/stream with a small socket receive buffer, for
// a client that will stop reading.
func (f *fixture) dialSmallBuffer(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := c.(*net.TCPConn).SetReadBuffer(smallBuffer); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}}
	conn, _, err := d.Dial(f.wsURL(query), f.header())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialRaw opens /api/stream with the fixture's credentials; nothing reads
// it unless the test does.
func (f *fixture) dialRaw(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	conn, status, err := f.dialHeader(query, f.header())
	if err != nil {
		t.Fatalf("dial %s: %d %v", query, status, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dial opens /api/stream with a goroutine reading its frames.
func (f *fixture) dial(t testing.TB, query string) *wsClient {
	t.Helper()
	return startReader(f.dialRaw(t, query))
}

// wsClient is a WebSocket client whose frames a goroutine reads.
type wsClient struct {
	conn   *websocket.Conn
	frames chan reading.Frame
	done   chan error
	pongs  chan struct{}
}

func startReader(conn *websocket.Conn) *wsClient {
	c := &wsClient{conn: conn, frames: make(chan reading.Frame, 1<<14), done: make(chan error, 1), pongs: make(chan struct{}, 16)}
	conn.SetPongHandler(func(string) error { c.pongs <- struct{}{}; return nil })
	go func() {
		for {
			typ, data, err := conn.ReadMessage()
			if err == nil && typ != websocket.TextMessage {
				err = fmt.Errorf("frame type %d, want text", typ)
			}
			var fr reading.Frame
			if err == nil {
				if fr, err = reading.DecodeFrame(data); err != nil {
					err = fmt.Errorf("decode %s: %w", data, err)
				}
			}
			if err != nil {
				c.done <- err
				close(c.frames)
				return
			}
			c.frames <- fr
		}
	}()
	return c
}

func (c *wsClient) frame(t testing.TB) reading.Frame {
	t.Helper()
	select {
	case fr, ok := <-c.frames:
		if !ok {
			t.Fatalf("connection ended: %v", <-c.done)
		}
		return fr
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	panic("unreachable")
}

// send writes a text message and returns once the server has handled it:
// the server answers the ping that follows only after it.
func (c *wsClient) send(t testing.TB, msg string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.pongs:
	case <-c.done:
		// closed instead; the caller checks why
	case <-time.After(10 * time.Second):
		t.Fatal("no pong within 10s")
	}
}

// status reads a frame and checks it is a status with live.
func (c *wsClient) status(t testing.TB, live bool) reading.Status {
	t.Helper()
	fr := c.frame(t)
	if fr.Type != reading.FrameStatus || fr.Status == nil || fr.Status.Live != live {
		t.Fatalf("got %+v, want status live=%v", fr, live)
	}
	return *fr.Status
}

// awaitLive reads status frames until one says live.
func (c *wsClient) awaitLive(t testing.TB) {
	t.Helper()
	for {
		if fr := c.frame(t); fr.Type != reading.FrameStatus || fr.Status == nil {
			t.Fatalf("got %+v, want status", fr)
		} else if fr.Status.Live {
			return
		}
	}
}

// readings reads frames until it has n readings.
func (c *wsClient) readings(t testing.TB, n int) []reading.Reading {
	t.Helper()
	var out []reading.Reading
	for len(out) < n {
		fr := c.frame(t)
		if fr.Type != reading.FrameReadings {
			t.Fatalf("got %+v after %d of %d readings, want readings", fr, len(out), n)
		}
		out = append(out, fr.Readings...)
	}
	if len(out) != n {
		t.Fatalf("got %d readings, want %d", len(out), n)
	}
	return out
}

// closed waits for the connection to end with code and a reason holding
// want, skipping frames still queued.
func (c *wsClient) closed(t testing.TB, code int, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-c.done:
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Text, want) {
				t.Fatalf("connection ended with %v, want close %d %q", err, code, want)
			}
			return
		case <-c.frames:
		case <-timeout:
			t.Fatalf("not closed within 10s, want close %d", code)
		}
	}
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
