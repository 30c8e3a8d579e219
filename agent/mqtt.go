package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

// MQTTUplinkOptions configure an MQTTUplink. Broker.URL, Device and Boot
// are required.
type MQTTUplinkOptions struct {
	// Broker says how to reach the broker. Credentials in its URL are
	// refused: use Broker.Username (default Device, which is what the
	// shipped broker ACL, deploy/mosquitto/acl, expects) and
	// Broker.Password, which is never logged. The client id is the user
	// name (mqttwire.ClientID): Broker.ClientID must be empty or equal it.
	Broker mqttwire.Broker
	// Device is the agent's device id; it names the topics
	// (mqttwire.ReadingsTopic, mqttwire.StatusTopic).
	Device string
	// Boot identifies this run of the agent (see NewBoot); it goes into the
	// retained online status and the last will. Required.
	Boot string
	// ReconnectMin and ReconnectMax bound the wait before a connection
	// attempt after a failed one or a lost connection: the n-th attempt in
	// a row waits a uniformly random time in [0, min(ReconnectMax,
	// ReconnectMin*2^n)] ("full jitter"), so that a fleet that lost its
	// broker at once neither comes back in lockstep nor waits long after
	// the broker is back. Defaults 250ms and 15s.
	ReconnectMin, ReconnectMax time.Duration
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger

	// Commands, if not nil, takes each command of the device from
	// mqttwire.CommandsTopic (subscribed QoS 1 on every connection, in the
	// persistent session), in order, on the client's goroutine: it must not
	// block long (actuate.Controller.Submit). The broker has the message
	// acknowledged once Commands returns. Messages that are not a valid
	// command of the device are counted (CommandStats) and dropped.
	Commands func(command.Command)
	// CommandsUp, if not nil, is told whether commands can arrive: true
	// once subscribed on a connection, false when the connection is lost.
	CommandsUp func(up bool)
	// CommandStats, if not nil, counts the commands received.
	CommandStats *CommandStats
	// Actuators, if not nil, are announced in the retained online status.
	Actuators []command.Actuator
}

// MQTTUplink publishes readings to an MQTT broker, for the bridge to store
// in Redis: each Send is one QoS 1 message on mqttwire.ReadingsTopic holding a
// batch, and succeeds when the broker acknowledges it (PUBACK). The session
// is persistent (clean session false) and the agent's status is retained on
// mqttwire.StatusTopic, with a last will that marks it offline.
//
// It buffers nothing of its own: while the broker is unreachable, Send
// fails at once and the agent's queue (the spool) keeps the readings, since
// the client library's buffering drops QoS 0 messages and buffers nothing
// while it retries a connection. A batch whose acknowledgement was lost may
// reach the bridge twice; the bridge's ingest stores it once.
type MQTTUplink struct {
	opt    MQTTUplinkOptions
	client mqtt.Client
	log    *slog.Logger

	lost      chan struct{} // a token when the connection drops
	closed    chan struct{} // closed by Close
	reconnect sync.WaitGroup

	statusMu sync.Mutex // serialises status publications

	mu     sync.Mutex
	status *mqttwire.Status // online status to publish on every connect, once Boot has been called
}

