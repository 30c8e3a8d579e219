package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// These tests hold the servers against clients that try to hold them
// down: raw TCP clients, as an attacker would use.

// served is a handler over a memStore, served by Serve on loopback.
type served struct {
	addr  string // host:port
	conns *ConnCounter
	logs  *syncBuffer // the handler's log, JSON lines
	hub   *fanout.Hub
	src   *fanout.MemorySource
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func serveForTest(t *testing.T, opt Options, sopt ServeOptions) *served {
	t.Helper()
	s := &served{conns: new(ConnCounter), logs: new(syncBuffer), hub: fanout.NewHub(fanout.Options{}), src: new(fanout.MemorySource)}
	if opt.Store == nil {
		r := temp("pi-1", 1, 20.5)
		opt.Store = memStore{
			devices: []store.Device{{ID: "pi-1", LastSeen: time.Now(), LastSeq: 1, Latest: []reading.Reading{r}}},
			history: map[string][]reading.Reading{"pi-1": {r}},
		}
	}
	opt.Hub = s.hub
	opt.Logger = slog.New(slog.NewJSONHandler(s.logs, nil))
	h, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	sopt.Hub, sopt.Conns = s.hub, s.conns
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- Serve(ctx, ln, h, sopt) }()
	go func() { done <- s.hub.Run(ctx, s.src) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return s
}

// request sends a GET for path with the Host host (and header lines) on
// a new connection and returns the status and body.
func (s *served) request(t *testing.T, host, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req.Close = true
	return do(t, req)
}

// testTimeout bounds each wait of these tests.
const testTimeout = 30 * time.Second

// awaitClosed reads c until the server closes it, failing the test if it
// is still open after testTimeout. It returns what it read.
func awaitClosed(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(c)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("%s: the connection is still open after %v (read %.200q)", what, testTimeout, b)
	}
	return string(b)
}

// TestTrickledBodyIsCut: a client that sends headers announcing a body and
// then trickles it, a byte a second, is answered 413 and disconnected
// within the read timeout; it used to hold its goroutine and socket for as
// long as it kept trickling.
func TestTrickledBodyIsCut(t *testing.T) {
	s := serveForTest(t, Options{ReadTimeout: time.Second}, ServeOptions{})
	for _, head := range []string{
		"GET /api/devices HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n",
		"POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		go func() { // one byte a second, until the server closes
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("1")); err != nil {
						return
					}
				}
			}
		}()
		got := awaitClosed(t, c, strings.Fields(head)[0]+" with a trickled body")
		close(stop)
		if !strings.HasPrefix(got, "HTTP/1.1 413 ") {
			t.Errorf("%q: answered %q, want 413", head, got)
		}
	}
}

// TestWriteDeadline: a client that sends requests and never reads the
// answers is disconnected once a write has waited WriteTimeout; the
// WebSocket stream, which has its own write timeouts, is not cut by it.
func TestWriteDeadline(t *testing.T) {
	big := make([]store.Device, 2000)
	for i := range big {
		big[i] = store.Device{ID: fmt.Sprintf("device-%04d", i), LastSeen: time.Now(), Latest: []reading.Reading{temp("x", 1, 1)}}
	}
	s := serveForTest(t, Options{Store: memStore{devices: big}, WriteTimeout: time.Second}, ServeOptions{})
	// A stream client, opened before the stall, which takes longer than
	// WriteTimeout.
	ws := fanouttest.Dialer{}.Dial(t, "ws://"+s.addr+"/api/stream")
	ws.Status(t, false)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.(*net.TCPConn).SetReadBuffer(fanouttest.SmallBuffer); err != nil {
		t.Fatal(err)
	}
	// Requests enough for megabytes of answers, pipelined, never read.
	var reqs strings.Builder
	for range 200 { // of a page of 1000 devices each: tens of megabytes
		reqs.WriteString("GET /api/devices?limit=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
	}
	if _, err := io.WriteString(c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	// Its first byte, or its end (a slow machine may miss the deadline
	// before the first write), says it was accepted and counted.
	c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	awaitCond(t, "the stalled connection closed by the server", func() bool { return s.conns.Open() == 1 })
	c.SetReadDeadline(time.Now().Add(testTimeout))
	if got, err := io.ReadAll(c); err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Errorf("the stalled client read %d bytes, then no end: %v", len(got), err)
		}
	}
	// The stream outlives a WriteTimeout shorter than its life.
	s.src.SetStatus(true, "")
	ws.Status(t, true)
}

