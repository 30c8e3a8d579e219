package fanout_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
)

func TestKeepalive(t *testing.T) {
	log := fanouttest.NewLogRecorder()
	h := fanout.NewHub(fanout.Options{PingInterval: 20 * time.Millisecond, PongTimeout: time.Second, Logger: slog.New(log)})
	ts := fanouttest.NewServer(t, h)
	silent := ts.DialRaw(t, "")
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := silent.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	// The silent client answers no ping, so the hub drops it.
	ts.AwaitServed(t)
	recs := log.Find("websocket client disconnected")
	if len(recs) != 1 {
		t.Fatalf("%d disconnections logged, want 1", len(recs))
	}
	if reason := recs[0]["reason"]; !strings.Contains(reason, "no pong") {
		t.Errorf("silent client dropped for %q, want no pong", reason)
	}

	conn := ts.DialRaw(t, "")
	pings := make(chan struct{}, 1)
	conn.SetPingHandler(func(s string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return conn.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	c := fanouttest.NewClient(conn)
	c.Status(t, false)
	for range 3 {
		select {
		case <-pings:
		case <-time.After(10 * time.Second):
			t.Fatal("no ping within 10s")
		}
	}
	h.Publish("a", time.Time{}, encoded(testReading("a", 1, 1)))
	c.Readings(t, 1)
}

// TestClientTakesManyPongs: the test client's reader does not stall on
// pongs nobody waits for.
func TestClientTakesManyPongs(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	c := ts.Dial(t, "")
	c.Status(t, false)
	for range 100 {
		if err := c.Conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	c.Sync(t)
	h.Publish("a", time.Time{}, encoded(testReading("a", 1, 1)))
	c.Readings(t, 1)
}

// TestPingsUnderSteadyLoad: a client whose queue never empties still gets
// pinged, so its read deadline does not expire while it keeps up.
func TestPingsUnderSteadyLoad(t *testing.T) {
	// One reading a frame, and a publisher that keeps the queue tens of
	// thousands deep: the writer never finds it empty. 30 pings span
	// 1.45 s or more, past PingInterval+PongTimeout.
	const depth = 1 << 15
	h := fanout.NewHub(fanout.Options{PingInterval: 50 * time.Millisecond, PongTimeout: time.Second,
		MaxFrameReadings: 1, QueueSize: 2 * depth})
	ts := fanouttest.NewServer(t, h)
	// Default socket buffers: this client keeps up.
	conn, _, err := websocket.DefaultDialer.Dial(ts.URL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pings := make(chan struct{}, 1)
	conn.SetPingHandler(func(s string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return conn.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(10*time.Second))
	})
	got := make(chan struct{}, 1) // a token per message read
	done := make(chan error, 1)
	go func() { // reads and discards
		for {
			_, r, err := conn.NextReader()
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err != nil {
				done <- err
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}()
	<-got // the status frame: the client is registered
	queued := fanout.QueueLenOfOnlyClient(t, h)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		raw := encoded(testReading("a", 1, 1))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if queued() < depth {
				h.Publish("a", time.Time{}, raw)
			} else {
				runtime.Gosched()
			}
		}
	}()
	defer func() { close(stop); <-stopped }()
	for n := 0; n < 30; {
		select {
		case <-pings:
			n++
		case err := <-done:
			t.Fatalf("client dropped under load after %d pings: %v", n, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d pings, then none within 10s", n)
		}
	}
	<-got    // drop a token that may be from before
	select { // still served
	case <-got:
	case err := <-done:
		t.Fatalf("client dropped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
}

// TestCloseGraceBoundsShutdown: a client that is sending a message when the
// hub closes it, then never answers the close, is cut after CloseGrace: the
// end of its message must not push the read deadline out to
// PingInterval+PongTimeout (45 s by default).
func TestCloseGraceBoundsShutdown(t *testing.T) {
	h := fanout.NewHub(fanout.Options{CloseGrace: time.Second, MaxMessageSize: 1 << 16})
	ts := fanouttest.NewServer(t, h)
	conn := ts.DialRaw(t, "")
	conn.SetCloseHandler(func(int, string) error { return nil }) // no answer
	c := fanouttest.NewClient(conn)
	c.Status(t, false)
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	// More than the client's write buffer: a first fragment goes out.
	if _, err := io.WriteString(w, `{"type":"subscribe","all":true`+strings.Repeat(" ", 8000)); err != nil {
		t.Fatal(err)
	}
	c.Sync(t) // the hub answered from inside the message
	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- h.Shutdown(ctx)
	}()
	c.Closed(t, websocket.CloseGoingAway, "shutting down")
	// The hub now waits CloseGrace for our close; end the message instead.
	if _, err := io.WriteString(w, "}"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("shutdown: %v (the client's message extended its read deadline)", err)
	}
}
