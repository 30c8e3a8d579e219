package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/agent"
	localhistory "github.com/tributary-iot/tributary/agent/history"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/web"
)

// The edge's own dashboard (--listen): the cloud's dashboard and API,
// served from the agent's readings (a bounded local history and a live
// hub fed by the agent's tap), with GET /api/edge telling the edge's
// health. It works with the uplink down. Same rules as the cloud:
// authentication off loopback, TLS optional, a Host allowlist.

// dashFlags are the dashboard's command-line flags.
type dashFlags struct {
	listen, authUser, authPwFile, tlsCert, tlsKey string
	usersFile                                     string
	insecure, openCommands                        bool
	hosts, origins, operators                     []string
	window                                        time.Duration
	maxSize                                       string
}

func (d *dashFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.listen, "listen", "", "`address` to serve the edge's own dashboard on, e.g. 0.0.0.0:8080 (default: the file's listen, else off)")
	fs.StringVar(&d.authUser, "auth-user", "", "require HTTP Basic authentication of the dashboard as this `user`")
	fs.StringVar(&d.authPwFile, "auth-password-file", "", "`file` holding the --auth-user password (default: $TRIBUTARY_AUTH_PASSWORD)")
	fs.BoolVar(&d.insecure, "insecure-no-auth", false, "allow serving the dashboard on a non-loopback address without authentication")
	fs.StringVar(&d.usersFile, "auth-users", "", "htpasswd `file` of the dashboard's accounts (name:bcrypt hash, from htpasswd -B)")
	fs.Func("operator", "the dashboard account `name` may switch actuators (others only view); repeatable", func(s string) error {
		d.operators = append(d.operators, s)
		return nil
	})
	fs.BoolVar(&d.openCommands, "insecure-open-commands", false, "without authentication, let anyone who reaches the dashboard switch actuators")
	fs.StringVar(&d.tlsCert, "tls-cert", "", "certificate PEM `file`: serve the dashboard over HTTPS (with --tls-key)")
	fs.StringVar(&d.tlsKey, "tls-key", "", "private key PEM `file` for --tls-cert")
	fs.Func("allowed-host", "answer dashboard requests for this `host` name or IP; \"*\": any. Repeatable (default: loopback names, the --listen host or this machine's)", func(s string) error {
		d.hosts = append(d.hosts, s)
		return nil
	})
	fs.Func("allowed-origin", "also allow the dashboard's WebSocket from pages of this `origin` (https://host[:port]); repeatable", func(s string) error {
		d.origins = append(d.origins, s)
		return nil
	})
	fs.DurationVar(&d.window, "local-history", localhistory.DefaultWindow, "keep this `duration` of readings in memory for the dashboard")
	fs.StringVar(&d.maxSize, "local-history-max", "32MiB", "most memory the local history takes (`size`: KiB, MiB); the oldest readings go first")
}

// dashSettings are the dashboard's resolved settings; listen "" is off.
type dashSettings struct {
	listen                 string
	authUser, authPassword string
	users                  []web.User
	operators              []string
	openCommands           bool
	tls                    *tls.Config
	hosts, origins         []string
	history                localhistory.Options
}

