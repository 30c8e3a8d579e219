package agent

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/store"
)

// t0 is the fake clock's time; readings must carry it in milliseconds.
var t0 = time.Date(2026, 11, 26, 23, 1, 13, 123456789, time.UTC)

func fixedClock() time.Time { return t0 }

func climate(name string) *sensorstest.Sensor {
	return &sensorstest.Sensor{ID: name, Samples: []sensors.Sample{
		{Metric: "temperature", Value: 21.5, Unit: "Cel"},
		{Metric: "humidity", Value: 40.25, Unit: "%"},
	}}
}

func door(name string) *sensorstest.Sensor {
	return &sensorstest.Sensor{ID: name, Samples: []sensors.Sample{{Metric: "door", Value: 1, Unit: "1"}}}
}

// started is a running agent.
type started struct {
	*Agent
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, up Uplink, opt Options) *started {
	t.Helper()
	if opt.Now == nil {
		opt.Now = fixedClock
	}
	if opt.BackoffMax == 0 {
		opt.BackoffMin, opt.BackoffMax = 5*time.Millisecond, 50*time.Millisecond
	}
	if opt.SensorBackoffMax == 0 {
		opt.SensorBackoffMax = 5 * time.Millisecond
	}
	a, err := New(cfg, up, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the agent and waits for Run to return.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30s")
		return nil
	}
}

// await polls cond until it holds, failing the test after a deadline.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// redisFixture is a redis-server with a store on it.
type redisFixture struct {
	srv *redistest.Server
	st  *store.Store
}

func newRedis(t testing.TB) *redisFixture {
	srv := redistest.Start(t, redistest.Options{})
	rdb, err := store.NewClient(store.ClientOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return &redisFixture{srv: srv, st: store.New(rdb, store.Options{})}
}

// streamLen is the length of dev's stream (0 while Redis is down).
func (f *redisFixture) streamLen(dev string) int64 {
	n, err := f.st.Client().XLen(context.Background(), f.st.StreamKey(dev)).Result()
	if err != nil {
		return 0
	}
	return n
}

// history decodes dev's whole stream.
func (f *redisFixture) history(t *testing.T, dev string) []reading.Reading {
	t.Helper()
	raw, err := f.st.History(context.Background(), dev, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]reading.Reading, len(raw))
	for i, b := range raw {
		if out[i], err = reading.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// produced is how many readings the agent has made, over all sensors.
func (a *Agent) produced() int {
	var n float64
	for _, s := range a.cfg.Sensors {
		n += testutil.ToFloat64(a.m.readings.WithLabelValues(s.Sensor.Name()))
	}
	return int(n)
}

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
