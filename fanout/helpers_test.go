package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/reading"
)

// testServer serves a hub over WebSocket the way web/ does, and reports
// each finished client on served.
type testServer struct {
	hub    *Hub
	srv    *httptest.Server
	served chan struct{}
}

func newTestServer(t *testing.T, h *Hub) *testServer {
	t.Helper()
	ts := &testServer{hub: h, served: make(chan struct{}, 100)}
	up := websocket.Upgrader{}
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sel, err := ParseSelection(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		h.Serve(context.Background(), conn, sel)
		ts.served <- struct{}{}
	}))
	// Small socket buffers: a client that stops reading fills them after
	// kilobytes, not megabytes.
	ts.srv.Listener = smallBufferListener{ts.srv.Listener}
	ts.srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		ts.srv.Close()
	})
	return ts
}

func (ts *testServer) url(query string) string {
	return "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/" + query
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

// dialRaw connects a client that reads nothing unless the test does; it
// is closed when the test ends.
func (ts *testServer) dialRaw(t *testing.T, query string) *websocket.Conn {
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
	conn, resp, err := d.Dial(ts.url(query), nil)
	if err != nil {
		t.Fatalf("dial %s: %v (response %v)", query, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dial connects a client with a goroutine that reads its frames.
func (ts *testServer) dial(t *testing.T, query string) *testClient {
	t.Helper()
	return startReader(ts.dialRaw(t, query))
}

// await waits for a served client to finish.
func (ts *testServer) await(t *testing.T) {
	t.Helper()
	select {
	case <-ts.served:
	case <-time.After(10 * time.Second):
		t.Fatal("no client finished within 10s")
	}
}

// testClient is a WebSocket client whose frames a goroutine reads.
type testClient struct {
	conn   *websocket.Conn
	frames chan reading.Frame
	done   chan error // the read error that ended the client

	pongMu   sync.Mutex
	lastPong string        // payload of the latest pong
	pong     chan struct{} // a token when a pong arrives
	syncs    int           // sync pings sent; used by sync only
}

func startReader(conn *websocket.Conn) *testClient {
	c := &testClient{conn: conn, frames: make(chan reading.Frame, 1<<14), done: make(chan error, 1), pong: make(chan struct{}, 1)}
	// Never blocks, so that pongs nobody waits for cannot stall the reader.
	conn.SetPongHandler(func(s string) error {
		c.pongMu.Lock()
		c.lastPong = s
		c.pongMu.Unlock()
		select {
		case c.pong <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			typ, data, err := conn.ReadMessage()
			if err == nil && typ != websocket.TextMessage {
				err = fmt.Errorf("frame type %d, want text", typ)
			}
			var f reading.Frame
			if err == nil {
				if f, err = reading.DecodeFrame(data); err != nil {
					err = fmt.Errorf("decode %s: %w", data, err)
				}
			}
			if err != nil {
				c.done <- err
				close(c.frames)
				return
			}
			c.frames <- f
		}
	}()
	return c
}

// frame returns the next frame, failing the test after 10s or if the
// connection ended.
func (c *testClient) frame(t *testing.T) reading.Frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatalf("connection ended: %v", <-c.done)
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	panic("unreachable")
}

// status reads one frame and checks it is a status with live.
func (c *testClient) status(t *testing.T, live bool) reading.Status {
	t.Helper()
	f := c.frame(t)
	if f.Type != reading.FrameStatus || f.Status == nil || f.Status.Live != live {
		t.Fatalf("got frame %+v, want status live=%v", f, live)
	}
	return *f.Status
}

// awaitLive reads status frames until one says live; further reasons for
// not being live may come first. Readings frames fail the test.
func (c *testClient) awaitLive(t *testing.T) {
	t.Helper()
	for {
		f := c.frame(t)
		if f.Type != reading.FrameStatus || f.Status == nil {
			t.Fatalf("got %+v, want status", f)
		}
		if f.Status.Live {
			return
		}
	}
}

// readings reads frames until it has n readings; other frames fail the test.
func (c *testClient) readings(t *testing.T, n int) []reading.Reading {
	t.Helper()
	var out []reading.Reading
	for len(out) < n {
		f := c.frame(t)
		if f.Type != reading.FrameReadings {
			t.Fatalf("got %+v frame after %d of %d readings, want readings", f, len(out), n)
		}
		out = append(out, f.Readings...)
	}
	if len(out) != n {
		t.Fatalf("got %d readings, want %d", len(out), n)
	}
	return out
}

// closed waits for the connection to end and checks it was closed with
// code and a reason containing want. Frames still queued are skipped.
func (c *testClient) closed(t *testing.T, code int, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-c.done:
			checkClose(t, err, code, want)
			return
		case <-c.frames:
		case <-timeout:
			t.Fatalf("not closed within 10s, want close %d", code)
		}
	}
}

func checkClose(t *testing.T, err error, code int, want string) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want close %d", err, code)
	}
	if ce.Code != code || !strings.Contains(ce.Text, want) {
		t.Fatalf("got close %d %q, want %d containing %q", ce.Code, ce.Text, code, want)
	}
}

// sync returns once the server has handled every message sent before: the
// server answers a ping only after the messages ahead of it. Pongs to other
// pings are skipped.
func (c *testClient) sync(t *testing.T) {
	t.Helper()
	c.syncs++
	want := fmt.Sprintf("sync %d", c.syncs)
	if err := c.conn.WriteControl(websocket.PingMessage, []byte(want), time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case <-c.pong:
			c.pongMu.Lock()
			got := c.lastPong
			c.pongMu.Unlock()
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no pong to %q within 10s", want)
		}
	}
}

// send writes a text message.
func (c *testClient) send(t *testing.T, msg string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// logRecorder is a slog.Handler that keeps every record, for tests that
// check what was logged. It is safe for concurrent use.
type logRecorder struct {
	mu     sync.Mutex
	recs   []loggedRecord
	logged chan struct{} // a token when a record arrives
}

func newLogRecorder() *logRecorder { return &logRecorder{logged: make(chan struct{}, 1)} }

// loggedRecord is a record's message and its attributes as text.
type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	select {
	case l.logged <- struct{}{}:
	default:
	}
	return nil
}

// await waits until n records with msg have been logged.
func (l *logRecorder) await(t *testing.T, msg string, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for len(l.find(msg)) < n {
		select {
		case <-l.logged:
		case <-timeout:
			t.Fatalf("%q logged %d times within 10s, want %d", msg, len(l.find(msg)), n)
		}
	}
}

// level returns the attributes of the records logged at level so far.
func (l *logRecorder) level(level slog.Level) []loggedRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedRecord
	for _, r := range l.recs {
		if r.level == level {
			out = append(out, r)
		}
	}
	return out
}

// find returns the attributes of the records logged with msg so far.
func (l *logRecorder) find(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.msg == msg {
			out = append(out, r.attrs)
		}
	}
	return out
}

func testReading(dev string, seq uint64, v float64) reading.Reading {
	return reading.Reading{
		Device: dev, Sensor: "sim", Metric: "temperature", Value: v, Unit: "Cel",
		Time: time.Date(2026, 11, 26, 23, 1, 13, 0, time.UTC).Add(time.Duration(seq) * time.Second), Seq: seq,
	}
}

func encoded(r reading.Reading) []byte { return r.AppendJSON(nil) }
