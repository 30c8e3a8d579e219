// Package redissource feeds a fanout hub from Redis: it pattern-subscribes
// to every device's live channel (store.LivePattern) and events channel
// (store.EventsPattern), delivers each valid reading and command frame, and turns Redis outages into the hub's status and readiness.
package redissource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Options configure a Source. The zero value is usable: each field says its
// default.
type Options struct {
	// PingInterval is how long a subscription may stay quiet before the
	// source sends it a PING; an unanswered PING after as long again counts
	// as Redis being gone. Default 1s.
	PingInterval time.Duration
	// MaxBackoff caps the wait between attempts to subscribe again after
	// Redis failed: full jitter from 50ms, doubling (internal/backoff).
	// Default 2s.
	MaxBackoff time.Duration
	// Logger logs Redis going away and coming back. Default: discard.
	Logger *slog.Logger
	// RelayLatency, if not nil, observes the age in seconds of each valid
	// reading received from its live channel (the cloud's
	// tributary_cloud_reading_latency_seconds{stage="relay"}; see
	// internal/latency). Default nil: not observed.
	RelayLatency prometheus.Observer
}

// Defaults for Options.
const (
	DefaultPingInterval = time.Second
	DefaultMaxBackoff   = 2 * time.Second
	minBackoff          = 50 * time.Millisecond
)

// Source is a fanout.Source on Redis Pub/Sub: it pattern-subscribes to every
// device's live channel and delivers each reading. While it is not
// subscribed (Redis down, unreachable or not answering), the status it
// delivers says so and Ready returns the reason; once it is subscribed
// again, the status goes back to live. Readings published meanwhile are not
// replayed: clients reload history when live comes back.
//
// Ready, Stats and Collector are safe for concurrent use; Run is called once.
type Source struct {
	st  *store.Store
	opt Options

	up                  atomic.Bool
	dropped, subscribed atomic.Uint64

	mu  sync.Mutex
	err error // why the source is not live; nil when live
}

var _ fanout.Source = (*Source)(nil)

// New returns a source of the live readings in st's Redis.
func New(st *store.Store, opt Options) *Source {
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPingInterval
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = DefaultMaxBackoff
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{st: st, opt: opt, err: errNotYet}
}

// Ready returns nil while the source is subscribed and Redis answers, and
// otherwise an error that says why not, in general terms (the log has the
// details).
func (s *Source) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil
	}
	if s.err == errStopped || s.err == errNotYet {
		return s.err
	}
	return errors.New(publicReason(s.err))
}

var (
	errNotYet  = errors.New("redis: not subscribed yet")
	errStopped = errors.New("redis source stopped")
)

// Run delivers to sink until ctx is done, then returns nil. Redis failures
// never end it: it reports them (status, Ready, metrics, log) and
// subscribes again with backoff.
func (s *Source) Run(ctx context.Context, sink fanout.Sink) error {
	retry := backoff.Policy{Min: minBackoff, Max: s.opt.MaxBackoff}
	for attempt := 0; ; attempt++ {
		wasLive, err := s.session(ctx, sink)
		if ctx.Err() != nil {
			s.stopped()
			return nil
		}
		s.setDown(sink, err)
		if wasLive {
			attempt = 0
		}
		if !backoff.Sleep(ctx, retry.Delay(attempt)) {
			s.stopped()
			return nil
		}
	}
}

// session subscribes and relays until the subscription fails; it reports
// whether it got live and why it ended.
func (s *Source) session(ctx context.Context, sink fanout.Sink) (wasLive bool, err error) {
	ps := s.st.Client().PSubscribe(ctx)
	defer ps.Close()
	// Receive does not watch ctx; closing the PubSub ends it at once.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.PSubscribe(ctx, s.st.LivePattern(), s.st.EventsPattern()); err != nil {
		return false, fmt.Errorf("redis: subscribe: %w", err)
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, s.opt.PingInterval)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return wasLive, fmt.Errorf("redis: %w", err)
			}
			if pinged {
				return wasLive, fmt.Errorf("%w within %v", errNoPong, s.opt.PingInterval)
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
			if m.Kind == "psubscribe" && m.Channel == s.st.LivePattern() {
				wasLive = true
				s.subscribed.Add(1)
				s.setLive(sink)
			}
		case *redis.Message:
			if m.Pattern == s.st.EventsPattern() {
				s.deliverEvent(sink, m)
			} else {
				s.deliver(sink, m)
			}
		}
	}
}

// deliver publishes one live message to sink, if it is a valid reading of
// the channel's device. The check costs one decode per reading, not per
// client, and keeps anything else that was PUBLISHed on the channel from
// reaching browsers.
func (s *Source) deliver(sink fanout.Sink, m *redis.Message) {
	dev, ok := s.st.DeviceFromChannel(m.Channel)
	if !ok {
		s.dropped.Add(1)
		s.opt.Logger.Debug("live message on an unexpected channel", "channel", m.Channel)
		return
	}
	raw := []byte(m.Payload)
	rd, err := reading.Decode(raw)
	if err != nil || rd.Device != dev {
		s.dropped.Add(1)
		s.opt.Logger.Debug("live message is not a reading of its channel's device", "channel", m.Channel, "err", err)
		return
	}
	// Relay the reading as encoded here, not as published: browsers must
	// get what was checked, and a JSON decoder that matches keys without
	// regard to case ("Device") would otherwise let a device publish a
	// reading that reads as another device's in a browser.
	if s.opt.RelayLatency != nil {
		s.opt.RelayLatency.Observe(latency.Seconds(rd.Time, time.Now()))
	}
	sink.Publish(dev, rd.Time, rd.AppendJSON(make([]byte, 0, len(raw))))
}

