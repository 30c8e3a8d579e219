// Package web is the cloud's HTTP surface: the dashboard, the live
// WebSocket stream, the REST API, metrics and health. See "Cloud API" in
// the README for the contract.
//
//	GET /                          the dashboard (Options.Dashboard)
//	GET /api/stream                WebSocket; ?device=ID (repeatable) selects devices
//	GET /api/devices               devices by id, a page at a time (?limit=N, ?after=ID; Link rel="next"), their newest readings, online or not
//	GET /api/devices/{id}/readings history: ?limit=N, ?since=, ?until= (RFC 3339 or unix ms)
//	GET /metrics                   Prometheus metrics (Options.Gatherer)
//	GET /healthz                   200 while the process serves
//	GET /readyz                    200 when ready, 503 with the reason while live readings do not flow
//
// History is oldest first; a device the store does not know (never seen, or
// its history expired) has an empty history, 200
// {"device":"id","readings":[]}, not 404. Bad parameters and invalid ids get
// 400; the store (Redis) being unreachable, 503.
//
// The handler depends on what it uses: a [Store] (*store.Store is one) and
// a fanout.Hub, whatever feeds it.
//
// Errors of the API are JSON: {"error":"what went wrong"}. With
// Options.AuthUser set, everything but /healthz and /readyz requires HTTP
// Basic authentication; browsers send the same credentials with the
// dashboard's same-origin WebSocket request.
package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/store"
)

// Store answers the REST API. *store.Store (Redis) is one; the edge can
// serve its local readings through another. Its methods are called
// concurrently.
type Store interface {
	// DevicesPage lists up to limit devices (0: a default) whose ids sort
	// after after, by id, with their newest readings; Next names the
	// following page.
	DevicesPage(ctx context.Context, after string, limit int) (store.DevicePage, error)
	// HistoryPages calls fn with successive pages of device's history
	// selected by q, oldest first, each reading as its canonical JSON; an
	// error from fn stops it and is returned. No history is no call.
	HistoryPages(ctx context.Context, device string, q store.Query, fn func(page [][]byte) error) error
	// Boots returns device's recorded boots, oldest first.
	Boots(ctx context.Context, device string) ([]store.Boot, error)
}

var _ Store = (*store.Store)(nil)

// Options configure the handler. Store and Hub are required; every other
// field has a usable zero value, which each field's comment states.
type Options struct {
	// Store answers the REST API. Required.
	Store Store
	// Hub serves /api/stream. Required. The handler only adds clients; the
	// caller owns the hub and shuts it down after the HTTP server, since
	// WebSocket connections outlive http.Server.Shutdown (Serve does both).
	Hub *fanout.Hub
	// Ready reports readiness for /readyz, typically the Ready of the
	// hub's source (fanout.Source). Default nil: always ready.
	Ready func() error
	// Dashboard is the file tree served at /, with index.html at its root.
	// Default nil: / answers 404.
	Dashboard fs.FS
	// Gatherer is served at /metrics. Default nil: /metrics answers 404.
	Gatherer prometheus.Gatherer
	// AuthUser and AuthPassword turn on HTTP Basic authentication for
	// everything but /healthz and /readyz. Default "": no authentication.
	// A user without a password is an error.
	AuthUser, AuthPassword string
	// AllowedOrigins lists the origins ("https://example.com", scheme, host
	// and port as a browser sends them) allowed to open /api/stream besides
	// the server's own. Default nil: same origin only. Requests without an
	// Origin header (not from a browser) are always allowed.
	AllowedOrigins []string
	// OfflineAfter is how long after its last reading a device is reported
	// offline. Default 30s.
	OfflineAfter time.Duration
	// StoreTimeout bounds each request's work in the store. Default 5s.
	StoreTimeout time.Duration
	// Logger logs failed requests. Default: discard.
	Logger *slog.Logger
	// Now tells the time, for online checks. Default time.Now.
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultOfflineAfter = 30 * time.Second
	DefaultStoreTimeout = 5 * time.Second
)

// server holds the handlers' shared state. It is safe for concurrent use.
type server struct {
	opt     Options
	origins map[string]bool
	up      websocket.Upgrader
	badMu   sync.Mutex
	badLog  lograte.Limiter // of malformed stored data; under badMu
}

// New returns the cloud's HTTP handler. It is safe for concurrent use.
func New(opt Options) (http.Handler, error) {
	if opt.Store == nil || opt.Hub == nil {
		return nil, errors.New("web: Options.Store and Options.Hub are required")
	}
	if opt.AuthUser != "" && opt.AuthPassword == "" {
		return nil, errors.New("web: Options.AuthUser is set but AuthPassword is empty")
	}
	if opt.AuthUser == "" && opt.AuthPassword != "" {
		return nil, errors.New("web: Options.AuthPassword is set but AuthUser is empty")
	}
	if opt.OfflineAfter <= 0 {
		opt.OfflineAfter = DefaultOfflineAfter
	}
	if opt.StoreTimeout <= 0 {
		opt.StoreTimeout = DefaultStoreTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &server{opt: opt, origins: map[string]bool{}, badLog: lograte.Limiter{Every: time.Minute}}
	for _, o := range opt.AllowedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("web: allowed origin %q: %w", o, err)
		}
		s.origins[norm] = true
	}
	s.up = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      s.checkOrigin,
		WriteBufferPool:  &sync.Pool{}, // idle clients hold no write buffer
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writeError(w, status, "websocket: "+strings.TrimPrefix(reason.Error(), "websocket: "))
		},
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	api := http.NewServeMux()
	api.HandleFunc("GET /api/stream", s.stream)
	api.HandleFunc("GET /api/devices", s.devices)
	api.HandleFunc("GET /api/devices/{id}/readings", s.history)
	api.HandleFunc("GET /api/devices/{id}/boots", s.boots)
	api.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	if opt.Gatherer != nil {
		api.Handle("GET /metrics", promhttp.HandlerFor(opt.Gatherer, promhttp.HandlerOpts{}))
	}
	if opt.Dashboard != nil {
		files := http.FileServerFS(opt.Dashboard)
		api.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r)
		}))
	}
	var protected http.Handler = api
	if opt.AuthUser != "" {
		protected = basicAuth(api, opt.AuthUser, opt.AuthPassword, opt.Logger)
	}
	mux.Handle("/", protected)
	return securityHeaders(mux), nil
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.opt.Ready != nil {
		if err := s.opt.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

// normalizeOrigin returns an origin as scheme://host[:port], lower case.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", errors.New("want scheme://host[:port], as a browser sends in Origin")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
