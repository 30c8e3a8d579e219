package agent

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// Config is what an agent samples and as which device.
type Config struct {
	// Device is the device id, valid per reading.ValidID. Required.
	Device string
	// Sensors to sample; at least one, with distinct names that are valid
	// sensor ids (reading.ValidID). The agent borrows them: it never closes
	// them.
	Sensors []SensorConfig
	// Interval is the sampling interval of sensors that do not set their
	// own. Default 1s.
	Interval time.Duration
	// StateDir holds the agent's persistent state (the seq lease, the boot
	// count). Required; created (mode 0700) if missing.
	StateDir string
	// Boot is this run's boot id (NewBoot). Default: New calls NewBoot.
	// Set it when the uplink needs it before the agent starts (an
	// MQTTUplink's last will).
	Boot string
}

// SensorConfig is one sensor and how often to read it.
type SensorConfig struct {
	Sensor sensors.Sensor
	// Interval between reads; default Config.Interval.
	Interval time.Duration
	// Timeout bounds one Read, even one that ignores its context: the agent
	// then stops waiting, counts a failure of kind "timeout" and reads the
	// sensor again only once that Read has returned. Default the longer of
	// DefaultSensorTimeout (5s) and Interval.
	Timeout time.Duration
	// Simulated says that Sensor is a simulation standing in for hardware
	// that could not be opened; the agent shows it in Health and in the
	// tributary_edge_sensor_simulated metric.
	Simulated bool
}

// Options tune the agent's machinery. The zero value is usable; each field
// says its default.
type Options struct {
	// Logger receives the agent's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the agent's metrics. Default nil: not registered.
	// To run several agents on one registry, wrap it per agent with a
	// device label (prometheus.WrapRegistererWith).
	Registerer prometheus.Registerer
	// Now is the agent's clock, used to stamp readings. Default time.Now.
	Now func() time.Time
	// Queue holds readings between sampling and sending. Default
	// NewMemQueue(QueueSize).
	Queue Queue
	// QueueSize is the capacity of the default queue, in readings. Default
	// DefaultQueueSize (100000). Ignored when Queue is set.
	QueueSize int
	// BatchSize is the most readings sent in one Uplink.Send. Default 500;
	// at most reading.MaxBatch (1000).
	BatchSize int
	// BackoffMin and BackoffMax bound the wait between retries of a failed
	// send: the n-th retry waits a uniformly random time in
	// [0, min(BackoffMax, BackoffMin*2^n)] ("full jitter"). Defaults 100ms
	// and 30s.
	BackoffMin, BackoffMax time.Duration
	// SendTimeout bounds one Uplink.Send. Default 10s.
	SendTimeout time.Duration
	// FlushTimeout bounds how long Run keeps sending queued readings after
	// its context ends. Default 5s.
	FlushTimeout time.Duration
	// DrainRate caps how many readings a second the agent sends while it
	// works through a backlog (more than one batch queued, as after an
	// outage), so that a fleet coming back together does not flood Redis
	// or the broker. Readings keep their order: live readings wait behind
	// the backlog. Negative: no cap. Default DefaultDrainRate.
	DrainRate float64
	// SeqFromClock makes an agent with no seq lease in its state dir, whose
	// uplink cannot say where the device left off (MQTT, or Redis down at
	// start), start its seqs at the trusted clock's milliseconds x 1000
	// instead of 1, so that readings of a device whose state was lost are
	// not dropped as repeats. A new device's seqs then start high. Default
	// false.
	SeqFromClock bool
	// LeaseSize is how many seqs one persisted lease covers: at most this
	// many are skipped after a crash. Default DefaultLeaseSize (1000).
	LeaseSize uint64
	// DownAfter is how many failed reads in a row make a sensor "down":
	// from then on it is retried with exponential backoff instead of on
	// every interval. Default 3.
	DownAfter int
	// SensorBackoffMax caps the wait between retries of a down sensor.
	// Default 1 minute.
	SensorBackoffMax time.Duration
	// ClockReady reports whether the wall clock (Now) can be trusted yet.
	// While it reports false, readings are held in memory and stamped once
	// it reports true (see the clock notes in clock.go). Default: always
	// true. A clock before the year 2000 is never trusted.
	ClockReady func() bool
	// HoldLimit is the most readings held while the clock is not ready;
	// beyond it the oldest are dropped (DropClock). Default 100000.
	HoldLimit int
	// OnReading, if set, is called with every reading the agent stamps
	// (numbered and timed), in seq order, before it is queued: the edge's
	// own dashboard taps the readings there. It is called with the agent's
	// lock held, from the sampling goroutines: it must be quick (an append
	// to memory, a non-blocking send) and must not call the agent. Default
	// nil.
	OnReading func(reading.Reading)
	// LogEvery is the least time between two logged errors of one sensor or
	// of the uplink; errors in between are counted and reported with the
	// next. Default 1 minute.
	LogEvery time.Duration
}

