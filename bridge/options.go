package bridge

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Options configure a Bridge. Store is required, and MQTT.URL; every other
// field says its default.
type Options struct {
	// Store is where readings go. The bridge borrows it (and its Redis
	// client); the caller closes the client after Run returns.
	Store *store.Store
	// MQTT says how to reach the broker. The URL's user info is used
	// where MQTT.Username and MQTT.Password are empty. The client id is
	// the user name (mqttwire.ClientID): give each bridge replica a broker
	// user of its own, so that the broker keeps what each has not
	// acknowledged and none takes over another's session. MQTT.ClientID
	// must be empty or the user name; without a user name (an anonymous
	// broker) it defaults to mqttwire.BridgeClientID(Group, host name).
	MQTT mqttwire.Broker
	// Group, when set, subscribes to the readings (and every mapping's
	// topic) as the shared subscription $share/<Group>/..., so that the
	// bridges of one group split the messages between them, each message
	// going to one. Status topics are never shared: every bridge records
	// every boot (idempotently), since a shared subscription gets no
	// retained messages. Default "": a plain subscription.
	Group string
	// Mappings turn foreign formats (SenML, flat JSON) on other topics into
	// readings; see Mapping. New refuses a list in which two mappings
	// could make the same device id (see Mapping.DevicePrefix). Default
	// none.
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
	// broker is unreachable: full jitter from 100ms, doubling
	// (internal/backoff). Default 10s.
	MaxBackoff time.Duration
	// Registerer receives the bridge's metrics (tributary_bridge_*).
	// Default: none, the metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Logger receives the bridge's log. Default: discard.
	Logger *slog.Logger
	// CommandGroup is the Redis consumer group of the command outbox
	// (store.ReadOutbox): every bridge relaying one Redis's commands should
	// share it, so that each command is published once. Default
	// DefaultCommandGroup.
	CommandGroup string
	// CommandClaimIdle is how long a command may stay unacknowledged in
	// another bridge's hands before this one takes it over (its bridge
	// died). Default 30s.
	CommandClaimIdle time.Duration
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
	DefaultCommandGroup      = "tributary-bridges"
	DefaultCommandClaimIdle  = 30 * time.Second
)

func (o Options) withDefaults() Options {
	o.MaxPayload = cmp.Or(o.MaxPayload, reading.MaxBatchEncoded)
	o.QueueSize = cmp.Or(o.QueueSize, DefaultQueueSize)
	o.DeadLetterKey = cmp.Or(o.DeadLetterKey, DefaultDeadLetterKey)
	o.DeadLetterMaxLen = cmp.Or(o.DeadLetterMaxLen, DefaultDeadLetterMaxLen)
	o.DeadLetterPayload = cmp.Or(o.DeadLetterPayload, DefaultDeadLetterPayload)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, DefaultMaxBackoff)
	o.CommandGroup = cmp.Or(o.CommandGroup, DefaultCommandGroup)
	o.CommandClaimIdle = cmp.Or(o.CommandClaimIdle, DefaultCommandClaimIdle)
	o.MQTT.KeepAlive = cmp.Or(o.MQTT.KeepAlive, mqttwire.DefaultKeepAlive)
	o.MQTT.ConnectTimeout = cmp.Or(o.MQTT.ConnectTimeout, mqttwire.DefaultConnectTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o *Options) validate() error {
	switch {
	case o.Store == nil:
		return errors.New("bridge: Options.Store is required")
	case o.MaxPayload < 0 || o.QueueSize < 0 || o.DeadLetterMaxLen < 0 || o.DeadLetterPayload < 0 || o.MaxBackoff < 0 ||
		o.MQTT.KeepAlive < 0 || o.MQTT.ConnectTimeout < 0:
		return errors.New("bridge: negative size or duration in Options")
	case o.CommandClaimIdle < 0:
		return errors.New("bridge: negative CommandClaimIdle")
	case o.CommandGroup != "" && !reading.ValidID(o.CommandGroup):
		return fmt.Errorf("bridge: command group %q: use letters, digits, '.', '_' and '-'", o.CommandGroup)
	case o.Group != "" && !reading.ValidID(o.Group):
		return fmt.Errorf("bridge: group %q: use letters, digits, '.', '_' and '-'", o.Group)
	}
	return nil
}
