package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/lograte"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Bridge subscribes to the device topics on an MQTT broker and stores what
// arrives in Redis. Create it with New and run it with Run; Ready says when
// it receives. Its methods are safe for concurrent use.
type Bridge struct {
	opt       Options
	st        *store.Store
	client    mqtt.Client
	mappers   []*mapper
	filters   map[string]byte // subscriptions, all QoS 1
	shareable []string        // the filters that Group shares
	broker    string          // the broker URL, redacted, for logs
	user      string          // the MQTT user name
	clientID  string          // the MQTT client id: the user name (mqttwire.ClientID)
	met       *metrics
	log       *slog.Logger
	refLog    lograte.Limiter // of readings Redis refused; worker goroutine only

	queue     chan mqtt.Message // received, not yet acknowledged
	stop      chan struct{}     // closed when Run stops: the handler gives up
	ready     chan struct{}     // closed when first subscribed
	readyOnce sync.Once
	ran       atomic.Bool

	connMu  sync.Mutex
	connErr error // why the bridge does not receive; nil while connected and subscribed

	// onState, if set (tests), is called with every new connErr.
	onState func(error)

	// beforeAck, if set (tests), is called once a group of n messages is
	// in Redis, before they are acknowledged; false abandons them
	// unacknowledged, as a crash at that moment would.
	beforeAck func(n int) bool
}

// Groups of messages stored with one ingest are at most this large.
const (
	maxGroupMessages = 256
	maxGroupBytes    = 1 << 20
)

// New checks opt and returns a Bridge. It does not connect; Run does.
func New(opt Options) (*Bridge, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	b := &Bridge{
		opt:     opt,
		st:      opt.Store,
		log:     opt.Logger,
		refLog:  lograte.Limiter{Every: time.Minute},
		broker:  store.RedactURL(opt.MQTT.URL),
		queue:   make(chan mqtt.Message, opt.QueueSize),
		stop:    make(chan struct{}),
		ready:   make(chan struct{}),
		connErr: errNotConnected,
	}
	mappers, err := compileMappings(opt.Mappings)
	if err != nil {
		var me *mappingError
		if errors.As(err, &me) {
			m := opt.Mappings[me.index]
			return nil, fmt.Errorf("bridge: mapping %d (%s): %w", me.index, cmp.Or(m.Name, m.Topic), me.err)
		}
		return nil, fmt.Errorf("bridge: %w", err)
	}
	var mappingNames []string
	for _, c := range mappers {
		mappingNames = append(mappingNames, c.Name)
	}
	b.mappers = mappers
	b.shareable = []string{mqttwire.ReadingsFilter, mqttwire.EventsFilter}
	for _, c := range b.mappers {
		b.shareable = append(b.shareable, c.Topic)
	}
	b.filters = map[string]byte{mqttwire.StatusFilter: 1}
	for _, f := range b.shareable {
		if opt.Group != "" {
			f = mqttwire.SharedFilter(opt.Group, f)
		}
		b.filters[f] = 1
	}

	bu, err := mqttwire.ParseURL(opt.MQTT.URL)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	tlsConf, err := opt.MQTT.TLSConfig(bu.Secure)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	co := mqtt.NewClientOptions().
		AddBroker(bu.Server).
		SetCleanSession(false). // the broker keeps what is not acknowledged
		SetOrderMatters(true).  // one handler call at a time, in order
		SetAutoAckDisabled(true).
		SetAutoReconnect(true).
		SetConnectRetry(false). // Run retries the first connection itself, logging why
		SetResumeSubs(false).
		SetMaxReconnectInterval(opt.MaxBackoff).
		SetKeepAlive(opt.MQTT.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(opt.MQTT.ConnectTimeout).
		SetWriteTimeout(10 * time.Second).
		SetDefaultPublishHandler(b.onMessage).
		SetOnConnectHandler(b.onConnect).
		SetReconnectingHandler(b.onReconnecting).
		SetConnectionLostHandler(b.onConnectionLost)
	urlPassword, _ := bu.User.Password()
	b.user = opt.MQTT.User()
	password := cmp.Or(opt.MQTT.Password, urlPassword)
	if b.user == "" && password != "" {
		return nil, errors.New("bridge: an MQTT password without a user name: give the user name too (--mqtt-username)")
	}
	if b.user != "" {
		co.SetUsername(b.user).SetPassword(password)
	}
	host, _ := os.Hostname()
	if b.clientID, err = mqttwire.ClientID(b.user, opt.MQTT.ClientID, mqttwire.BridgeClientID(opt.Group, host)); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	co.SetClientID(b.clientID)
	if tlsConf != nil {
		co.SetTLSConfig(tlsConf)
	}
	b.client = mqtt.NewClient(co)
	b.met = newMetrics(opt.Registerer, func() float64 { return float64(len(b.queue)) }, mappingNames)
	return b, nil
}

// Ready is closed once the bridge has connected and the broker has granted
// its subscriptions for the first time.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// ClientID is the bridge's MQTT client id: its user name, or without one
// Options.MQTT.ClientID or mqttwire.BridgeClientID.
func (b *Bridge) ClientID() string { return b.clientID }

// errNotConnected is CheckReady's answer before the first connection.
var errNotConnected = errors.New("not connected to the MQTT broker yet")

// CheckReady returns nil while the bridge is connected to the broker and
// subscribed, else why it is not (not yet connected, the connection lost,
// subscribing, stopped): the bridge's /readyz.
func (b *Bridge) CheckReady() error {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	return b.connErr
}

// setConn records why the bridge does not receive (nil: it does).
func (b *Bridge) setConn(err error) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	b.setConnLocked(err)
}

