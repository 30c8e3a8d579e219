package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
)

// TestServeShutdown: when ctx ends, Serve stops taking requests, closes the
// hub's WebSocket clients with "going away" and returns nil.
func TestServeShutdown(t *testing.T) {
	hub := fanout.NewHub(fanout.Options{})
	h, err := New(Options{Store: memStore{}, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, ServeOptions{Hub: hub}) }()

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", resp.Status)
	}
	c := fanouttest.Dialer{}.Dial(t, "ws://"+ln.Addr().String()+"/api/stream")
	c.Sync(t) // served: the hub has the client

	cancel()
	c.Closed(t, websocket.CloseGoingAway, "server shutting down")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after shutdown = %v, want nil", err)
		}
	case <-time.After(fanouttest.Timeout):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after Serve returned")
	}
}

// TestServeListenerFails: an error serving (here, a closed listener) is
// returned, not taken for a shutdown.
func TestServeListenerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := Serve(context.Background(), ln, http.NotFoundHandler(), ServeOptions{}); err == nil {
		t.Error("Serve on a closed listener = nil, want an error")
	}
}
