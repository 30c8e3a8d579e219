// Package web is the cloud's HTTP surface: the dashboard, the live
// WebSocket stream, the REST API, metrics and health. See "Cloud API" in
// the README for the contract.
//
//	GET /                          the dashboard (Options.Dashboard)
//	GET /api/stream                WebSocket; ?device=ID (repeatable) selects devices
//	GET /api/devices               devices by id, a page at a time (?limit=N, ?after=ID; Link rel="next"), their newest readings, online or not
//	GET /api/devices/{id}/readings history: ?limit=N, ?since=, ?until= (RFC 3339 or unix ms)
//	GET /api/me                    {"user","operator","commands"}: who is asking, whether they may act
//	POST /api/devices/{id}/commands a command (operator only; Options.Commands), 202 with it as recorded
//	GET /api/devices/{id}/commands the audit trail, newest first (?limit=N)
//	GET /api/devices/{id}/actuators the actuators the device announced
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
// Options.AuthUser or Options.Users set, everything but /healthz and
// /readyz requires HTTP Basic authentication; browsers send the same
// credentials with the dashboard's same-origin WebSocket request. Viewing
// is every account's right; acting (commands, by POST or on the
// WebSocket) only Options.Operators'.
//
// Nothing a client sends can hold the server: no route but the command's
// takes a body (413; a command is at most MaxCommandBody bytes of JSON),
// a query string that does not parse is a 400, a Host not in
// Options.AllowedHosts a 421 (but for /healthz and /readyz), every
// response has a write deadline, failed logins are logged clipped and at
// most once a minute per address, and Serve caps the connections.
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
	// BootList returns device's recorded boots, oldest first, and the
	// malformed entries it left out.
	BootList(ctx context.Context, device string) (store.BootList, error)
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
	// Users are more accounts, with bcrypt hashes (an htpasswd file:
	// LoadUsers); any turns authentication on. Default nil.
	Users []User
	// Operators names the accounts (AuthUser or of Users) that may send
	// commands; the others may only view. A name of no account is an
	// error. Default nil: nobody may.
	Operators []string
	// OpenCommands lets every client send commands when there is no
	// authentication (recorded with By ""); with accounts it is an error.
	// Default false: without authentication nobody may.
	OpenCommands bool
	// Commands records and lists commands and the devices' actuators
	// (*store.Store is one). Default nil: no command routes (404), and
	// commands over the WebSocket are answered with an error.
	Commands Commander
	// AllowedHosts lists the host names and IP addresses (no port) that a
	// request's Host may name; "*" allows any. Others get 421, so that a
	// page whose name an attacker points at this server (DNS rebinding)
	// cannot reach it. /healthz and /readyz answer any Host. Default nil:
	// localhost, 127.0.0.1 and ::1.
	AllowedHosts []string
	// AllowedOrigins lists the origins ("https://example.com", scheme, host
	// and port as a browser sends them) allowed to open /api/stream: the
	// public origins of the dashboard. A page is also allowed its own
	// origin when its host is named in AllowedHosts (not only through "*").
	// Requests without an Origin header (not from a browser) are always
	// allowed. Default nil: those same-origin pages only.
	AllowedOrigins []string
	// AuthFailureLimit is how many failed authentications one client
	// address (an IPv6 client's /64) may make in a minute; beyond it, it
	// gets 429 until the minute ends. Failures are logged at most once a
	// minute per address either way. Default 0: DefaultAuthFailureLimit;
	// negative: no limit.
	AuthFailureLimit int
	// ReadTimeout bounds reading a request. No route takes a body: one is
	// refused with 413, and the connection closed within ReadTimeout.
	// Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response: a whole response, but for
	// history (streamed), each of its writes, and for /api/stream nothing
	// (fanout.Options.WriteTimeout bounds its writes). Default 30s.
	WriteTimeout time.Duration
	// OfflineAfter is how long after its last reading a device is reported
	// offline. Default 30s.
	OfflineAfter time.Duration
	// StoreTimeout bounds each request's work in the store. Default 5s.
	StoreTimeout time.Duration
	// Skips counts stored data left out of answers as malformed (for
	// metrics: Skips.Collector). Default nil: counted, not exported.
	Skips *SkipCounter
	// Logger logs failed requests. Default: discard.
	Logger *slog.Logger
	// Now tells the time, for online checks. Default time.Now.
	Now func() time.Time
	// Routes adds GET routes by pattern ("GET /api/edge"), served behind
	// the same guards as the API (Host, authentication). Default nil.
	Routes map[string]http.Handler
}