func (b *Bridge) setConnLocked(err error) {
	b.connErr = err
	if b.onState != nil {
		b.onState(err)
	}
}

// Subscriptions returns the topic filters the bridge subscribes to (QoS 1).
func (b *Bridge) Subscriptions() []string { return sortedKeys(b.filters) }

// Run connects to the broker, subscribes, and stores every message it
// receives until ctx is done; then it disconnects and returns nil. A
// message is acknowledged only once Redis holds what it carries (or its
// dead letter), so what Run had not finished is delivered again, to this
// bridge's next run or (in a group) to another. While Redis fails, Run
// retries with backoff and acknowledges nothing. Run may be called once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.ran.CompareAndSwap(false, true) {
		return errors.New("bridge: Run called twice")
	}
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		b.work(ctx)
	}()
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		b.relayCommands(ctx)
	}()
	b.log.Info("bridge starting", "broker", b.broker, "client_id", b.clientID, "group", b.opt.Group,
		"subscriptions", strings.Join(b.Subscriptions(), " "), "mappings", len(b.mappers))
	b.connect(ctx)
	<-ctx.Done()
	close(b.stop)
	<-workerDone
	<-relayDone
	b.client.Disconnect(250)
	b.met.mqttUp.Set(0)
	b.setConn(errors.New("stopped"))
	b.log.Info("bridge stopped", "unacknowledged", len(b.queue))
	return nil
}

// connect makes the first connection, retrying until it works or ctx is
// done; paho reconnects by itself after that.
func (b *Bridge) connect(ctx context.Context) {
	var lastErr string
	for attempt := 0; ; attempt++ {
		tok := b.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return
		}
		err := tok.Error()
		if err == nil {
			return
		}
		b.setConn(fmt.Errorf("MQTT connect failed: %w", err))
		if msg := err.Error(); msg != lastErr {
			b.log.Warn("mqtt connect failed; retrying", "broker", b.broker, "err", msg)
			lastErr = msg
		} else {
			b.log.Debug("mqtt connect failed; retrying", "broker", b.broker, "err", msg, "attempt", attempt)
		}
		if !backoff.Sleep(ctx, b.retryWait(attempt)) {
			return
		}
	}
}