// NewMQTTUplink checks opt and starts connecting in the background; it
// does not wait for the broker. Close it after the agent has stopped.
func NewMQTTUplink(opt MQTTUplinkOptions) (*MQTTUplink, error) {
	if !reading.ValidID(opt.Device) {
		return nil, fmt.Errorf("mqtt uplink: invalid device id %q", opt.Device)
	}
	if !reading.ValidID(opt.Boot) {
		return nil, fmt.Errorf("mqtt uplink: invalid boot id %q", opt.Boot)
	}
	broker, err := mqttwire.ParseURL(opt.Broker.URL)
	if err != nil {
		return nil, fmt.Errorf("mqtt uplink: %w", err)
	}
	if broker.User != nil {
		return nil, errors.New("mqtt uplink: broker URL carries credentials; pass the username and a password file instead")
	}
	tlsConf, err := opt.Broker.TLSConfig(broker.Secure)
	if err != nil {
		return nil, fmt.Errorf("mqtt uplink: %w", err)
	}
	b := &opt.Broker
	b.Username = cmp.Or(b.Username, opt.Device)
	if b.ClientID, err = mqttwire.ClientID(b.Username, b.ClientID, ""); err != nil {
		return nil, fmt.Errorf("mqtt uplink: %w", err)
	}
	if b.KeepAlive <= 0 {
		b.KeepAlive = mqttwire.DefaultKeepAlive
	}
	if b.ConnectTimeout <= 0 {
		b.ConnectTimeout = mqttwire.DefaultConnectTimeout
	}
	if opt.ReconnectMin <= 0 {
		opt.ReconnectMin = 250 * time.Millisecond
	}
	if opt.ReconnectMax <= 0 {
		opt.ReconnectMax = 15 * time.Second
	}
	opt.ReconnectMax = max(opt.ReconnectMax, opt.ReconnectMin)
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	will, err := mqttwire.EncodeStatus(mqttwire.Status{Online: false, Boot: opt.Boot})
	if err != nil {
		return nil, err
	}
	u := &MQTTUplink{opt: opt, log: opt.Logger, lost: make(chan struct{}, 1), closed: make(chan struct{})}
	co := mqtt.NewClientOptions().
		SetStore(copyingStore{mqtt.NewMemoryStore()}).
		AddBroker(broker.Server).
		SetClientID(b.ClientID).
		SetUsername(b.Username).
		SetPassword(b.Password).
		SetCleanSession(false).
		SetOrderMatters(true).
		SetKeepAlive(b.KeepAlive).
		SetConnectTimeout(b.ConnectTimeout).
		// The library's own reconnection doubles its wait without jitter;
		// connectLoop does it instead.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetBinaryWill(mqttwire.StatusTopic(opt.Device), will, 1, true).
		SetOnConnectHandler(u.onConnect).
		// Messages of the persistent session's subscription may arrive
		// before the subscription is made again on this connection.
		SetDefaultPublishHandler(u.onMessage).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			u.log.Warn("mqtt connection lost; reconnecting", "device", opt.Device, "err", err)
			if u.opt.CommandsUp != nil {
				u.opt.CommandsUp(false)
			}
			select {
			case u.lost <- struct{}{}:
			default:
			}
		})
	if tlsConf != nil {
		co.SetTLSConfig(tlsConf)
	}
	u.client = mqtt.NewClient(co)
	u.reconnect.Add(1)
	go u.connectLoop()
	return u, nil
}

// connectLoop connects, and connects again whenever the connection drops,
// with jittered exponential backoff between attempts, until Close.
func (u *MQTTUplink) connectLoop() {
	defer u.reconnect.Done()
	failures := 0
	for {
		tok := u.client.Connect()
		select {
		case <-tok.Done():
		case <-u.closed:
			return
		}
		if err := tok.Error(); err != nil {
			if failures == 0 {
				u.log.Warn("mqtt: cannot connect to the broker; retrying", "device", u.opt.Device, "user", u.opt.Broker.Username, "err", err)
			}
			failures++
			if !u.pause(failures) {
				return
			}
			continue
		}
		failures = 0
		select {
		case <-u.lost:
		case <-u.closed:
			return
		}
		if !u.pause(1) {
			return
		}
	}
}

// pause waits before connection attempt n (1-based) of a series, or until
// Close; it reports whether to go on.
func (u *MQTTUplink) pause(n int) bool {
	t := time.NewTimer(backoff.Policy{Min: u.opt.ReconnectMin, Max: u.opt.ReconnectMax}.Delay(n - 1))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-u.closed:
		return false
	}
}

// onConnect publishes the retained online status (when Boot has been
// called). It runs on the client's goroutine and must not block on the
// broker: the publication is waited for elsewhere.
func (u *MQTTUplink) onConnect(c mqtt.Client) {
	u.log.Info("mqtt connected", "device", u.opt.Device)
	if u.opt.Commands != nil {
		tok := c.Subscribe(mqttwire.CommandsTopic(u.opt.Device), 1, u.onMessage)
		go func() {
			select {
			case <-tok.Done():
			case <-u.closed:
				return
			}
			if err := tok.Error(); err != nil {
				u.log.Error("mqtt: cannot subscribe to commands", "device", u.opt.Device, "err", err)
				return
			}
			if u.opt.CommandsUp != nil {
				u.opt.CommandsUp(true)
			}
		}()
	}
	u.mu.Lock()
	st := u.status
	u.mu.Unlock()
	if st != nil {
		go func() {
			select {
			case <-u.closed: // Close publishes the offline status
				return
			default:
			}
			u.publishStatus(context.Background(), *st)
		}()
	}
}

