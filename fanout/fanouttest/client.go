package fanouttest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/reading"
)

// SmallBuffer is the socket buffer size that Dialer.SmallBuffer and
// SmallBuffers set: a peer that stops reading fills it after kilobytes, not
// megabytes.
const SmallBuffer = 16 << 10

// Dialer opens WebSocket connections for a test. The zero value is usable.
type Dialer struct {
	// Header is sent with the handshake (credentials, Origin). Default nil.
	Header http.Header
	// TLS configures wss:// connections. Default nil: the system's roots.
	TLS *tls.Config
	// SmallBuffer gives the connection a SmallBuffer socket receive buffer,
	// for a client that will stop reading. Default false.
	SmallBuffer bool
}

// DialRaw connects to url (ws:// or wss://), failing the test if the
// handshake fails. Nothing reads the connection unless the test does; it
// is closed when the test ends.
func (d Dialer) DialRaw(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	wd := websocket.Dialer{TLSClientConfig: d.TLS, HandshakeTimeout: Timeout}
	if d.SmallBuffer {
		wd.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.(*net.TCPConn).SetReadBuffer(SmallBuffer); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	}
	conn, resp, err := wd.Dial(url, d.Header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Dial connects to url and starts a Client on the connection.
func (d Dialer) Dial(t testing.TB, url string) *Client {
	t.Helper()
	return NewClient(d.DialRaw(t, url))
}

// Client is a WebSocket client whose frames a goroutine reads and decodes
// (reading.DecodeFrame). Its methods are for the test's goroutine.
type Client struct {
	// Conn is the connection, for writing: only the client's goroutine
	// reads it.
	Conn *websocket.Conn

	frames chan reading.Frame // closed when the connection ends
	ended  chan struct{}      // closed when the connection ends
	err    error              // why it ended; set before both are closed

	pongMu   sync.Mutex
	lastPong string        // payload of the latest pong
	pong     chan struct{} // a token when a pong arrives
	syncs    int           // sync pings sent
}

// NewClient starts reading conn. A frame that is not text or not a valid
// frame ends the client, as a read error does.
func NewClient(conn *websocket.Conn) *Client {
	c := &Client{Conn: conn, frames: make(chan reading.Frame, 1<<14), ended: make(chan struct{}), pong: make(chan struct{}, 1)}
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
				c.err = err
				close(c.frames)
				close(c.ended)
				return
			}
			c.frames <- f
		}
	}()
	return c
}

// Frame returns the next frame, failing the test if the connection ends
// first.
func (c *Client) Frame(t testing.TB) reading.Frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatalf("connection ended: %v", c.err)
		}
		return f
	case <-time.After(Timeout):
		t.Fatalf("no frame within %v", Timeout)
	}
	panic("unreachable")
}

// Status reads one frame and checks that it is a status with live.
func (c *Client) Status(t testing.TB, live bool) reading.Status {
	t.Helper()
	f := c.Frame(t)
	if f.Type != reading.FrameStatus || f.Status == nil || f.Status.Live != live {
		t.Fatalf("got frame %+v, want status live=%v", f, live)
	}
	return *f.Status
}

// AwaitLive reads status frames until one says live; reasons for not being
// live may come first. A readings frame fails the test.
func (c *Client) AwaitLive(t testing.TB) {
	t.Helper()
	for {
		f := c.Frame(t)
		if f.Type != reading.FrameStatus || f.Status == nil {
			t.Fatalf("got %+v, want status", f)
		}
		if f.Status.Live {
			return
		}
	}
}

// Readings reads frames until it has n readings; any other frame, or more
// readings, fail the test.
func (c *Client) Readings(t testing.TB, n int) []reading.Reading {
	t.Helper()
	var out []reading.Reading
	for len(out) < n {
		f := c.Frame(t)
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

// Closed waits for the connection to end and checks that it was closed
// with code and a reason containing want. Frames still queued are skipped.
func (c *Client) Closed(t testing.TB, code int, want string) {
	t.Helper()
	timeout := time.After(Timeout)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			var ce *websocket.CloseError
			if !errors.As(c.err, &ce) {
				t.Fatalf("got %v, want close %d", c.err, code)
			}
			if ce.Code != code || !strings.Contains(ce.Text, want) {
				t.Fatalf("got close %d %q, want %d containing %q", ce.Code, ce.Text, code, want)
			}
			return
		case <-timeout:
			t.Fatalf("not closed within %v, want close %d", Timeout, code)
		}
	}
}

// Send writes a text message.
func (c *Client) Send(t testing.TB, msg string) {
	t.Helper()
	if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// Sync returns once the server has handled every message sent before (it
// answers a ping only after the messages ahead of it), or once the
// connection has ended. Pongs to other pings are skipped.
func (c *Client) Sync(t testing.TB) {
	t.Helper()
	c.syncs++
	want := fmt.Sprintf("sync %d", c.syncs)
	if err := c.Conn.WriteControl(websocket.PingMessage, []byte(want), time.Now().Add(Timeout)); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(Timeout)
	for {
		select {
		case <-c.pong:
			c.pongMu.Lock()
			got := c.lastPong
			c.pongMu.Unlock()
			if got == want {
				return
			}
		case <-c.ended:
			return // the caller checks why
		case <-timeout:
			t.Fatalf("no pong to %q within %v", want, Timeout)
		}
	}
}
