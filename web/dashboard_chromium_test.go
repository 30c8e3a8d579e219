package web_test

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// streamGate wraps the cloud's handler so that a test can cut every
// /api/stream WebSocket and refuse new ones until it opens the gate again.
type streamGate struct {
	next http.Handler

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func newStreamGate(next http.Handler) *streamGate {
	return &streamGate{next: next, conns: map[net.Conn]struct{}{}}
}

func (g *streamGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/stream" {
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed {
			http.Error(w, "stream closed by the test", http.StatusServiceUnavailable)
			return
		}
		w = &gateRecorder{ResponseWriter: w, g: g}
	}
	g.next.ServeHTTP(w, r)
}

// shut cuts the open streams (as a network failure would) and refuses new
// ones.
func (g *streamGate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.Close()
	}
	clear(g.conns)
}

func (g *streamGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}

// gateRecorder records the connection a WebSocket upgrade hijacks.
type gateRecorder struct {
	http.ResponseWriter
	g *streamGate
}

func (r *gateRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.g.mu.Lock()
		if r.g.closed {
			c.Close() // shut while this upgrade was under way
		} else {
			r.g.conns[c] = struct{}{}
		}
		r.g.mu.Unlock()
	}
	return c, rw, err
}