// onConnect (re)subscribes on every connection: with a session the broker
// kept, that is harmless (retained statuses come again; recording a boot is
// idempotent); without one, it is what restores the subscriptions.
func (b *Bridge) onConnect(c mqtt.Client) {
	b.met.mqttUp.Set(1)
	b.setConn(errors.New("connected to the MQTT broker, subscribing"))
	b.log.Info("mqtt connected", "broker", b.broker, "client_id", b.clientID)
	for attempt := 0; ; attempt++ {
		err := b.subscribe(c)
		if err == nil {
			b.connMu.Lock()
			if c.IsConnectionOpen() { // else the connection is already lost again
				b.setConnLocked(nil)
			}
			b.connMu.Unlock()
			b.log.Info("mqtt subscribed", "subscriptions", strings.Join(b.Subscriptions(), " "))
			b.readyOnce.Do(func() { close(b.ready) })
			return
		}
		b.log.Error("mqtt subscribe failed", "err", err)
		b.setConn(fmt.Errorf("MQTT subscribe failed: %w", err))
		select {
		case <-b.stop:
			return
		case <-time.After(b.retryWait(attempt)):
		}
		if !c.IsConnectionOpen() {
			return // the next connection subscribes again
		}
	}
}

func (b *Bridge) subscribe(c mqtt.Client) error {
	tok := c.SubscribeMultiple(b.filters, nil) // nil: every message goes to onMessage
	if !tok.WaitTimeout(30 * time.Second) {
		return errors.New("no answer from the broker within 30s")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	var refused []string
	for f, q := range st.Result() {
		if q > 2 {
			refused = append(refused, f)
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("broker refused %s (check its ACL for user %q)", strings.Join(refused, ", "), b.user)
	}
	return nil
}

// errReconnecting is CheckReady's answer between a lost connection and the
// next one.
var errReconnecting = errors.New("MQTT connection lost; reconnecting")

// onReconnecting makes the bridge not ready until it has reconnected and
// subscribed again. paho calls it before each attempt to reconnect, on the
// goroutine that then connects, so it always comes before the onConnect of
// the next connection (onConnectionLost runs on a goroutine of its own and
// may come after).
func (b *Bridge) onReconnecting(mqtt.Client, *mqtt.ClientOptions) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	if b.connErr == nil {
		b.met.mqttUp.Set(0)
		b.setConnLocked(errReconnecting)
	}
}

// onConnectionLost counts and logs a lost connection, with the reason in
// CheckReady while the bridge is still reconnecting. A broker that closes
// the connection (err EOF) has restarted, or another connection with the
// same client id, so the same user, took the session over: the messages
// the broker sends that client are lost to the bridge.
func (b *Bridge) onConnectionLost(c mqtt.Client, err error) {
	b.met.connectionsLost.Inc()
	b.connMu.Lock()
	if !c.IsConnectionOpen() { // else paho has reconnected already: onConnect has the word
		b.met.mqttUp.Set(0)
		b.setConnLocked(fmt.Errorf("MQTT connection lost (%v); reconnecting", err))
	}
	b.connMu.Unlock()
	attrs := []any{"broker", b.broker, "client_id", b.clientID, "err", err}
	if errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "EOF") {
		attrs = append(attrs, "reason", "closed by the broker: it restarted, or another connection with client id "+
			strconv.Quote(b.clientID)+" took the session over (someone else has this bridge's credentials?)")
	}
	b.log.Warn("mqtt connection lost; reconnecting (unacknowledged messages will come again)", attrs...)
}

// onMessage is paho's handler, called for one message at a time in the
// order received. It only queues: the worker stores and acknowledges.
func (b *Bridge) onMessage(_ mqtt.Client, m mqtt.Message) {
	b.met.received.WithLabelValues(b.kindOf(m.Topic())).Inc()
	select {
	case b.queue <- m:
	case <-b.stop: // not acknowledged: the broker delivers it again
	}
}

// kindOf says which path a topic takes.
func (b *Bridge) kindOf(topic string) string {
	switch {
	case matchFilter(readingsLevels, topic):
		return kindReadings
	case matchFilter(statusLevels, topic):
		return kindStatus
	case matchFilter(eventsLevels, topic):
		return kindEvents
	}
	switch m, excluded := b.route(topic); {
	case m != nil:
		return kindMapped
	case excluded:
		return kindExcluded
	}
	return kindOther
}