// deliverEvent publishes one command frame to sink, if it is a valid
// command or status of the channel's device (see eventFrame).
func (s *Source) deliverEvent(sink fanout.Sink, m *redis.Message) {
	if dev, ok := s.st.DeviceFromRecordedChannel(m.Channel); ok {
		// Commands as the cloud recorded them: only the cloud publishes here.
		ev, valid := eventOfFrame(dev, []byte(m.Payload))
		if !valid || ev.Command == nil {
			s.dropped.Add(1)
			s.opt.Logger.Debug("message on a recorded commands channel is not a command of its device", "channel", m.Channel)
			return
		}
		sink.PublishEvent(dev, ev.AppendFrame(make([]byte, 0, len(m.Payload))))
		return
	}
	dev, ok := s.st.DeviceFromEventsChannel(m.Channel)
	ev, valid := eventOfFrame(dev, []byte(m.Payload))
	if !ok || !valid {
		s.dropped.Add(1)
		s.opt.Logger.Debug("events message is not a command frame of its channel's device", "channel", m.Channel)
		return
	}
	// Re-encoded, as for readings: browsers get exactly what was checked.
	// A command on the device's own channel is one it says was given on
	// site: marked local, whatever sender it names.
	sink.PublishEvent(dev, ev.AppendLocalFrame(make([]byte, 0, len(m.Payload)+16)))
}

// eventOfFrame returns the event of frame if it is a reading.FrameCommand
// frame holding exactly one valid command or status of device.
func eventOfFrame(device string, frame []byte) (command.Event, bool) {
	f, err := reading.DecodeFrame(frame)
	if err != nil || f.Type != reading.FrameCommand || len(f.Readings) != 0 || f.Status != nil || (len(f.Command) == 0) == (len(f.CommandStatus) == 0) {
		return command.Event{}, false
	}
	if len(f.Command) > 0 {
		c, err := command.Decode(f.Command)
		return command.Event{Command: &c}, err == nil && c.Device == device
	}
	st, err := command.DecodeStatus(f.CommandStatus)
	return command.Event{Status: &st}, err == nil && st.Device == device
}

func (s *Source) setLive(sink fanout.Sink) {
	s.mu.Lock()
	was := s.err
	s.err = nil
	s.mu.Unlock()
	s.up.Store(true)
	if was != nil {
		s.opt.Logger.Info("subscribed to live readings in redis", "pattern", s.st.LivePattern())
	}
	sink.SetStatus(true, "")
}

func (s *Source) setDown(sink fanout.Sink, err error) {
	s.mu.Lock()
	was := s.err
	s.err = err
	s.mu.Unlock()
	s.up.Store(false)
	reason := publicReason(err)
	// The details go to the log, once per change (going down, failing at
	// start, failing another way), not at every retry.
	switch {
	case was == nil:
		s.opt.Logger.Warn("lost live readings from redis; retrying", "err", err)
	case was == errNotYet:
		s.opt.Logger.Warn("cannot subscribe to live readings in redis; retrying", "err", err)
	case publicReason(was) != reason:
		s.opt.Logger.Warn("redis still unavailable, another way; retrying", "err", err)
	default:
		s.opt.Logger.Debug("redis still unavailable", "err", err)
	}
	sink.SetStatus(false, reason) // the hub drops repeats
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

// stopped marks the source stopped; Hub.Run gives the hub its status.
func (s *Source) stopped() {
	s.mu.Lock()
	s.err = errStopped
	s.mu.Unlock()
	s.up.Store(false)
}

// Stats is a snapshot of a source's state and counters since New.
type Stats struct {
	// Up is whether the source is subscribed and Redis answers.
	Up bool
	// Dropped counts the messages on live channels that were not a valid
	// reading of the channel's device, and on events channels that were
	// not a valid command frame of the channel's device.
	Dropped uint64
	// Subscriptions counts the times the source (re)subscribed.
	Subscriptions uint64
}

// Stats returns the source's state and counters.
func (s *Source) Stats() Stats {
	return Stats{Up: s.up.Load(), Dropped: s.dropped.Load(), Subscriptions: s.subscribed.Load()}
}

// Collector returns a collector of the source's metrics, named under
// namespace (the cloud uses "tributary_cloud"):
//
//	<namespace>_redis_up                        gauge: 1 while subscribed and Redis answers, else 0
//	<namespace>_live_messages_dropped_total     counter: live messages that were not a valid reading
//	<namespace>_live_subscriptions_total        counter: (re)subscriptions
//
// Each call returns a new collector over the same source; register one per
// registry.
func (s *Source) Collector(namespace string) prometheus.Collector {
	return &collector{s: s,
		up:         prometheus.NewDesc(prometheus.BuildFQName(namespace, "redis", "up"), "1 while the cloud is subscribed to live readings in Redis and Redis answers, else 0.", nil, nil),
		dropped:    prometheus.NewDesc(prometheus.BuildFQName(namespace, "live", "messages_dropped_total"), "Messages on live channels that were not a valid reading of the channel's device.", nil, nil),
		subscribed: prometheus.NewDesc(prometheus.BuildFQName(namespace, "live", "subscriptions_total"), "Times the cloud (re)subscribed to live readings in Redis.", nil, nil),
	}
}

type collector struct {
	s                       *Source
	up, dropped, subscribed *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.dropped
	ch <- c.subscribed
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.subscribed, prometheus.CounterValue, float64(st.Subscriptions))
}
