package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsMux returns a mux serving reg on GET /metrics and "ok" on
// GET /healthz; callers may add routes (the edge adds /health).
func MetricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// Background is an HTTP server running on its own goroutine, such as the
// private metrics server beside an agent or a bridge.
type Background struct {
	srv *http.Server
	wg  sync.WaitGroup
}

// ServeBackground serves h on ln until Stop. Serve errors other than a
// stop are logged. It takes ownership of ln.
func ServeBackground(ln net.Listener, h http.Handler, log *slog.Logger) *Background {
	b := &Background{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return b
}

// Stop shuts the server down, giving requests in progress up to grace to
// finish, and returns once its goroutine has.
func (b *Background) Stop(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.srv.Close()
	}
	b.wg.Wait()
}