// resolveDashboard checks the flags, with fileListen, the file's listen,
// under --listen.
func resolveDashboard(f dashFlags, fileListen string) (dashSettings, error) {
	s := dashSettings{listen: f.listen, authUser: f.authUser, origins: f.origins, operators: f.operators, openCommands: f.openCommands}
	if s.listen == "" {
		s.listen = fileListen
	}
	if s.listen == "" {
		if f.authUser != "" || f.authPwFile != "" || f.tlsCert != "" || f.tlsKey != "" || len(f.hosts) > 0 || len(f.origins) > 0 ||
			f.usersFile != "" || len(f.operators) > 0 || f.openCommands {
			return s, usageError{Err: errors.New("--auth-user, --auth-password-file, --auth-users, --operator, --insecure-open-commands, --tls-*, --allowed-host and --allowed-origin need --listen")}
		}
		return s, nil
	}
	max, err := parseSize(f.maxSize)
	if err != nil || max <= 0 || f.window <= 0 {
		return s, usageError{Err: fmt.Errorf("--local-history must be > 0 and --local-history-max a size > 0 (%q)", f.maxSize)}
	}
	s.history = localhistory.Options{Window: f.window, MaxBytes: max}
	if s.hosts, err = cli.AllowedHosts(f.hosts, nil, s.listen); err != nil {
		return s, usageError{Err: err}
	}
	if name, err := os.Hostname(); len(f.hosts) == 0 && err == nil && name != "" && !strings.Contains(name, ".") {
		s.hosts = append(s.hosts, name+".local") // a phone on site reaches a Pi by its mDNS name
	}
	if s.tls, err = cli.ServerTLS(f.tlsCert, f.tlsKey); err != nil {
		return s, usageError{Err: err}
	}
	if f.authPwFile != "" {
		if s.authPassword, err = secret.ReadFile(f.authPwFile); err != nil {
			return s, fmt.Errorf("--auth-password-file: %w", err)
		}
	} else if f.authUser != "" {
		s.authPassword = os.Getenv("TRIBUTARY_AUTH_PASSWORD")
	}
	if f.usersFile != "" {
		if s.users, err = web.LoadUsers(f.usersFile); err != nil {
			return s, fmt.Errorf("--auth-users: %w", err)
		}
	}
	accounts := f.authUser != "" || len(s.users) > 0
	switch {
	case len(s.operators) > 0 && !accounts:
		return s, usageError{Err: errors.New("--operator names an account of --auth-user or --auth-users; there are none")}
	case s.openCommands && accounts:
		return s, usageError{Err: errors.New("--insecure-open-commands is for a dashboard without authentication; name operators with --operator")}
	case f.authUser != "" && s.authPassword == "":
		return s, usageError{Err: errors.New("--auth-user needs a password: --auth-password-file or TRIBUTARY_AUTH_PASSWORD")}
	case f.authUser == "" && f.authPwFile != "":
		return s, usageError{Err: errors.New("--auth-password-file needs --auth-user")}
	case !accounts && !f.insecure && !cli.IsLoopback(s.listen):
		return s, usageError{Err: fmt.Errorf("refusing to serve the dashboard on %s without authentication: anyone who can reach it could read this device's data. "+
			"Set --auth-users, or --auth-user and --auth-password-file, listen on 127.0.0.1, or pass --insecure-no-auth to accept the risk", s.listen)}
	}
	return s, nil
}

// dashboard is the running dashboard's parts; a nil *dashboard is off.
type dashboard struct {
	s      dashSettings
	device string
	boot   string
	hist   *localhistory.History
	hub    *fanout.Hub
	src    *fanout.MemorySource
	conns  *web.ConnCounter
	log    *slog.Logger
}

