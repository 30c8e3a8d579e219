package fanout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
)

// serveMessages serves hub with ServeMessages and handler, all devices
// selected.
func serveMessages(t *testing.T, hub *fanout.Hub, handler fanout.MessageHandler) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		hub.ServeMessages(context.Background(), conn, fanout.Selection{All: true}, handler)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), fanouttest.Timeout)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// TestMessageHandler: a message of another type than subscribe goes to the
// handler, whose reply reaches that client alone, after what was queued
// before; subscribe still works; a handler's error closes the client with
// 1008 and its reason.
func TestMessageHandler(t *testing.T) {
	hub := fanout.NewHub(fanout.Options{})
	got := make(chan string, 10)
	url := serveMessages(t, hub, func(ctx context.Context, msg []byte, reply func([]byte)) error {
		got <- string(msg)
		if strings.Contains(string(msg), `"bad"`) {
			return errors.New("no such thing")
		}
		reply([]byte(`{"v":1,"type":"command","command":{"id":"x"}}`))
		return nil
	})
	a := fanouttest.Dialer{}.Dial(t, url)
	b := fanouttest.Dialer{}.Dial(t, url)
	a.Status(t, false)
	b.Status(t, false)

	if err := a.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"command","id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != `{"type":"command","id":"x"}` {
		t.Errorf("handler got %q", m)
	}
	f := a.Frame(t)
	if f.Type != reading.FrameCommand || string(f.Command) != `{"id":"x"}` {
		t.Errorf("reply %+v, want the command frame", f)
	}
	// b got no reply: the next thing it sees is a status for everyone.
	hub.SetStatus(true, "")
	b.Status(t, true)
	a.Status(t, true)

	// Subscribing, and a message without a type, still go to the hub, not
	// to the handler: messages are read in order, so the handler's next
	// message is the command sent after them.
	for _, m := range []string{`{"type":"subscribe","devices":["d"]}`, `{"type":"command","id":"y"}`} {
		if err := a.Conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if m := <-got; m != `{"type":"command","id":"y"}` {
		t.Errorf("handler got %q, want the second command", m)
	}
	a.Frame(t) // its reply
	hub.Publish("e", time.Time{}, encoded(testReading("e", 1, 1)))
	hub.Publish("d", time.Time{}, encoded(testReading("d", 1, 1)))
	if rs := a.Readings(t, 1); rs[0].Device != "d" {
		t.Errorf("after subscribing to d, a got %+v", rs[0])
	}

	if err := a.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"bad"}`)); err != nil {
		t.Fatal(err)
	}
	a.Closed(t, websocket.ClosePolicyViolation, "no such thing")
}

// TestMessageHandlerContextEndsWithClient: a handler at work when the
// client closes sees its context end, so that closing never waits for it.
func TestMessageHandlerContextEndsWithClient(t *testing.T) {
	hub := fanout.NewHub(fanout.Options{})
	started, ended := make(chan struct{}), make(chan error, 1)
	url := serveMessages(t, hub, func(ctx context.Context, msg []byte, reply func([]byte)) error {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	})
	c := fanouttest.Dialer{}.Dial(t, url)
	c.Status(t, false)
	if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"command"}`)); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), fanouttest.Timeout)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a handler at work: %v", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("handler's context ended with %v", err)
	}
	c.Closed(t, websocket.CloseGoingAway, "shutting down")
}