// awaitCond polls cond until it holds, failing the test after
// testTimeout.
func awaitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", testTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnectionCap: with MaxConns open, the next connection is closed at
// once and counted; once one closes, a new one is served.
func TestConnectionCap(t *testing.T) {
	s := serveForTest(t, Options{}, ServeOptions{MaxConns: 2})
	var held []*bufio.ReadWriter
	var conns []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
		keepAliveGet(t, rw)
		held, conns = append(held, rw), append(conns, c)
	}
	over, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	io.WriteString(over, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if got := awaitClosed(t, over, "the connection over the cap"); got != "" {
		t.Errorf("the connection over the cap was answered %q", got)
	}
	if s.conns.Refused() != 1 || s.conns.Open() != 2 {
		t.Errorf("refused %d, open %d; want 1 and 2", s.conns.Refused(), s.conns.Open())
	}
	keepAliveGet(t, held[1]) // those held are still served
	conns[0].Close()
	awaitCond(t, "the closed connection uncounted", func() bool { return s.conns.Open() == 1 })
	if code, _ := s.request(t, "localhost", "/healthz"); code != http.StatusOK {
		t.Errorf("a connection under the cap again: %d", code)
	}
}

// TestConnectionCapPerClient: one client address holds at most its share
// of the connections (before, one anonymous address could hold all of
// them and lock everyone else out); other addresses are still served.
func TestConnectionCapPerClient(t *testing.T) {
	s := serveForTest(t, Options{}, ServeOptions{MaxConns: 10, MaxClientConns: 2})
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for range 2 {
		c := dial("127.0.0.1")
		keepAliveGet(t, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)))
		held = append(held, c)
	}
	over := dial("127.0.0.1")
	io.WriteString(over, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if got := awaitClosed(t, over, "the client's third connection"); got != "" {
		t.Errorf("the client's third connection was answered %q", got)
	}
	other := dial("127.0.0.2")
	keepAliveGet(t, bufio.NewReadWriter(bufio.NewReader(other), bufio.NewWriter(other)))
	if s.conns.Refused() != 1 || s.conns.Open() != 3 {
		t.Errorf("refused %d, open %d; want 1 and 3", s.conns.Refused(), s.conns.Open())
	}
	held[0].Close()
	awaitCond(t, "the closed connection uncounted", func() bool { return s.conns.Open() == 2 })
	again := dial("127.0.0.1")
	keepAliveGet(t, bufio.NewReadWriter(bufio.NewReader(again), bufio.NewWriter(again)))
}

// keepAliveGet sends GET /healthz on rw and reads a 200 answer.
func keepAliveGet(t *testing.T, rw *bufio.ReadWriter) {
	t.Helper()
	rw.WriteString("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rw.Reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", resp.Status)
	}
}

// TestHostAllowlist: a request naming a host that is not allowed (as a
// page of another site whose name points at the server would) gets 421;
// the loopback names are allowed by default; health answers any Host.
func TestHostAllowlist(t *testing.T) {
	s := serveForTest(t, Options{}, ServeOptions{})
	_, port, _ := net.SplitHostPort(s.addr)
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"evil.example", "/api/devices", http.StatusMisdirectedRequest},
		{"evil.example:" + port, "/api/devices", http.StatusMisdirectedRequest},
		{"evil.example", "/api/nope", http.StatusMisdirectedRequest},
		{"localhost.evil.example", "/api/devices", http.StatusMisdirectedRequest},
		{"localhost:" + port, "/api/devices", http.StatusOK},
		{"LOCALHOST.", "/api/devices", http.StatusOK},
		{"127.0.0.1:" + port, "/api/devices", http.StatusOK},
		{"[::1]:" + port, "/api/devices", http.StatusOK},
		{"evil.example", "/healthz", http.StatusOK},
		{"evil.example", "/readyz", http.StatusOK},
	} {
		if code, body := s.request(t, tc.host, tc.path); code != tc.want {
			t.Errorf("Host %s, GET %s: %d %s, want %d", tc.host, tc.path, code, body, tc.want)
		}
	}

	named := serveForTest(t, Options{AllowedHosts: []string{"Cloud.Example"}}, ServeOptions{})
	if code, _ := named.request(t, "cloud.example", "/api/devices"); code != http.StatusOK {
		t.Errorf("an allowed name: %d", code)
	}
	if code, _ := named.request(t, "localhost", "/api/devices"); code != http.StatusMisdirectedRequest {
		t.Errorf("localhost when only cloud.example is allowed: %d", code)
	}
	for _, bad := range []string{"https://cloud.example", "cloud.example:443", "", "a/b"} {
		if _, err := New(Options{Store: memStore{}, Hub: named.hub, AllowedHosts: []string{bad}}); err == nil {
			t.Errorf("allowed host %q accepted", bad)
		}
	}
}

