package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/internal/secret"
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
	users          []web.User // --auth-users
	operators      []string   // --operator
	openCommands   bool       // --insecure-open-commands
	allowedOrigins []string   // --public-origin and --allowed-origin
	allowedHosts   []string
	maxConns       int
	maxClientConns int // per client address; negative: no limit
	authFailures   int // per address and minute; negative: no limit
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
(--auth-users, or --auth-user with --auth-password-file or
TRIBUTARY_AUTH_PASSWORD) unless --insecure-no-auth is given. Only the
accounts named by --operator may send commands to actuators. Requests must name an allowed host (see
--allowed-host); behind a proxy, give the dashboard's --public-origin.

Flags:
`

// mappingsReference is the reference of the bridge's mappings
// (--mqtt-mappings).
const mappingsReference = "the mapping reference (bridge/README.md in Tributary's source)"

// parseFlags parses args. It returns a nil config (and nil error) when it
// has answered --help or --version on stdout.
func parseFlags(args []string, stdout io.Writer, getenv func(string) string) (*config, error) {
	fs, version := cli.NewFlagSet("cloud", usageHead, stdout)
	var (
		cfg          config
		redis        = cli.Conn{Name: "redis"}
		mqtt         = cli.Conn{Name: "mqtt"}
		tlsCert      string
		tlsKey       string
		authPwFile   string
		usersFile    string
		insecure     bool
		historyLen   int64
		historyAge   time.Duration
		dedupWindow  time.Duration
		maxFuture    time.Duration
		devRetention time.Duration
		listen       string
		offlineAfter time.Duration
		demo         int
		demoInterval time.Duration
		mqClientID   string
		mqGroup      string
		mqMappings   string
		hosts        []string
		origins      []string
		authFailures int
		clientConns  int
	)
	// Not defaulted from $REDIS_URL here: usage text prints defaults, and
	// the URL may hold a password. The environment is read after parsing.
	redis.Register(fs, "Redis `URL`: redis://[user@]host:port or rediss:// for TLS (the password in --redis-password-file, database 0 only) (default $REDIS_URL; none: embedded in-memory Redis)", false, "")
	fs.StringVar(&listen, "listen", "127.0.0.1:8080", "`address` to serve HTTP on")
	fs.StringVar(&tlsCert, "tls-cert", "", "certificate PEM `file`: serve HTTPS (with --tls-key)")
	fs.StringVar(&tlsKey, "tls-key", "", "private key PEM `file` for --tls-cert")
	fs.StringVar(&cfg.authUser, "auth-user", "", "require HTTP Basic authentication as this `user` (all but /healthz and /readyz)")
	fs.StringVar(&authPwFile, "auth-password-file", "", "`file` holding the --auth-user password (default: $TRIBUTARY_AUTH_PASSWORD)")
	fs.BoolVar(&insecure, "insecure-no-auth", false, "allow serving a non-loopback address without authentication")
	fs.StringVar(&usersFile, "auth-users", "", "htpasswd `file` of more accounts (name:bcrypt hash, from htpasswd -B)")
	fs.Func("operator", "the account `name` may send commands to actuators (others only view); repeatable", func(s string) error {
		cfg.operators = append(cfg.operators, s)
		return nil
	})
	fs.BoolVar(&cfg.openCommands, "insecure-open-commands", false, "without authentication, let anyone who reaches the server send commands (the demo)")
	fs.Func("public-origin", "`origin` (https://host[:port]) the dashboard is reached at, through a proxy say: its host is allowed, and its WebSocket; repeatable", func(s string) error {
		origins = append(origins, s)
		return nil
	})
	fs.Func("allowed-origin", "also allow WebSocket connections from pages of this `origin` (https://host[:port]); repeatable", func(s string) error {
		cfg.allowedOrigins = append(cfg.allowedOrigins, s)
		return nil
	})
	fs.Func("allowed-host", "answer requests for this `host` name or IP (no port); \"*\": any. Repeatable (default: loopback names, the --listen host or this machine's, the --public-origin hosts)", func(s string) error {
		hosts = append(hosts, s)
		return nil
	})
	fs.IntVar(&cfg.maxConns, "max-connections", web.DefaultMaxConns, "most HTTP `connections` (WebSockets included) served at once; more are closed at once")
	fs.IntVar(&clientConns, "max-client-connections", web.DefaultMaxClientConns, "most HTTP `connections` one client address (an IPv6 client by its /64) holds at once; 0: no limit (behind a reverse proxy, where every client has its address)")
	fs.IntVar(&authFailures, "auth-failure-limit", web.DefaultAuthFailureLimit, "failed authentications one client address may make per minute before 429; 0: no limit")
	fs.Int64Var(&historyLen, "history-maxlen", store.DefaultMaxLen, "keep about this many `readings` of history per device; negative: no length cap")
	fs.DurationVar(&historyAge, "history-maxage", 0, "drop history older than this `duration` (0: no age cap)")
	fs.DurationVar(&dedupWindow, "dedup-window", store.DefaultDedupWindow, "remember stored (device, seq) this long to drop repeats")
	fs.DurationVar(&maxFuture, "max-future", store.DefaultMaxFuture, "refuse readings stamped more than this `duration` ahead of Redis's clock; negative: no limit")
	fs.DurationVar(&devRetention, "device-retention", store.DefaultDeviceRetention, "forget a device (history, latest values, boots) silent this long; negative: never")
	fs.DurationVar(&offlineAfter, "offline-after", web.DefaultOfflineAfter, "report a device offline this long after its last reading")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for connections to close on SIGINT/SIGTERM")
	level := cli.RegisterLogLevel(fs)
	fs.IntVar(&demo, "demo", 0, "also run this many simulated edge agents (the real agent code, over TCP to the Redis in use); 0: none")
	fs.DurationVar(&demoInterval, "demo-interval", time.Second, "sampling `interval` of the --demo agents")
	mqtt.Register(fs, "also run the MQTT bridge: store what edge agents publish to the broker at this `URL` (mqtt:// or mqtts://)", true, "MQTT `user` name of the bridge")
	fs.StringVar(&mqClientID, "mqtt-client-id", "", "MQTT client `id` of the bridge on a broker without user names; with one, the id is the user name (default tributary-bridge[-group]-<host name>)")
	fs.StringVar(&mqMappings, "mqtt-mappings", "", "YAML `file` of mappings from other devices' formats (Zigbee2MQTT, Tasmota, Shelly, SenML ...) to readings: \"bridge mappings --example\" prints one, and "+mappingsReference+" describes every key")
	fs.StringVar(&mqGroup, "mqtt-group", "", "share the subscription among the bridges of this `group` ($share/<group>/...), as several cloud replicas should, each a broker user of its own")

	if answered, err := cli.Parse(fs, version, args, stdout); answered || err != nil {
		return nil, err
	}
	redis.URL = cmp.Or(redis.URL, getenv("REDIS_URL"))
	var err error
	if cfg.logLevel, err = level.Level(); err != nil {
		return nil, err
	}
	cfg.listen, cfg.offlineAfter = listen, offlineAfter
	if cfg.maxConns <= 0 || authFailures < 0 || clientConns < 0 {
		return nil, errors.New("--max-connections must be > 0, --max-client-connections and --auth-failure-limit >= 0")
	}
	cfg.maxClientConns = clientConns
	if clientConns == 0 {
		cfg.maxClientConns = -1
	}
	cfg.authFailures = authFailures
	if authFailures == 0 {
		cfg.authFailures = -1
	}
	if cfg.allowedHosts, err = cli.AllowedHosts(hosts, origins, listen); err != nil {
		return nil, err
	}
	cfg.allowedOrigins = append(origins, cfg.allowedOrigins...)
	if historyAge < 0 || dedupWindow <= 0 || offlineAfter <= 0 || historyLen == 0 || maxFuture == 0 || devRetention == 0 {
		return nil, errors.New("--history-maxage must be >= 0; --dedup-window and --offline-after > 0; --history-maxlen, --max-future and --device-retention not 0")
	}
	cfg.store = store.Options{MaxLen: historyLen, MaxAge: historyAge, DedupWindow: dedupWindow, MaxFuture: maxFuture, DeviceRetention: devRetention}
	if demo < 0 || demoInterval <= 0 {
		return nil, errors.New("--demo must be >= 0 and --demo-interval > 0")
	}
	if demo > 0 {
		cfg.components = append(cfg.components, demoFleet(demo, demoInterval, cfg.store, redis.URL != ""))
	}

	if mqtt.URL != "" {
		mq, err := mqtt.MQTT()
		if err != nil {
			return nil, err
		}
		mq.ClientID = mqClientID
		if err := mq.CheckClientID(); err != nil {
			return nil, fmt.Errorf("--mqtt-client-id: %w", err)
		}
		var maps []bridge.Mapping
		if mqMappings != "" {
			if maps, err = bridge.LoadMappings(mqMappings); err != nil {
				return nil, fmt.Errorf("--mqtt-mappings: %w", err)
			}
		}
		cfg.components = append(cfg.components, mqttBridge(bridge.Options{MQTT: mq, Group: mqGroup, Mappings: maps}, cfg.store))
	} else if mqtt.Given() || mqClientID != "" || mqGroup != "" || mqMappings != "" {
		return nil, errors.New("--mqtt-* flags need --mqtt")
	}
	if redis.URL == "" && redis.Given() {
		return nil, errors.New("--redis-password-file, --redis-ca, --redis-cert and --redis-key need --redis (or REDIS_URL)")
	}
	if cfg.redis, err = redis.Redis(); err != nil {
		return nil, err
	}
	if cfg.tls, err = cli.ServerTLS(tlsCert, tlsKey); err != nil {
		return nil, err
	}
	if authPwFile != "" {
		if cfg.authPassword, err = secret.ReadFile(authPwFile); err != nil {
			return nil, fmt.Errorf("--auth-password-file: %w", err)
		}
	} else {
		cfg.authPassword = getenv("TRIBUTARY_AUTH_PASSWORD")
	}
	if usersFile != "" {
		if cfg.users, err = web.LoadUsers(usersFile); err != nil {
			return nil, fmt.Errorf("--auth-users: %w", err)
		}
	}
	accounts := cfg.authUser != "" || len(cfg.users) > 0
	switch {
	case len(cfg.operators) > 0 && !accounts:
		return nil, errors.New("--operator names an account of --auth-user or --auth-users; there are none")
	case cfg.openCommands && accounts:
		return nil, errors.New("--insecure-open-commands is for a server without authentication; name operators with --operator")
	}
	for _, op := range cfg.operators {
		if op != cfg.authUser && !slices.ContainsFunc(cfg.users, func(u web.User) bool { return u.Name == op }) {
			return nil, fmt.Errorf("--operator: operator %q is not a user of --auth-user or --auth-users", op)
		}
	}
	switch {
	case cfg.authUser != "" && cfg.authPassword == "":
		return nil, errors.New("--auth-user needs a password: --auth-password-file or TRIBUTARY_AUTH_PASSWORD")
	case cfg.authUser == "" && authPwFile != "":
		return nil, errors.New("--auth-password-file needs --auth-user")
	case cfg.authUser == "":
		cfg.authPassword = "" // TRIBUTARY_AUTH_PASSWORD alone does nothing
		if !accounts && !insecure && !cli.IsLoopback(listen) {
			return nil, fmt.Errorf("refusing to serve %s without authentication: anyone who can reach it could read every device's data. "+
				"Set --auth-users, or --auth-user and --auth-password-file (or TRIBUTARY_AUTH_PASSWORD), listen on 127.0.0.1, "+
				"or pass --insecure-no-auth to accept the risk", listen)
		}
	}
	return &cfg, nil
}
