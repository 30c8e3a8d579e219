package web

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/lograte"
)

// ServeOptions configure Serve. The zero value serves plain HTTP.
type ServeOptions struct {
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
	// Hub, when set, has its WebSocket clients closed ("going away") once
	// the server takes no more requests: http.Server.Shutdown does not
	// track the connections the stream has taken over.
	Hub *fanout.Hub
	// MaxConns caps the connections served at once, WebSockets included;
	// one more is closed as soon as it is accepted. Default
	// DefaultMaxConns; negative: no cap.
	MaxConns int
	// MaxClientConns caps the connections one client address (an IPv6
	// client by its /64) holds at once. Default DefaultMaxClientConns;
	// negative: no cap (behind a reverse proxy every client has the
	// proxy's address).
	MaxClientConns int
	// Conns, when set, counts the connections served and refused (for
	// metrics: Conns.Collector).
	Conns *ConnCounter
	// ShutdownTimeout bounds the shutdown. Default 10s.
	ShutdownTimeout time.Duration
	// Logger receives the shutdown's progress and the server's own errors
	// (at debug level: they are mostly clients misbehaving). Default: discard.
	Logger *slog.Logger
}

// Defaults for ServeOptions.
const (
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxConns        = 4096
	DefaultMaxClientConns  = 256
)

// Serve serves h on ln until ctx ends, then shuts down within
// opt.ShutdownTimeout: no new requests, the requests in progress finish,
// then the hub's clients are closed. It returns nil after such a shutdown,
// or the error that stopped the server. It takes ownership of ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opt ServeOptions) error {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cmp.Or(opt.ShutdownTimeout, DefaultShutdownTimeout)
	if opt.Conns == nil {
		opt.Conns = new(ConnCounter)
	}
	ln = &capListener{Listener: ln, max: int64(cmp.Or(opt.MaxConns, DefaultMaxConns)),
		perClient: int64(cmp.Or(opt.MaxClientConns, DefaultMaxClientConns)), n: opt.Conns, log: log,
		logLim: lograte.Limiter{Every: time.Minute}}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         opt.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() {
		var err error
		if opt.TLS != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		served <- err
	}()
	var failed error // never ErrServerClosed: only Shutdown closes it
	select {
	case failed = <-served:
		log.Error("http server failed; closing its connections", "err", failed)
	case <-ctx.Done():
		log.Info("shutting down", "timeout", timeout)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if failed != nil {
		srv.Close()
	} else if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
		srv.Close()
	}
	if opt.Hub != nil {
		if err := opt.Hub.Shutdown(sctx); err != nil {
			log.Warn("websocket clients did not close in time", "err", err)
		}
	}
	if failed != nil {
		return failed
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