// Defaults of Config and Options.
const (
	DefaultInterval         = time.Second
	DefaultSensorTimeout    = 5 * time.Second
	DefaultBatchSize        = 500
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 30 * time.Second
	DefaultSendTimeout      = 10 * time.Second
	DefaultFlushTimeout     = 5 * time.Second
	DefaultLogEvery         = time.Minute
	DefaultDownAfter        = 3
	DefaultSensorBackoffMax = time.Minute
	DefaultDrainRate        = 2000.0
	DefaultHoldLimit        = 100000
)

func (c Config) withDefaults() (Config, error) {
	if !reading.ValidID(c.Device) {
		return c, fmt.Errorf("agent: device id %q: must be 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", c.Device, reading.MaxIDLen)
	}
	if c.StateDir == "" {
		return c, errors.New("agent: no state dir")
	}
	if len(c.Sensors) == 0 {
		return c, errors.New("agent: no sensors")
	}
	if c.Interval < 0 {
		return c, fmt.Errorf("agent: negative interval %v", c.Interval)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	seen := map[string]bool{}
	ss := make([]SensorConfig, len(c.Sensors))
	for i, s := range c.Sensors {
		if s.Sensor == nil {
			return c, fmt.Errorf("agent: sensor %d is nil", i)
		}
		name := s.Sensor.Name()
		if !reading.ValidID(name) {
			return c, fmt.Errorf("agent: sensor %d: name %q is not a valid sensor id", i, name)
		}
		if seen[name] {
			return c, fmt.Errorf("agent: sensor %d: name %q used twice", i, name)
		}
		seen[name] = true
		if s.Interval < 0 {
			return c, fmt.Errorf("agent: sensor %s: negative interval %v", name, s.Interval)
		}
		if s.Interval == 0 {
			s.Interval = c.Interval
		}
		if s.Timeout < 0 {
			return c, fmt.Errorf("agent: sensor %s: negative timeout %v", name, s.Timeout)
		}
		if s.Timeout == 0 {
			s.Timeout = max(DefaultSensorTimeout, s.Interval)
		}
		ss[i] = s
	}
	c.Sensors = ss
	return c, nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Queue == nil {
		o.Queue = NewMemQueue(o.QueueSize)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	o.BatchSize = min(o.BatchSize, reading.MaxBatch) // one MQTT message at most
	if o.BackoffMin <= 0 {
		o.BackoffMin = DefaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	o.BackoffMax = max(o.BackoffMax, o.BackoffMin)
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.DrainRate == 0 {
		o.DrainRate = DefaultDrainRate
	}
	if o.LeaseSize == 0 {
		o.LeaseSize = DefaultLeaseSize
	}
	if o.DownAfter <= 0 {
		o.DownAfter = DefaultDownAfter
	}
	if o.SensorBackoffMax <= 0 {
		o.SensorBackoffMax = DefaultSensorBackoffMax
	}
	if o.ClockReady == nil {
		o.ClockReady = func() bool { return true }
	}
	if o.HoldLimit <= 0 {
		o.HoldLimit = DefaultHoldLimit
	}
	if o.LogEvery <= 0 {
		o.LogEvery = DefaultLogEvery
	}
	return o
}
