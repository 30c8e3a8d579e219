package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// config is everything the flags decide.
type config struct {
	redis         store.ClientOptions
	mqtt          mqttwire.Broker
	group         string
	mappings      []bridge.Mapping
	maxPayload    int
	queueSize     int
	metricsListen string
	shutdown      time.Duration
	logLevel      slog.Level
}

// Defaults of the flags.
const (
	defaultMQTT          = "mqtt://127.0.0.1:1883"
	defaultRedis         = "redis://127.0.0.1:6379"
	defaultMetricsListen = "127.0.0.1:9465"
)

const usageHead = `Usage: bridge [flags]

Tributary's MQTT bridge: subscribes to tributary/+/readings and
tributary/+/status (and the topics of --mappings) on an MQTT broker and
stores every reading in Redis, once, acknowledging a message only after
Redis has it. Messages that fail the checks go to the Redis stream
tributary:deadletter with the reason.

Passwords come from files (--mqtt-password-file, --redis-password-file),
never from the command line; logged URLs are redacted.

Flags:
`

// parseFlags parses args. It returns a nil config (and nil error) when it
// has answered --help or --version on stdout.
func parseFlags(args []string, stdout io.Writer, getenv func(string) string) (*config, error) {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, usageHead)
		fs.PrintDefaults()
	}
	var (
		cfg          config
		mqttPwFile   string
		redisPwFile  string
		mappingsFile string
		version      bool
		logLevel     string
	)
	// URLs are not defaulted from the environment here: usage text prints
	// defaults, and a URL may hold a password.
	fs.StringVar(&cfg.mqtt.URL, "mqtt", "", "broker `URL`: mqtt://host:port, or mqtts:// for TLS (default $MQTT_URL, else "+defaultMQTT+")")
	fs.StringVar(&cfg.mqtt.Username, "mqtt-username", "", "MQTT user `name` (the broker's password_file and ACL know it)")
	fs.StringVar(&mqttPwFile, "mqtt-password-file", "", "`file` holding the MQTT password (overrides the URL's)")
	fs.StringVar(&cfg.mqtt.CAFile, "mqtt-ca", "", "PEM `file` of CAs to verify an mqtts:// broker with, instead of the system roots")
	fs.StringVar(&cfg.mqtt.CertFile, "mqtt-cert", "", "client certificate PEM `file` for mqtts:// (with --mqtt-key)")
	fs.StringVar(&cfg.mqtt.KeyFile, "mqtt-key", "", "client key PEM `file` for --mqtt-cert")
	fs.StringVar(&cfg.mqtt.ClientID, "client-id", "", "MQTT client `id`: unique per bridge, stable across its restarts, so the broker keeps what it has not acknowledged (default "+mqttwire.BridgeClientIDPrefix+"[-GROUP]-HOSTNAME)")
	fs.StringVar(&cfg.group, "group", "", "share the readings with the other bridges of this `group` (MQTT shared subscription $share/GROUP/...); empty: receive all")
	fs.StringVar(&mappingsFile, "mappings", "", "YAML `file` of mappings for foreign formats (SenML, Zigbee2MQTT, Tasmota); see bridge/testdata/mappings.yaml")
	fs.IntVar(&cfg.maxPayload, "max-payload", reading.MaxBatchEncoded, "largest message accepted, in `bytes`; larger ones are dead-lettered")
	fs.IntVar(&cfg.queueSize, "queue-size", bridge.DefaultQueueSize, "`messages` received and waiting for Redis; keep it above the broker's max_inflight_messages")
	fs.StringVar(&cfg.redis.URL, "redis", "", "Redis `URL`: redis://[user:password@]host:port[/db] or rediss:// for TLS (default $REDIS_URL, else "+defaultRedis+")")
	fs.StringVar(&cfg.redis.CAFile, "redis-ca", "", "PEM `file` of CAs to verify a rediss:// server with, instead of the system roots")
	fs.StringVar(&cfg.redis.CertFile, "redis-cert", "", "client certificate PEM `file` for rediss://")
	fs.StringVar(&cfg.redis.KeyFile, "redis-key", "", "client key PEM `file` for rediss://")
	fs.StringVar(&redisPwFile, "redis-password-file", "", "`file` holding the Redis password (overrides the URL's)")
	fs.StringVar(&cfg.metricsListen, "metrics-listen", defaultMetricsListen, "`address` to serve /metrics and /healthz on; empty disables")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for the bridge to disconnect on SIGINT/SIGTERM")
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.BoolVar(&version, "version", false, "print the version and exit")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if version {
		fmt.Fprintln(stdout, buildinfo.String("bridge"))
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	for _, u := range []struct {
		dst      *string
		env, def string
	}{{&cfg.mqtt.URL, "MQTT_URL", defaultMQTT}, {&cfg.redis.URL, "REDIS_URL", defaultRedis}} {
		if *u.dst == "" {
			*u.dst = getenv(u.env)
		}
		if *u.dst == "" {
			*u.dst = u.def
		}
	}
	if cfg.maxPayload <= 0 || cfg.queueSize <= 0 || cfg.shutdown <= 0 {
		return nil, errors.New("--max-payload, --queue-size and --shutdown-timeout must be > 0")
	}
	if (cfg.mqtt.CertFile == "") != (cfg.mqtt.KeyFile == "") {
		return nil, errors.New("--mqtt-cert and --mqtt-key go together")
	}
	if (cfg.redis.CertFile == "") != (cfg.redis.KeyFile == "") {
		return nil, errors.New("--redis-cert and --redis-key go together")
	}
	var err error
	if mqttPwFile != "" {
		if cfg.mqtt.Password, err = secret.ReadFile(mqttPwFile); err != nil {
			return nil, fmt.Errorf("--mqtt-password-file: %w", err)
		}
	}
	if redisPwFile != "" {
		if cfg.redis.Password, err = secret.ReadFile(redisPwFile); err != nil {
			return nil, fmt.Errorf("--redis-password-file: %w", err)
		}
	}
	if mappingsFile != "" {
		if cfg.mappings, err = bridge.LoadMappings(mappingsFile); err != nil {
			return nil, fmt.Errorf("--mappings: %w", err)
		}
	}
	return &cfg, nil
}