var (
	readingsLevels = strings.Split(mqttwire.ReadingsFilter, "/")
	statusLevels   = strings.Split(mqttwire.StatusFilter, "/")
	eventsLevels   = strings.Split(mqttwire.EventsFilter, "/")
)

// route returns the first mapping that takes topic (its filter matches
// and its Exclude does not), or nil; excluded reports that none takes it
// and some mapping's Exclude left it out.
func (b *Bridge) route(topic string) (m *mapper, excluded bool) {
	for _, m := range b.mappers {
		ok, ex := m.takes(topic)
		if ok {
			return m, false
		}
		excluded = excluded || ex
	}
	return nil, excluded
}

func (b *Bridge) mapperFor(topic string) *mapper {
	m, _ := b.route(topic)
	return m
}

// work stores queued messages, a group at a time, until ctx is done.
func (b *Bridge) work(ctx context.Context) {
	if err := b.st.Client().Ping(ctx).Err(); err == nil {
		b.met.redisUp.Set(1)
	}
	var r redisState
	for {
		var first mqtt.Message
		select {
		case first = <-b.queue:
		case <-ctx.Done():
			return
		}
		group := []mqtt.Message{first}
		size := len(first.Payload())
	drain:
		for len(group) < maxGroupMessages && size < maxGroupBytes {
			select {
			case m := <-b.queue:
				group = append(group, m)
				size += len(m.Payload())
			default:
				break drain
			}
		}
		if !b.process(ctx, group, &r) {
			return
		}
	}
}

// retryWait is the wait before retry attempt (0-based) while Redis or the
// broker is away: full jitter from 100ms up to Options.MaxBackoff.
func (b *Bridge) retryWait(attempt int) time.Duration {
	return backoff.Policy{Min: 100 * time.Millisecond, Max: b.opt.MaxBackoff}.Delay(attempt)
}

// Dead-letter reasons (the "reason" field and label).
const (
	ReasonTooLarge       = "too_large"       // over Options.MaxPayload, or a batch over reading.MaxBatch
	ReasonMalformed      = "malformed"       // not the JSON the topic calls for
	ReasonInvalid        = "invalid"         // well-formed, but a reading (or SenML record) is invalid
	ReasonDeviceMismatch = "device_mismatch" // a reading of another device than the topic's
	ReasonBadTopic       = "bad_topic"       // no valid device id in the topic
	ReasonBadStatus      = "bad_status"      // a status message that mqttwire.DecodeStatus refuses
	ReasonUnrouted       = "unrouted"        // a topic that nothing handles
	ReasonStoreRefused   = "store_refused"   // Redis refused the device's data for good (isPoison): retrying could not store it
	ReasonUnit           = "unit"            // a mapped message whose unit (Field.UnitField, SenML u/bu) cannot be converted to the mapping's
	ReasonBadDeviceName  = "bad_device_name" // a mapping's device name (from the topic) that makes no valid device id
	ReasonTime           = "time"            // a mapped message's times outside the window, with Mapping.Times "refuse" (or spread too wide to restamp)
)

// Reasons lists every dead-letter reason.
var Reasons = []string{ReasonTooLarge, ReasonMalformed, ReasonInvalid, ReasonDeviceMismatch, ReasonBadTopic, ReasonBadStatus, ReasonUnrouted, ReasonStoreRefused,
	ReasonBadDeviceName, ReasonTime, ReasonUnit}

// isInvalid reports whether err is the store refusing a reading (as
// opposed to Redis failing).
func isInvalid(err error) bool { return errors.Is(err, reading.ErrInvalid) }

// isPoison reports whether err is Redis refusing one device's data in a
// way no retry mends: a key of the wrong type, or the ingest script
// refusing its arguments. A device with Redis access of its own can make
// its keys so; retried, the group that holds its message would stop the
// bridge for every device behind it. Errors of the server as a whole
// (OOM, BUSY, LOADING, NOPERM, a lost connection) are not poison: they
// are retried.
func isPoison(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "WRONGTYPE") || strings.HasPrefix(msg, "ERR ingest:") ||
		strings.Contains(msg, "is not an integer") || strings.Contains(msg, "would overflow")
}
