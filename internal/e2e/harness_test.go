package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/reading"
)

// otherBins are binaries built for some tests only (the ARM targets), each
// once; TestMain removes them.
var otherBins struct {
	sync.Mutex
	built []*proctest.Binaries
}

// bins are the three binaries, built once, on first use.
var bins = proctest.Binaries{Packages: []string{modulePath + "/cmd/edge", modulePath + "/cmd/cloud", modulePath + "/cmd/bridge"}}

const modulePath = "github.com/tributary-iot/tributary"

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	for _, b := range otherBins.built {
		b.Remove()
	}
	os.Exit(code)
}

// binPath returns the path of the built cmd/name; under -short it skips the
// test.
func binPath(t testing.TB, name string) string {
	t.Helper()
	return bins.Path(t, modulePath+"/cmd/"+name)
}

// stream is a WebSocket client of the cloud's /api/stream.
type stream struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialStream(t *testing.T, base, query string) *stream {
	t.Helper()
	return dialStreamWith(t, base, query, websocket.DefaultDialer)
}

// smallBuffers dials with an 8 KiB socket receive buffer.
var smallBuffers = &websocket.Dialer{
	NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(8 << 10)
		}
		return c, err
	},
	HandshakeTimeout: 10 * time.Second,
}

func dialStreamWith(t *testing.T, base, query string, d *websocket.Dialer) *stream {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/stream" + query
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &stream{t: t, conn: conn}
}

// next returns the next frame, failing the test after timeout.
func (s *stream) next(timeout time.Duration) reading.Frame {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	typ, data, err := s.conn.ReadMessage()
	if err != nil {
		s.t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.TextMessage {
		s.t.Fatalf("frame type %d", typ)
	}
	f, err := reading.DecodeFrame(data)
	if err != nil {
		s.t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// readings collects readings until done says stop, failing after timeout.
func (s *stream) readings(timeout time.Duration, done func([]reading.Reading) bool) []reading.Reading {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var got []reading.Reading
	for !done(got) {
		left := time.Until(deadline)
		if left <= 0 {
			s.t.Fatalf("after %v, %d readings and not done", timeout, len(got))
		}
		f := s.next(left)
		got = append(got, f.Readings...)
	}
	return got
}

// getJSON fetches base+path into v, failing unless the status is 200.
func getJSON(t *testing.T, ctx context.Context, url string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