// newDashboard makes the history and the live feed the agent's tap fills;
// nil when the dashboard is off.
func newDashboard(s dashSettings, device, boot string, reg prometheus.Registerer, log *slog.Logger) (*dashboard, error) {
	if s.listen == "" {
		return nil, nil
	}
	ho := s.history
	ho.Device, ho.Boot = device, boot
	h, err := localhistory.New(ho)
	if err != nil {
		return nil, err
	}
	d := &dashboard{s: s, device: device, boot: boot, hist: h, hub: fanout.NewHub(fanout.Options{Logger: log}),
		src: new(fanout.MemorySource), conns: new(web.ConnCounter), log: log.With("component", "dashboard")}
	for _, c := range []prometheus.Collector{h.Collector(), d.hub.Collector("tributary_edge_dashboard"), d.conns.Collector("tributary_edge_dashboard")} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// tap is the agent's Options.OnReading: into the history and to the live
// clients, without waiting for either.
func (d *dashboard) tap() func(reading.Reading) {
	if d == nil {
		return nil
	}
	return func(r reading.Reading) {
		d.hist.Add(r)
		d.src.Publish(r.Device, r.Time, r.AppendJSON(make([]byte, 0, 160)))
	}
}

// edgeEnv is what /api/edge reports on.
type edgeEnv struct {
	agent  *agent.Agent
	spool  *spool.Spool
	uplink string // how the uplink was described at start (no secrets)
	// commands, if not nil, takes commands given on the dashboard (the
	// device's actuators under its controller).
	commands web.Commander
}

// publishEvent shows a command's event live on the dashboard; a nil
// dashboard ignores it.
func (d *dashboard) publishEvent(ev command.Event) {
	if d == nil {
		return
	}
	d.src.PublishEvent(d.device, ev.AppendFrame(nil))
}

// start listens and serves until stop, which shuts the server down and
// says the live feed stopped. The feed is live from start on: the agent
// runs.
func (d *dashboard) start(ctx context.Context, env edgeEnv) (stop func(), err error) {
	if d == nil {
		return func() {}, nil
	}
	files, err := edgeDashboard(web.DashboardFS())
	if err != nil {
		return nil, err
	}
	handler, err := web.New(web.Options{
		Store: d.hist, Hub: d.hub, Ready: d.src.Ready, Dashboard: files,
		AuthUser: d.s.authUser, AuthPassword: d.s.authPassword, AllowedHosts: d.s.hosts, AllowedOrigins: d.s.origins,
		Users: d.s.users, Operators: d.s.operators, OpenCommands: d.s.openCommands, Commands: env.commands,
		Logger: d.log, Routes: map[string]http.Handler{"GET /api/edge": d.edgeHandler(env)},
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", d.s.listen)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen: %w", err)
	}
	if (d.s.authUser != "" || len(d.s.users) > 0) && d.s.tls == nil && !cli.IsLoopback(d.s.listen) {
		d.log.Warn("serving HTTP Basic authentication without TLS: passwords cross the network readable; use --tls-cert/--tls-key")
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { d.hub.Run(sctx, d.src) })
	wg.Go(func() {
		err := web.Serve(sctx, ln, handler, web.ServeOptions{TLS: d.s.tls, Hub: d.hub, Conns: d.conns, MaxConns: 64, ShutdownTimeout: 2 * time.Second, Logger: d.log})
		if err != nil {
			d.log.Error("dashboard server failed", "err", err)
		}
	})
	d.src.SetStatus(true, "")
	scheme := "http"
	if d.s.tls != nil {
		scheme = "https"
	}
	d.log.Info("dashboard serving", "url", scheme+"://"+ln.Addr().String()+"/", "auth", d.s.authUser != "" || len(d.s.users) > 0,
		"operators", d.s.operators, "open_commands", d.s.openCommands, "commands", env.commands != nil, "local_history", d.s.history.Window, "local_history_max", d.s.history.MaxBytes)
	return func() {
		d.src.SetStatus(false, "agent stopped")
		cancel()
		wg.Wait()
	}, nil
}

// edgeInfo is the JSON of GET /api/edge: the edge's own health, for the
// dashboard's edge panel. The cloud has no such route (404).
type edgeInfo struct {
	Device  string               `json:"device"`
	Boot    string               `json:"boot"`
	Version string               `json:"version"`
	Now     time.Time            `json:"now"` // the edge's clock, to tell ages by
	Uplink  uplinkInfo           `json:"uplink"`
	Spool   spoolHealth          `json:"spool"`
	Sensors []agent.SensorHealth `json:"sensors"`
	History historyInfo          `json:"history"`
}

type uplinkInfo struct {
	Via string `json:"via"` // "redis redis://host:port", "mqtt mqtts://..."; no secrets
	agent.UplinkState
}

type historyInfo struct {
	Readings      int               `json:"readings"`
	Bytes         int64             `json:"bytes"`
	MaxBytes      int64             `json:"max_bytes"`
	WindowSeconds float64           `json:"window_seconds"`
	Oldest        time.Time         `json:"oldest,omitzero"`
	Dropped       map[string]uint64 `json:"dropped"`
}

func (d *dashboard) edgeHandler(env edgeEnv) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs := d.hist.Stats()
		info := edgeInfo{Device: d.device, Boot: d.boot, Version: buildinfo.String("edge"), Now: time.Now().UTC(),
			Uplink: uplinkInfo{Via: env.uplink, UplinkState: env.agent.Uplink()}, Spool: spoolHealthOf(env.spool.Stats()),
			Sensors: env.agent.Health(),
			History: historyInfo{Readings: hs.Readings, Bytes: hs.Bytes, MaxBytes: hs.MaxBytes, WindowSeconds: hs.Window.Seconds(),
				Oldest: hs.Oldest, Dropped: hs.Dropped}}
		b, err := json.Marshal(info)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(append(b, '\n'))
	})
}
