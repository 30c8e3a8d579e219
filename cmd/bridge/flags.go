package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/cli"
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
	redisCheck    time.Duration
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
       bridge mappings --example | --check FILE

Tributary's MQTT bridge: subscribes to tributary/+/readings,
tributary/+/status and tributary/+/events (and the topics of --mappings) on
an MQTT broker and stores every reading and command event in Redis, once,
acknowledging a message only after Redis has it; it relays the commands the
cloud records (tributary:command_outbox) to tributary/<device>/commands.
Messages that fail the checks go to the Redis stream tributary:deadletter
with the reason.

Mappings (--mappings) turn other devices' messages (Zigbee2MQTT, Tasmota,
Shelly, Home Assistant-style JSON, SenML) into readings: "bridge mappings
--example" prints a complete, commented file, and the mapping reference,
bridge/README.md in Tributary's source, describes every key.

Passwords come from files (--mqtt-password-file, --redis-password-file),
never from the command line; logged URLs are redacted.

Flags:
`

// parseFlags parses args. It returns a nil config (and nil error) when it
// has answered --help or --version on stdout.
func parseFlags(args []string, stdout io.Writer, getenv func(string) string) (*config, error) {
	fs, version := cli.NewFlagSet("bridge", usageHead, stdout)
	var (
		cfg          config
		mqtt         = cli.Conn{Name: "mqtt"}
		redis        = cli.Conn{Name: "redis"}
		mappingsFile string
	)
	// URLs are not defaulted from the environment here: usage text prints
	// defaults, and a URL may hold a password.
	mqtt.Register(fs, "broker `URL`: mqtt://host:port, or mqtts:// for TLS (default $MQTT_URL, else "+defaultMQTT+")",
		true, "MQTT user `name` (the broker's password_file and ACL know it)")
	redis.Register(fs, "Redis `URL`: redis://[user@]host:port or rediss:// for TLS (the password in --redis-password-file, database 0 only) (default $REDIS_URL, else "+defaultRedis+")", false, "")
	fs.StringVar(&cfg.mqtt.ClientID, "client-id", "", "MQTT client `id` on a broker without user names; with one, the id is the user name (default "+mqttwire.BridgeClientIDPrefix+"[-GROUP]-HOSTNAME)")
	fs.StringVar(&cfg.group, "group", "", "share the readings with the other bridges of this `group` ($share/GROUP/...), each a broker user of its own; empty: receive all")
	fs.StringVar(&mappingsFile, "mappings", "", "YAML `file` of mappings for other devices' formats (Zigbee2MQTT, Tasmota, Shelly, SenML ...); \"bridge mappings --example\" prints one, bridge/README.md describes every key")
	fs.IntVar(&cfg.maxPayload, "max-payload", reading.MaxBatchEncoded, "largest message accepted, in `bytes`; larger ones are dead-lettered")
	fs.IntVar(&cfg.queueSize, "queue-size", bridge.DefaultQueueSize, "`messages` received and waiting for Redis; keep it above the broker's max_inflight_messages")
	fs.StringVar(&cfg.metricsListen, "metrics-listen", defaultMetricsListen, "`address` to serve /metrics, /healthz and /readyz (503 while not subscribed to the broker or Redis is unreachable) on; empty disables")
	fs.DurationVar(&cfg.redisCheck, "redis-check-interval", 5*time.Second, "ping Redis this often, to log when it goes away or returns and answer /readyz")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for the bridge to disconnect on SIGINT/SIGTERM")
	level := cli.RegisterLogLevel(fs)

	if answered, err := cli.Parse(fs, version, args, stdout); answered || err != nil {
		return nil, err
	}
	var err error
	if cfg.logLevel, err = level.Level(); err != nil {
		return nil, err
	}
	mqtt.URL = cmp.Or(mqtt.URL, getenv("MQTT_URL"), defaultMQTT)
	redis.URL = cmp.Or(redis.URL, getenv("REDIS_URL"), defaultRedis)
	if cfg.maxPayload <= 0 || cfg.queueSize <= 0 || cfg.shutdown <= 0 || cfg.redisCheck <= 0 {
		return nil, errors.New("--max-payload, --queue-size, --shutdown-timeout and --redis-check-interval must be > 0")
	}
	clientID := cfg.mqtt.ClientID
	if cfg.mqtt, err = mqtt.MQTT(); err != nil {
		return nil, err
	}
	cfg.mqtt.ClientID = clientID
	if err := cfg.mqtt.CheckClientID(); err != nil {
		return nil, fmt.Errorf("--client-id: %w", err)
	}
	if cfg.redis, err = redis.Redis(); err != nil {
		return nil, err
	}
	if mappingsFile != "" {
		if cfg.mappings, err = bridge.LoadMappings(mappingsFile); err != nil {
			return nil, fmt.Errorf("--mappings: %w", err)
		}
	}
	return &cfg, nil
}
