package bridge

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/tlsfiles"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// MQTTOptions say how to reach the broker. The zero value of every field
// but URL is usable. cmd/bridge and cmd/cloud fill it from the same flags.
type MQTTOptions struct {
	// URL is mqtt://[user[:password]@]host[:port] (default port 1883) or
	// mqtts://... for TLS (default port 8883).
	URL string
	// CAFile is a PEM bundle to verify an mqtts:// broker with, in place of
	// the system roots.
	CAFile string
	// CertFile and KeyFile are a client certificate for brokers that
	// require one (require_certificate true).
	CertFile, KeyFile string
	// Username and Password authenticate the bridge (password_file). Read
	// the password from a file (internal/secret); it is never logged. Each
	// overrides its part of the URL's user info.
	Username, Password string
	// ClientID names the bridge's persistent session at the broker. It must
	// be unique per bridge instance and stable across its restarts, so that
	// the broker keeps what the bridge has not acknowledged for it. Default
	// "tributary-bridge-<host name>", or "tributary-bridge-<group>-<host
	// name>" with Options.Group.
	ClientID string
	// KeepAlive is the MQTT keep-alive interval. Default 30s.
	KeepAlive time.Duration
}

// Options configure a Bridge. Store is required, and MQTT.URL; every other
// field says its default.
type Options struct {
	// Store is where readings go. The bridge borrows it (and its Redis
	// client); the caller closes the client after Run returns.
	Store *store.Store
	// MQTT says how to reach the broker.
	MQTT MQTTOptions
	// Group, when set, subscribes to the readings (and every mapping's
	// topic) as the shared subscription $share/<Group>/..., so that the
	// bridges of one group split the messages between them, each message
	// going to one. Status topics are never shared: every bridge records
	// every boot (idempotently), since a shared subscription gets no
	// retained messages. Default "": a plain subscription.
	Group string
	// Mappings turn foreign formats (SenML, flat JSON) on other topics into
	// readings; see Mapping. Default none.
	Mappings []Mapping
	// MaxPayload is the largest message accepted, in bytes; a larger one is
	// dead-lettered unread. Default reading.MaxBatchEncoded.
	MaxPayload int
	// QueueSize is how many received messages may wait for Redis. It must
	// exceed the broker's in-flight window for the bridge
	// (max_inflight_messages, 20 by default in mosquitto): a full queue
	// stalls the MQTT client's reader, keep-alive included. Default 1024.
	QueueSize int
	// DeadLetterKey is the Redis stream of refused messages. Default
	// "tributary:deadletter".
	DeadLetterKey string
	// DeadLetterMaxLen caps the dead-letter stream, approximately. Default
	// 10000.
	DeadLetterMaxLen int64
	// DeadLetterPayload is how many bytes of a refused message's payload
	// the dead-letter entry keeps (its "truncated" field says whether that
	// was all). Default 4096.
	DeadLetterPayload int
	// MaxBackoff is the longest wait between retries while Redis or the
	// broker is unreachable; waits start at 100ms, double, and are jittered.
	// Default 10s.
	MaxBackoff time.Duration
	// Registerer receives the bridge's metrics (tributary_bridge_*).
	// Default: none, the metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Logger receives the bridge's log. Default: discard.
	Logger *slog.Logger
	// Now is the clock that stamps arrival times (of readings of foreign
	// formats without a usable time, and of dead letters). Default time.Now.
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultQueueSize         = 1024
	DefaultDeadLetterKey     = store.DefaultPrefix + ":deadletter"
	DefaultDeadLetterMaxLen  = 10000
	DefaultDeadLetterPayload = 4096
	DefaultMaxBackoff        = 10 * time.Second
	DefaultKeepAlive         = 30 * time.Second
	DefaultClientIDPrefix    = "tributary-bridge"
)

func (o Options) withDefaults() Options {
	o.MaxPayload = cmp.Or(o.MaxPayload, reading.MaxBatchEncoded)
	o.QueueSize = cmp.Or(o.QueueSize, DefaultQueueSize)
	o.DeadLetterKey = cmp.Or(o.DeadLetterKey, DefaultDeadLetterKey)
	o.DeadLetterMaxLen = cmp.Or(o.DeadLetterMaxLen, DefaultDeadLetterMaxLen)
	o.DeadLetterPayload = cmp.Or(o.DeadLetterPayload, DefaultDeadLetterPayload)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, DefaultMaxBackoff)
	o.MQTT.KeepAlive = cmp.Or(o.MQTT.KeepAlive, DefaultKeepAlive)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MQTT.ClientID == "" {
		host, _ := os.Hostname()
		id := DefaultClientIDPrefix
		if o.Group != "" {
			id += "-" + o.Group
		}
		o.MQTT.ClientID = id + "-" + cmp.Or(host, "unknown")
	}
	return o
}

func (o *Options) validate() error {
	switch {
	case o.Store == nil:
		return errors.New("bridge: Options.Store is required")
	case o.MaxPayload < 0 || o.QueueSize < 0 || o.DeadLetterMaxLen < 0 || o.DeadLetterPayload < 0 || o.MaxBackoff < 0:
		return errors.New("bridge: negative size or duration in Options")
	case o.Group != "" && !reading.ValidID(o.Group):
		return fmt.Errorf("bridge: group %q: use letters, digits, '.', '_' and '-'", o.Group)
	}
	return nil
}

// broker is a checked broker URL.
type broker struct {
	url                string // without user info, with the port
	tls                bool
	username, password string // from the URL
}

// brokerURL checks u and returns it with the default port filled in and
// its user info apart.
func brokerURL(u string) (broker, error) {
	p, err := url.Parse(u)
	if err != nil {
		return broker{}, fmt.Errorf("bridge: MQTT URL %s: malformed", store.RedactURL(u))
	}
	var b broker
	port := "1883"
	switch p.Scheme {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		port, b.tls = "8883", true
	default:
		return broker{}, fmt.Errorf("bridge: MQTT URL %s: scheme %q, want mqtt:// or mqtts://", store.RedactURL(u), p.Scheme)
	}
	if p.Hostname() == "" {
		return broker{}, fmt.Errorf("bridge: MQTT URL %s: no host", store.RedactURL(u))
	}
	if p.Port() == "" {
		p.Host = net.JoinHostPort(p.Hostname(), port)
	}
	if p.Path != "" && p.Path != "/" {
		return broker{}, fmt.Errorf("bridge: MQTT URL %s: unexpected path %q", store.RedactURL(u), p.Path)
	}
	if p.User != nil {
		b.username = p.User.Username()
		b.password, _ = p.User.Password()
	}
	p.Path, p.User = "", nil
	b.url = p.String()
	return b, nil
}

// tlsConfig builds the client TLS configuration of o, for an mqtts:// URL.
func (o *MQTTOptions) tlsConfig(tlsOn bool) (*tls.Config, error) {
	if !tlsOn {
		if o.CAFile != "" || o.CertFile != "" {
			return nil, fmt.Errorf("bridge: TLS files given but %s is not an mqtts:// URL", store.RedactURL(o.URL))
		}
		return nil, nil
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("bridge: MQTT client certificate and key go together")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if err := tlsfiles.Apply(c, o.CAFile, o.CertFile, o.KeyFile); err != nil {
		return nil, fmt.Errorf("bridge: MQTT %w", err)
	}
	return c, nil
}
