package fanouttest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
)

// Server serves a hub over WebSocket as the web package does: the
// selection from the query (fanout.ParseSelection), then Hub.Serve. Its
// sockets have SmallBuffer send buffers.
type Server struct {
	Hub  *fanout.Hub
	HTTP *httptest.Server

	served chan struct{} // a token when a client's Serve returns
}

// NewServer serves hub until the test ends, then shuts the hub down (which
// must succeed within Timeout) and closes the server.
func NewServer(t testing.TB, hub *fanout.Hub) *Server {
	t.Helper()
	s := &Server{Hub: hub, served: make(chan struct{}, 100)}
	up := websocket.Upgrader{}
	s.HTTP = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sel, err := fanout.ParseSelection(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		hub.Serve(context.Background(), conn, sel)
		s.served <- struct{}{}
	}))
	s.HTTP.Listener = SmallBuffers(s.HTTP.Listener)
	s.HTTP.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		s.HTTP.Close()
	})
	return s
}

// URL returns the ws:// URL of the server with query ("?device=a").
func (s *Server) URL(query string) string {
	return "ws" + strings.TrimPrefix(s.HTTP.URL, "http") + "/" + query
}

// DialRaw connects a client with a SmallBuffer receive buffer that reads
// nothing unless the test does.
func (s *Server) DialRaw(t testing.TB, query string) *websocket.Conn {
	t.Helper()
	return Dialer{SmallBuffer: true}.DialRaw(t, s.URL(query))
}

// Dial connects a Client with a SmallBuffer receive buffer.
func (s *Server) Dial(t testing.TB, query string) *Client {
	t.Helper()
	return NewClient(s.DialRaw(t, query))
}

// AwaitServed waits until the hub has finished serving one more client.
func (s *Server) AwaitServed(t testing.TB) {
	t.Helper()
	select {
	case <-s.served:
	case <-time.After(Timeout):
		t.Fatalf("no client finished within %v", Timeout)
	}
}

// SmallBuffers returns ln with a SmallBuffer send buffer on every accepted
// TCP connection.
func SmallBuffers(ln net.Listener) net.Listener { return smallBufferListener{ln} }

type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetWriteBuffer(SmallBuffer); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, err
}
