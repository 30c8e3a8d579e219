package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/store"
)

func testConfig(t *testing.T, extra ...string) config {
	t.Helper()
	cfg, err := parseFlags(append([]string{"--listen", "127.0.0.1:0"}, extra...), io.Discard, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return *cfg
}

// serveInBackground runs serve until the test ends and returns where it
// listens and the channel its result arrives on.
func serveInBackground(t *testing.T, ctx context.Context, cfg config) (listening, <-chan error) {
	t.Helper()
	started := make(chan listening, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), func(l listening) { started <- l }) }()
	select {
	case l := <-started:
		return l, done
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not serving within 10s")
	}
	panic("unreachable")
}

func TestComponentsGetRedisAndStop(t *testing.T) {
	cfg := testConfig(t)
	got := make(chan store.ClientOptions, 1)
	stopped := make(chan struct{})
	cfg.components = []component{{name: "probe", run: func(ctx context.Context, env componentEnv) error {
		redis := env.Redis
		got <- redis
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, done := serveInBackground(t, ctx, cfg)
	r := <-got
	if r.URL != l.Redis.URL || !strings.HasPrefix(r.URL, "redis://127.0.0.1:") {
		t.Errorf("component got Redis %q, serve uses %q", r.URL, l.Redis.URL)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("serve returned before the component stopped")
	}
}

func TestFailingComponentStopsServe(t *testing.T) {
	cfg := testConfig(t)
	boom := errors.New("boom")
	cfg.components = []component{{name: "fleet", run: func(context.Context, componentEnv) error { return boom }}}
	done := make(chan error, 1)
	go func() { done <- serve(context.Background(), cfg, slog.New(slog.DiscardHandler), nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "fleet") {
			t.Errorf("serve: %v, want the fleet's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve still running 20s after its component failed")
	}
}

func TestServesWhileRedisIsDown(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, done := serveInBackground(t, ctx, testConfig(t, "--redis", "redis://"+addr))
	if code, _ := httpGet(t, l.URL+"healthz", "", ""); code != 200 {
		t.Errorf("healthz %d while redis is down", code)
	}
	if code, body := httpGet(t, l.URL+"readyz", "", ""); code != 503 || !strings.Contains(string(body), "redis") {
		t.Errorf("readyz while redis is down: %d %s", code, body)
	}
	if code, body := httpGet(t, l.URL+"api/devices", "", ""); code != 503 || !strings.Contains(string(body), `"error"`) {
		t.Errorf("devices while redis is down: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