// publishStatus publishes st, retained, and waits for the broker. Status
// publications are serialised, so that the last one sent is the one kept.
func (u *MQTTUplink) publishStatus(ctx context.Context, st mqttwire.Status) error {
	b, err := mqttwire.EncodeStatus(st)
	if err != nil {
		return fmt.Errorf("mqtt uplink: %w: %w", reading.ErrInvalid, err)
	}
	u.statusMu.Lock()
	defer u.statusMu.Unlock()
	if st.Online {
		select {
		case <-u.closed:
			return errors.New("mqtt uplink: closed")
		default:
		}
	}
	return u.wait(ctx, u.client.Publish(mqttwire.StatusTopic(u.opt.Device), 1, true, b))
}

// Boot implements Booter: it announces the boot in the retained status, now
// if connected and again on every reconnection.
//
// A boot of an earlier run that was never recorded (see Booter) goes out
// once, not retained, and only when connected: the retained status is this
// run's.
func (u *MQTTUplink) Boot(ctx context.Context, b Boot) error {
	// Every online status names the actuators: the bridge records the
	// latest status's list, an earlier boot's included.
	st := mqttwire.Status{Online: true, Boot: b.ID, FirstSeq: b.FirstSeq, Time: b.Time, Actuators: u.opt.Actuators}
	if b.ID != u.opt.Boot {
		if !u.client.IsConnectionOpen() {
			return errors.New("mqtt uplink: not connected to the broker")
		}
		enc, err := mqttwire.EncodeStatus(st)
		if err != nil {
			return fmt.Errorf("mqtt uplink: %w: %w", reading.ErrInvalid, err)
		}
		return u.wait(ctx, u.client.Publish(mqttwire.StatusTopic(u.opt.Device), 1, false, enc))
	}
	u.mu.Lock()
	u.status = &st // every later connection publishes it again
	u.mu.Unlock()
	if !u.client.IsConnectionOpen() {
		// Not recorded yet: the agent keeps the boot pending and retries.
		return errors.New("mqtt uplink: not connected to the broker")
	}
	return u.publishStatus(ctx, st)
}

// Send implements Uplink: one QoS 1 message, acknowledged by the broker.
func (u *MQTTUplink) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	if len(rs) > reading.MaxBatch {
		return 0, fmt.Errorf("mqtt uplink: %d readings in one batch, limit %d", len(rs), reading.MaxBatch)
	}
	if !u.client.IsConnectionOpen() {
		return 0, errors.New("mqtt uplink: not connected to the broker")
	}
	payload := reading.AppendBatch(make([]byte, 0, len(rs)*160), rs)
	return 0, u.wait(ctx, u.client.Publish(mqttwire.ReadingsTopic(u.opt.Device), 1, false, payload))
}

// wait waits for t or ctx.
func (u *MQTTUplink) wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("mqtt uplink: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt uplink: waiting for the broker's acknowledgement: %w", ctx.Err())
	}
}

// Connected reports whether the client is connected now.
func (u *MQTTUplink) Connected() bool { return u.client.IsConnectionOpen() }

// Close publishes the offline status (if connected, within a second) and
// disconnects. Call it once.
func (u *MQTTUplink) Close() error {
	close(u.closed)
	u.reconnect.Wait()
	if u.client.IsConnectionOpen() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := u.publishStatus(ctx, mqttwire.Status{Online: false, Boot: u.opt.Boot})
		cancel()
		if err != nil {
			u.log.Warn("mqtt: could not publish the offline status", "device", u.opt.Device, "err", err)
		}
	}
	u.client.Disconnect(250)
	return nil
}

// copyingStore is paho's memory store, except that it keeps and hands out
// copies of publishes, never a packet paho may be writing. On reconnecting,
// paho marks every stored publish as a repeat (resume sets its DUP flag)
// while the same packet, queued before the connection dropped, may be being
// written (which also sets its fields) on the new connection: a data race
// in the library (eclipse-paho/paho.mqtt.golang#703). The broker and the
// ingest take the repeat once.
type copyingStore struct{ *mqtt.MemoryStore }

// Put implements mqtt.Store.
func (s copyingStore) Put(key string, p packets.ControlPacket) {
	s.MemoryStore.Put(key, copyPublish(p))
}

// Get implements mqtt.Store.
func (s copyingStore) Get(key string) packets.ControlPacket {
	return copyPublish(s.MemoryStore.Get(key))
}

// copyPublish is a copy of p if it is a publish (its payload shared: paho
// never writes to it), else p.
func copyPublish(p packets.ControlPacket) packets.ControlPacket {
	if pub, ok := p.(*packets.PublishPacket); ok {
		cp := *pub
		return &cp
	}
	return p
}
