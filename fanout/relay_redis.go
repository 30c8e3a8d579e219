package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// RelayOptions configure a Relay. The zero value is usable: each field says
// its default.
type RelayOptions struct {
	// PingInterval is how long a subscription may stay quiet before the
	// relay sends it a PING; an unanswered PING after as long again counts
	// as Redis being gone. Default 1s.
	PingInterval time.Duration
	// MaxBackoff caps the wait between attempts to subscribe again after
	// Redis failed; the wait starts at 50ms and doubles. Default 2s.
	MaxBackoff time.Duration
	// Registerer receives the relay's metrics (tributary_cloud_redis_up,
	// tributary_cloud_live_*). Default nil: not registered.
	Registerer prometheus.Registerer
	// Logger logs Redis going away and coming back. Default: discard.
	Logger *slog.Logger
}

// Defaults for RelayOptions.
const (
	DefaultRelayPingInterval = time.Second
	DefaultRelayMaxBackoff   = 2 * time.Second
	relayMinBackoff          = 50 * time.Millisecond
)

// Relay feeds a Hub from Redis: it pattern-subscribes to every device's live
// channel (store.LivePattern) and publishes each reading to the hub. While
// it is not subscribed (Redis down, unreachable or not answering), the hub's
// status says so and Ready returns the reason; once it is subscribed again,
// the status goes back to live. Readings published meanwhile are not
// replayed: clients reload history when live comes back.
//
// Ready is safe for concurrent use; Run is called once.
type Relay struct {
	st  *store.Store
	hub *Hub
	opt RelayOptions

	up         prometheus.Gauge
	dropped    prometheus.Counter
	subscribed prometheus.Counter

	mu  sync.Mutex
	err error // why the relay is not live; nil when live
}

// NewRelay returns a relay from st's Redis to hub. It panics if
// opt.Registerer already holds the relay's metrics.
func NewRelay(st *store.Store, hub *Hub, opt RelayOptions) *Relay {
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultRelayPingInterval
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = DefaultRelayMaxBackoff
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		st: st, hub: hub, opt: opt,
		err: errNotYet,
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_cloud_redis_up",
			Help: "1 while the cloud is subscribed to live readings in Redis and Redis answers, else 0.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_live_messages_dropped_total",
			Help: "Messages on live channels that were not a valid reading of the channel's device.",
		}),
		subscribed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cloud_live_subscriptions_total",
			Help: "Times the cloud (re)subscribed to live readings in Redis.",
		}),
	}
	if opt.Registerer != nil {
		opt.Registerer.MustRegister(r.up, r.dropped, r.subscribed)
	}
	return r
}

// Ready returns nil while the relay is subscribed and Redis answers, and
// otherwise an error that says why not, in general terms (the log has the
// details).
func (r *Relay) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return nil
	}
	if r.err == errStopped || r.err == errNotYet {
		return r.err
	}
	return errors.New(publicReason(r.err))
}

var (
	errNotYet  = errors.New("redis: not subscribed yet")
	errStopped = errors.New("relay stopped")
)

// Run relays until ctx is done, then returns nil. Redis failures never end
// it: it reports them (hub status, Ready, metrics, log) and subscribes again
// with backoff.
func (r *Relay) Run(ctx context.Context) error {
	backoff := relayMinBackoff
	for {
		wasLive, err := r.session(ctx)
		if ctx.Err() != nil {
			r.stopped()
			return nil
		}
		r.setDown(err)
		if wasLive {
			backoff = relayMinBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			r.stopped()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, r.opt.MaxBackoff)
	}
}

// session subscribes and relays until the subscription fails; it reports
// whether it got live and why it ended.
func (r *Relay) session(ctx context.Context) (wasLive bool, err error) {
	ps := r.st.Client().PSubscribe(ctx)
	defer ps.Close()
	// Receive does not watch ctx; closing the PubSub ends it at once.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.PSubscribe(ctx, r.st.LivePattern()); err != nil {
		return false, fmt.Errorf("redis: subscribe: %w", err)
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.opt.PingInterval)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return wasLive, fmt.Errorf("redis: %w", err)
			}
			if pinged {
				return wasLive, fmt.Errorf("%w within %v", errNoPong, r.opt.PingInterval)
			}
			if err := ps.Ping(ctx); err != nil {
				return wasLive, fmt.Errorf("redis: ping: %w", err)
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "psubscribe" && m.Channel == r.st.LivePattern() {
				wasLive = true
				r.subscribed.Inc()
				r.setLive()
			}
		case *redis.Message:
			r.deliver(m)
		}
	}
}

// deliver publishes one live message to the hub, if it is a valid reading
// of the channel's device. The check costs one decode per reading, not per
// client, and keeps anything else that was PUBLISHed on the channel from
// reaching browsers.
func (r *Relay) deliver(m *redis.Message) {
	dev, ok := r.st.DeviceFromChannel(m.Channel)
	if !ok {
		r.dropped.Inc()
		r.opt.Logger.Debug("live message on an unexpected channel", "channel", m.Channel)
		return
	}
	raw := []byte(m.Payload)
	rd, err := reading.Decode(raw)
	if err != nil || rd.Device != dev {
		r.dropped.Inc()
		r.opt.Logger.Debug("live message is not a reading of its channel's device", "channel", m.Channel, "err", err)
		return
	}
	r.hub.Publish(dev, raw)
}

func (r *Relay) setLive() {
	r.mu.Lock()
	was := r.err
	r.err = nil
	r.mu.Unlock()
	r.up.Set(1)
	if was != nil {
		r.opt.Logger.Info("subscribed to live readings in redis", "pattern", r.st.LivePattern())
	}
	r.hub.SetStatus(true, "")
}

func (r *Relay) setDown(err error) {
	r.mu.Lock()
	was := r.err
	r.err = err
	r.mu.Unlock()
	r.up.Set(0)
	reason := publicReason(err)
	// The details go to the log, once per change (going down, failing at
	// start, failing another way), not at every retry.
	switch {
	case was == nil:
		r.opt.Logger.Warn("lost live readings from redis; retrying", "err", err)
	case was == errNotYet:
		r.opt.Logger.Warn("cannot subscribe to live readings in redis; retrying", "err", err)
	case publicReason(was) != reason:
		r.opt.Logger.Warn("redis still unavailable, another way; retrying", "err", err)
	default:
		r.opt.Logger.Debug("redis still unavailable", "err", err)
	}
	r.hub.SetStatus(false, reason) // the hub drops repeats
}

// errNoPong is a Redis that holds the connection but does not answer.
var errNoPong = errors.New("redis: no answer to PING")

// publicReason says why live data stopped without the details (addresses,
// library messages) that clients and /readyz, which is unauthenticated,
// need not see; the log has them.
func publicReason(err error) string {
	if errors.Is(err, errNoPong) {
		return "redis not answering"
	}
	return "redis unreachable"
}

func (r *Relay) stopped() {
	r.mu.Lock()
	r.err = errStopped
	r.mu.Unlock()
	r.up.Set(0)
	r.hub.SetStatus(false, "server shutting down")
}
