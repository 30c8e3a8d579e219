package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/store"
)

// run is the whole program: it parses args, bridges until ctx is done, and
// stops within the shutdown timeout (or, as "bridge mappings ...", prints
// or checks mappings). --help and --version print to stdout;
// logs go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "mappings" {
		return runMappings(args[1:], stdout)
	}
	cfg, err := parseFlags(args, stdout, os.Getenv)
	if err != nil || cfg == nil {
		return err // nil config: --version or --help was answered
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	redisLogLevel.Set(cfg.logLevel)

	rdb, err := store.NewClient(cfg.redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	// History length, age and the dedup window are the cloud's: it
	// publishes them in Redis and every ingester applies them.
	st := store.New(rdb, store.Options{})

	reg, err := cli.NewRegistry("tributary_bridge")
	if err != nil {
		return err
	}

	b, err := bridge.New(bridge.Options{
		Store:      st,
		MQTT:       cfg.mqtt,
		Group:      cfg.group,
		Mappings:   cfg.mappings,
		MaxPayload: cfg.maxPayload,
		QueueSize:  cfg.queueSize,
		Registerer: reg,
		Logger:     log,
	})
	if err != nil {
		return err
	}

	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watch := newRedisWatch(rdb, cfg.redisCheck, log)
	watched := watch.Start(watchCtx)
	defer func() { stopWatch(); <-watched; watch.Close() }()

	metricsAddr := "disabled"
	if cfg.metricsListen != "" {
		ln, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := cli.MetricsMux(reg)
		mux.Handle("GET /readyz", readyz(b.CheckReady, watch.Ready))
		metrics := cli.ServeBackground(ln, mux, log)
		defer metrics.Stop(2 * time.Second)
		metricsAddr = "http://" + ln.Addr().String() + "/metrics"
	}
	log.Info("bridge", "version", buildinfo.String("bridge"), "mqtt", store.RedactURL(cfg.mqtt.URL),
		"redis", store.RedactURL(cfg.redis.URL), "metrics", metricsAddr)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdown)
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(cfg.shutdown):
		return fmt.Errorf("the bridge did not stop within %v", cfg.shutdown)
	}
}

// readyz answers 200 "ready" when every check is nil, else 503 with the
// first failure (the bridge's: not connected to the broker and subscribed,
// such as after a session takeover).
func readyz(checks ...func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		for _, c := range checks {
			if err := c(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "not ready:", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	}
}
