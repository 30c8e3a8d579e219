package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/redissource"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// component is an extra part of the process, started beside the server
// with the Redis the cloud uses (the embedded one or --redis) and stopped
// by cancelling ctx. An error from it other than at shutdown stops the
// whole process.
type component struct {
	name string
	run  func(ctx context.Context, env componentEnv) error
}

// componentEnv is what a component gets from the server.
type componentEnv struct {
	Redis      store.ClientOptions   // the Redis the cloud uses
	Log        *slog.Logger          // with a component attribute
	Registerer prometheus.Registerer // the cloud's /metrics registry
}

// metricsNamespace prefixes the cloud's metric names.
const metricsNamespace = "tributary_cloud"

// newRegistry returns the registry of the cloud's metrics: its parts'
// collectors and cs.
func newRegistry(hub *fanout.Hub, live *redissource.Source, conns *web.ConnCounter, skips *web.SkipCounter, cs ...prometheus.Collector) (*prometheus.Registry, error) {
	return cli.NewRegistry(metricsNamespace, append([]prometheus.Collector{hub.Collector(metricsNamespace), live.Collector(metricsNamespace), conns.Collector(metricsNamespace), skips.Collector(metricsNamespace)}, cs...)...)
}

// listening says where a started cloud serves.
type listening struct {
	URL   string              // http(s)://host:port/ of the HTTP server
	Redis store.ClientOptions // the Redis it uses
}

// serve runs the cloud until ctx is done or a part fails, then shuts down
// within cfg.shutdown: HTTP first (no new clients), then the WebSocket
// clients, then the live feed and the components. started, if not nil, is
// called once it is serving.
func serve(ctx context.Context, cfg config, log *slog.Logger, started func(listening)) error {
	redisOpt := cfg.redis
	if redisOpt.URL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("start embedded redis: %w", err)
		}
		defer mr.Close()
		redisOpt.URL = "redis://" + mr.Addr()
		log.Warn("using an embedded, in-memory Redis: data is lost on exit; set --redis or REDIS_URL to use a real one", "addr", mr.Addr())
	}
	rdb, err := store.NewClient(redisOpt)
	if err != nil {
		return err
	}
	defer rdb.Close()
	stOpt := cfg.store
	stOpt.Logger = log
	st := store.New(rdb, stOpt)
	log.Info("using redis", "url", store.RedactURL(redisOpt.URL), "history_maxlen", cfg.store.MaxLen, "history_maxage", cfg.store.MaxAge,
		"device_retention", cfg.store.DeviceRetention)

	lat := newLatency()
	hub := fanout.NewHub(fanout.Options{Logger: log, WriteLatency: lat.WithLabelValues(stageWrite)})
	live := redissource.New(st, redissource.Options{Logger: log, RelayLatency: lat.WithLabelValues(stageRelay)})
	conns, skips := new(web.ConnCounter), new(web.SkipCounter)
	reg, err := newRegistry(hub, live, conns, skips, lat, newDevicesCollector(st, cfg.offlineAfter, log))
	if err != nil {
		return err
	}
	handler, err := web.New(web.Options{
		Store: st, Hub: hub, Ready: live.Ready, Dashboard: web.DashboardFS(), Gatherer: reg, Skips: skips,
		AuthUser: cfg.authUser, AuthPassword: cfg.authPassword, AuthFailureLimit: cfg.authFailures,
		Users: cfg.users, Operators: cfg.operators, OpenCommands: cfg.openCommands, Commands: st,
		AllowedOrigins: cfg.allowedOrigins, AllowedHosts: cfg.allowedHosts,
		OfflineAfter: cfg.offlineAfter, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	auth := cfg.authUser != "" || len(cfg.users) > 0
	if auth && cfg.tls == nil && !cli.IsLoopback(cfg.listen) {
		log.Warn("serving HTTP Basic authentication without TLS: passwords cross the network readable; use --tls-cert/--tls-key or a TLS proxy")
	}

	// The parts outlive ctx until the HTTP server and its clients are
	// down; the first part to fail stops everything.
	g, gctx := errgroup.WithContext(ctx)
	partsCtx, stopParts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopParts()
	part := func(name string, run func(context.Context) error) {
		g.Go(func() error {
			if err := run(partsCtx); err != nil && partsCtx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	part("live feed", func(ctx context.Context) error { return hub.Run(ctx, live) })
	// The retention flags reach every ingester through Redis.
	part("retention", func(ctx context.Context) error { return st.RunRetention(ctx, 0) })
	// Devices writing straight to Redis run the ingest by its SHA only
	// (their Redis users may not EVAL): the scripts stay in Redis's cache.
	scriptLog := &lograte.Limiter{Every: time.Minute}
	part("scripts", func(ctx context.Context) error {
		return st.KeepScriptsLoaded(ctx, 0, func(err error) {
			if n, ok := scriptLog.Fail(time.Now()); ok {
				log.Warn("cannot load the ingest scripts into Redis; devices writing straight to Redis wait", "err", err, "since_last_log", n)
			}
		})
	})
	for _, c := range cfg.components {
		env := componentEnv{Redis: redisOpt, Log: log.With("component", c.name), Registerer: reg}
		part(c.name, func(ctx context.Context) error { return c.run(ctx, env) })
	}
	g.Go(func() error {
		defer stopParts()
		err := web.Serve(gctx, ln, handler, web.ServeOptions{TLS: cfg.tls, Hub: hub, MaxConns: cfg.maxConns, MaxClientConns: cfg.maxClientConns, Conns: conns, ShutdownTimeout: cfg.shutdown, Logger: log})
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	scheme := "http"
	if cfg.tls != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String() + "/"
	log.Info("cloud serving", "url", url, "auth", auth, "operators", cfg.operators, "open_commands", cfg.openCommands, "version", buildinfo.String("cloud"))
	if cfg.openCommands {
		log.Warn("--insecure-open-commands: anyone who reaches this server may switch actuators")
	}
	if started != nil {
		started(listening{URL: url, Redis: redisOpt})
	}
	err = g.Wait()
	if err != nil {
		log.Error("stopped after a failure", "err", err)
	} else {
		log.Info("stopped")
	}
	return err
}
