package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// config is everything the flags decide.
type config struct {
	redis          store.ClientOptions // URL "" means an embedded Redis
	store          store.Options
	listen         string
	tls            *tls.Config // nil: plain HTTP
	authUser       string
	authPassword   string
	allowedOrigins []string
	offlineAfter   time.Duration
	shutdown       time.Duration
	logLevel       slog.Level
	// components run beside the server with the Redis it uses. The demo
	// fleet (--demo) plugs in here: register its flags in parseFlags and
	// append it to this list.
	components []component
}

const usageHead = `Usage: cloud [flags]

Tributary's cloud service: live readings from Redis to browsers over
WebSocket, with history, device list, metrics and health endpoints.
Without --redis or REDIS_URL it runs an embedded, in-memory Redis.

Listening on an address other than loopback requires authentication
(--auth-user with --auth-password-file or TRIBUTARY_AUTH_PASSWORD) unless
--insecure-no-auth is given.

Flags:
`

// parseFlags parses args. It returns a nil config (and nil error) when it
// has answered --help or --version on stdout.
func parseFlags(args []string, stdout io.Writer, getenv func(string) string) (*config, error) {
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, usageHead)
		fs.PrintDefaults()
	}
	var (
		cfg          config
		redisPwFile  string
		tlsCert      string
		tlsKey       string
		authPwFile   string
		insecure     bool
		version      bool
		logLevel     string
		historyLen   int64
		historyAge   time.Duration
		dedupWindow  time.Duration
		listen       string
		offlineAfter time.Duration
		demo         int
		demoInterval time.Duration
		mq           mqttwire.Broker
		mqPwFile     string
		mqGroup      string
		mqMappings   string
	)
	// Not defaulted from $REDIS_URL here: usage text prints defaults, and
	// the URL may hold a password. The environment is read after parsing.
	fs.StringVar(&cfg.redis.URL, "redis", "", "Redis `URL`: redis://[user:password@]host:port[/db] or rediss:// for TLS (default $REDIS_URL; none: embedded in-memory Redis)")
	fs.StringVar(&cfg.redis.CAFile, "redis-ca", "", "PEM `file` of CAs to verify a rediss:// server with, instead of the system roots")
	fs.StringVar(&cfg.redis.CertFile, "redis-cert", "", "client certificate PEM `file` for rediss://")
	fs.StringVar(&cfg.redis.KeyFile, "redis-key", "", "client key PEM `file` for rediss://")
	fs.StringVar(&redisPwFile, "redis-password-file", "", "`file` holding the Redis password (overrides the URL's)")
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "`address` to serve HTTP on")
	fs.StringVar(&tlsCert, "tls-cert", "", "certificate PEM `file`: serve HTTPS (with --tls-key)")
	fs.StringVar(&tlsKey, "tls-key", "", "private key PEM `file` for --tls-cert")
	fs.StringVar(&cfg.authUser, "auth-user", "", "require HTTP Basic authentication as this `user` (all but /healthz and /readyz)")
	fs.StringVar(&authPwFile, "auth-password-file", "", "`file` holding the --auth-user password (default: $TRIBUTARY_AUTH_PASSWORD)")
	fs.BoolVar(&insecure, "insecure-no-auth", false, "allow serving a non-loopback address without authentication")
	fs.Func("allowed-origin", "allow WebSocket connections from this browser `origin` (https://host[:port]) besides the server's own; repeatable", func(s string) error {
		cfg.allowedOrigins = append(cfg.allowedOrigins, s)
		return nil
	})
	fs.Int64Var(&historyLen, "history-maxlen", store.DefaultMaxLen, "keep about this many `readings` of history per device; negative: no length cap")
	fs.DurationVar(&historyAge, "history-maxage", 0, "drop history older than this `duration` (0: no age cap)")
	fs.DurationVar(&dedupWindow, "dedup-window", store.DefaultDedupWindow, "remember stored (device, seq) this long to drop repeats")
	fs.DurationVar(&offlineAfter, "offline-after", web.DefaultOfflineAfter, "report a device offline this long after its last reading")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for connections to close on SIGINT/SIGTERM")
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.BoolVar(&version, "version", false, "print the version and exit")
	fs.IntVar(&demo, "demo", 0, "also run this many simulated edge agents (the real agent code, over TCP to the Redis in use); 0: none")
	fs.DurationVar(&demoInterval, "demo-interval", time.Second, "sampling `interval` of the --demo agents")
	fs.StringVar(&mq.URL, "mqtt", "", "also run the MQTT bridge: store what edge agents publish to the broker at this `URL` (mqtt:// or mqtts://)")
	fs.StringVar(&mq.Username, "mqtt-username", "", "MQTT `user` name of the bridge")
	fs.StringVar(&mqPwFile, "mqtt-password-file", "", "`file` holding the bridge's MQTT password")
	fs.StringVar(&mq.CAFile, "mqtt-ca", "", "PEM `file` of CAs to verify an mqtts:// broker with")
	fs.StringVar(&mq.CertFile, "mqtt-cert", "", "client certificate PEM `file` for mqtts://")
	fs.StringVar(&mq.KeyFile, "mqtt-key", "", "client key PEM `file` for mqtts://")
	fs.StringVar(&mq.ClientID, "mqtt-client-id", "", "MQTT client `id` of the bridge: unique per replica, stable across restarts (default: tributary-bridge[-group]-<host name>)")
	fs.StringVar(&mqMappings, "mqtt-mappings", "", "YAML `file` of mappings from other devices' formats (SenML, Zigbee2MQTT, Tasmota) to readings; see bridge.Mapping")
	fs.StringVar(&mqGroup, "mqtt-group", "", "share the subscription among the bridges of this `group` ($share/<group>/...), as several cloud replicas should")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if version {
		fmt.Fprintln(stdout, buildinfo.String("cloud"))
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	if cfg.redis.URL == "" {
		cfg.redis.URL = getenv("REDIS_URL")
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	cfg.listen, cfg.offlineAfter = listen, offlineAfter
	if historyAge < 0 || dedupWindow <= 0 || offlineAfter <= 0 || historyLen == 0 {
		return nil, errors.New("--history-maxage must be >= 0; --dedup-window and --offline-after > 0; --history-maxlen not 0")
	}
	cfg.store = store.Options{MaxLen: historyLen, MaxAge: historyAge, DedupWindow: dedupWindow}
	if demo < 0 || demoInterval <= 0 {
		return nil, errors.New("--demo must be >= 0 and --demo-interval > 0")
	}
	if demo > 0 {
		cfg.components = append(cfg.components, demoFleet(demo, demoInterval, cfg.store, cfg.redis.URL != ""))
	}

	var err error
	if mq.URL != "" {
		if mqPwFile != "" {
			if mq.Password, err = secret.ReadFile(mqPwFile); err != nil {
				return nil, fmt.Errorf("--mqtt-password-file: %w", err)
			}
		}
		if (mq.CertFile == "") != (mq.KeyFile == "") {
			return nil, errors.New("--mqtt-cert and --mqtt-key go together")
		}
		var maps []bridge.Mapping
		if mqMappings != "" {
			if maps, err = bridge.LoadMappings(mqMappings); err != nil {
				return nil, fmt.Errorf("--mqtt-mappings: %w", err)
			}
		}
		cfg.components = append(cfg.components, mqttBridge(bridge.Options{MQTT: mq, Group: mqGroup, Mappings: maps}, cfg.store))
	} else if mqPwFile != "" || mq.Username != "" || mq.CAFile != "" || mq.CertFile != "" || mqGroup != "" || mqMappings != "" {
		return nil, errors.New("--mqtt-* flags need --mqtt")
	}
	if redisPwFile != "" {
		if cfg.redis.Password, err = secret.ReadFile(redisPwFile); err != nil {
			return nil, fmt.Errorf("--redis-password-file: %w", err)
		}
	}
	if cfg.redis.URL == "" && (redisPwFile != "" || cfg.redis.CAFile != "" || cfg.redis.CertFile != "") {
		return nil, errors.New("--redis-password-file, --redis-ca and --redis-cert need --redis (or REDIS_URL)")
	}
	if (cfg.redis.CertFile == "") != (cfg.redis.KeyFile == "") {
		return nil, errors.New("--redis-cert and --redis-key go together")
	}

	if (tlsCert == "") != (tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	if authPwFile != "" {
		if cfg.authPassword, err = secret.ReadFile(authPwFile); err != nil {
			return nil, fmt.Errorf("--auth-password-file: %w", err)
		}
	} else {
		cfg.authPassword = getenv("TRIBUTARY_AUTH_PASSWORD")
	}
	switch {
	case cfg.authUser != "" && cfg.authPassword == "":
		return nil, errors.New("--auth-user needs a password: --auth-password-file or TRIBUTARY_AUTH_PASSWORD")
	case cfg.authUser == "" && authPwFile != "":
		return nil, errors.New("--auth-password-file needs --auth-user")
	case cfg.authUser == "":
		cfg.authPassword = "" // TRIBUTARY_AUTH_PASSWORD alone does nothing
		if !insecure && !isLoopback(listen) {
			return nil, fmt.Errorf("refusing to serve %s without authentication: anyone who can reach it could read every device's data. "+
				"Set --auth-user and --auth-password-file (or TRIBUTARY_AUTH_PASSWORD), listen on 127.0.0.1, "+
				"or pass --insecure-no-auth to accept the risk", listen)
		}
	}
	return &cfg, nil
}

// isLoopback reports whether a listen address only accepts local
// connections.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