// Defaults for Options.
const (
	DefaultOfflineAfter = 30 * time.Second
	DefaultStoreTimeout = 5 * time.Second
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	// DefaultAuthFailureLimit is Options.AuthFailureLimit's default.
	DefaultAuthFailureLimit = 20
)

// server holds the handlers' shared state. It is safe for concurrent use.
type server struct {
	opt      Options
	accounts *accounts
	origins  map[string]bool // normalized AllowedOrigins
	hosts    map[string]bool // AllowedHosts but "*"
	anyHost  bool            // "*" is in AllowedHosts
	refusals *addrLimits     // logs of refused hosts and origins
	up       websocket.Upgrader
	badMu    sync.Mutex
	badLog   lograte.Limiter // of malformed stored data; under badMu
	failLog  lograte.Limiter // of failed Redis requests and answers cut short; under badMu
	logSem   chan struct{}   // audit answers being read (maxCommandLogs)
	userLim  userLimits      // commands posted, per user
}

// New returns the cloud's HTTP handler. It is safe for concurrent use.
func New(opt Options) (http.Handler, error) {
	_, h, err := newServer(opt)
	return h, err
}

// newServer returns the handler and the state it shares.
func newServer(opt Options) (*server, http.Handler, error) {
	if opt.Store == nil || opt.Hub == nil {
		return nil, nil, errors.New("web: Options.Store and Options.Hub are required")
	}
	if opt.AuthUser != "" && opt.AuthPassword == "" {
		return nil, nil, errors.New("web: Options.AuthUser is set but AuthPassword is empty")
	}
	if opt.AuthUser == "" && opt.AuthPassword != "" {
		return nil, nil, errors.New("web: Options.AuthPassword is set but AuthUser is empty")
	}
	if opt.OfflineAfter <= 0 {
		opt.OfflineAfter = DefaultOfflineAfter
	}
	if opt.StoreTimeout <= 0 {
		opt.StoreTimeout = DefaultStoreTimeout
	}
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = DefaultReadTimeout
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	if opt.AuthFailureLimit == 0 {
		opt.AuthFailureLimit = DefaultAuthFailureLimit
	}
	if opt.Skips == nil {
		opt.Skips = new(SkipCounter)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	accts, err := newAccounts(&opt)
	if err != nil {
		return nil, nil, err
	}
	if opt.OpenCommands && accts.enabled() {
		return nil, nil, errors.New("web: Options.OpenCommands is for a server without authentication; name operators in Options.Operators")
	}
	s := &server{opt: opt, logSem: make(chan struct{}, maxCommandLogs), accounts: accts, origins: map[string]bool{}, hosts: map[string]bool{}, badLog: lograte.Limiter{Every: time.Minute},
		failLog: lograte.Limiter{Every: 10 * time.Second}}
	s.refusals = newAddrLimits(0, opt.Logger, time.Now)
	if opt.AllowedHosts == nil {
		opt.AllowedHosts = loopbackHosts
	}
	for _, h := range opt.AllowedHosts {
		switch {
		case h == "*":
			s.anyHost = true
		case !validHost(h):
			return nil, nil, fmt.Errorf("web: allowed host %q: want a host name or IP address, without scheme or port", h)
		default:
			s.hosts[hostOf(h)] = true
		}
	}
	for _, o := range opt.AllowedOrigins {
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, nil, fmt.Errorf("web: allowed origin %q: %w", o, err)
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
	api.HandleFunc("GET /api/stream", unlimitWrite(s.stream))
	api.HandleFunc("GET /api/devices", s.devices)
	api.HandleFunc("GET /api/devices/{id}/readings", s.pacedWrites(s.history))
	api.HandleFunc("GET /api/devices/{id}/boots", s.boots)
	for pattern, h := range opt.Routes {
		api.Handle(pattern, h)
	}
	api.HandleFunc("GET /api/me", s.me)
	if opt.Commands != nil {
		api.HandleFunc("POST /api/devices/{id}/commands", s.postCommand)
		api.HandleFunc("GET /api/devices/{id}/commands", s.commandLog)
		api.HandleFunc("GET /api/devices/{id}/actuators", s.actuators)
	}
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
	if accts.enabled() {
		limit := max(opt.AuthFailureLimit, 0)
		protected = basicAuth(api, accts, newAddrLimits(limit, opt.Logger, time.Now))
	}
	mux.Handle("/", s.checkHost(protected))
	return s, securityHeaders(s.guard(mux)), nil
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