// TestOriginAgainstConfiguredOrigins: the WebSocket's Origin is checked
// against the configured origins, not against the request's own Host: a
// page whose name merely points here (any Host allowed) is refused even
// though its Origin matches its Host.
func TestOriginAgainstConfiguredOrigins(t *testing.T) {
	s := serveForTest(t, Options{AllowedHosts: []string{"*"}, AllowedOrigins: []string{"https://dash.example"}}, ServeOptions{})
	_, port, _ := net.SplitHostPort(s.addr)
	dial := func(host, origin string) int {
		h := http.Header{"Host": {host}, "Origin": {origin}}
		conn, resp, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/api/stream", h)
		if conn != nil {
			conn.Close()
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	if got := dial("evil.example:"+port, "http://evil.example:"+port); got != http.StatusForbidden {
		t.Errorf("an origin matching a Host that only \"*\" allows: %d, want 403", got)
	}
	if got := dial("evil.example:"+port, "https://dash.example"); got != http.StatusSwitchingProtocols {
		t.Errorf("a configured origin: %d, want 101", got)
	}

	def := serveForTest(t, Options{}, ServeOptions{})
	_, port, _ = net.SplitHostPort(def.addr)
	h := http.Header{"Host": {"localhost:" + port}, "Origin": {"http://localhost:" + port}}
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+def.addr+"/api/stream", h)
	if err != nil {
		t.Fatalf("the dashboard's own origin on localhost: %v (%v)", err, resp)
	}
	conn.Close()
}

// TestQueryParseErrors: a query string that does not parse is a 400, not
// a query with the bad part dropped (?device=%zz used to subscribe to every
// device, ?limit=%zz to return the whole history).
func TestQueryParseErrors(t *testing.T) {
	s := serveForTest(t, Options{}, ServeOptions{})
	for _, path := range []string{
		"/api/devices/pi-1/readings?limit=%zz",
		"/api/devices/pi-1/readings?limit=1;since=0",
		"/api/devices?x=%zz",
	} {
		if code, body := s.request(t, "localhost", path); code != http.StatusBadRequest || !strings.Contains(body, "query string") {
			t.Errorf("GET %s: %d %s, want 400", path, code, body)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/api/stream?device=%zz", nil)
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/api/stream?device=%%zz: %v, %v; want 400", resp, err)
	}
	// The error quotes what was sent, clipped (a 100 KB parameter came
	// back whole).
	code, body := s.request(t, "localhost", "/api/devices?after="+strings.Repeat("x", 100_000))
	if code != http.StatusBadRequest || len(body) > 1000 || !strings.Contains(body, "...") {
		t.Errorf("a 100 KB after: %d, %d bytes of answer, want 400 and a clipped message", code, len(body))
	}
}

// TestAuthFailuresBounded: a failed authentication is logged with the user
// name clipped (a 600 KB name used to be logged whole), once a minute per
// address, and an address past the limit gets 429.
func TestAuthFailuresBounded(t *testing.T) {
	s := serveForTest(t, Options{AuthUser: "field", AuthPassword: "s3cret", AuthFailureLimit: 5}, ServeOptions{})
	huge := strings.Repeat("u", 600_000)
	req := func(user string) int {
		r, err := http.NewRequest("GET", "http://"+s.addr+"/api/devices", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.SetBasicAuth(user, "wrong")
		code, _ := do(t, r)
		return code
	}
	if got := req(huge); got != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", got)
	}
	logs := s.logs.String()
	if len(logs) > 1000 {
		t.Errorf("one failure logged %d bytes", len(logs))
	}
	var line struct {
		Msg       string
		User      string
		UserBytes int `json:"user_bytes"`
	}
	if err := json.Unmarshal([]byte(logs), &line); err != nil {
		t.Fatalf("%v in %q", err, logs)
	}
	if line.Msg != "authentication failed" || line.User != `"`+huge[:maxLoggedValue]+`"...` || line.UserBytes != len(huge) {
		t.Errorf("logged %+v", line)
	}
	for i := 2; i <= 5; i++ {
		if got := req(fmt.Sprint("guess-", i)); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, got)
		}
	}
	if got := req("field"); got != http.StatusTooManyRequests {
		t.Errorf("past the limit: %d, want 429", got)
	}
	if n := strings.Count(s.logs.String(), "\n"); n > 2 {
		t.Errorf("%d log lines for six refusals from one address in a minute:\n%s", n, s.logs.String())
	}
}

// FuzzHostAllowed: whatever a client puts in Host, the check does not
// panic, and with the default list it allows only the loopback names.
func FuzzHostAllowed(f *testing.F) {
	for _, h := range []string{"localhost", "localhost:8080", "[::1]:80", "127.0.0.1", "evil.example", "LOCALHOST.", "[::1", "::1", "", "a:b:c", "localhost:80:80"} {
		f.Add(h)
	}
	s := &server{hosts: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}}
	f.Fuzz(func(t *testing.T, host string) {
		ok, named := s.hostAllowed(host)
		if ok != named {
			t.Fatalf("%q: allowed %v but named %v without \"*\"", host, ok, named)
		}
		if ok && !slices.Contains(loopbackHosts, hostOf(host)) {
			t.Fatalf("%q allowed as %q", host, hostOf(host))
		}
	})
}
