package redissource

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// fixture is a real redis-server, a store on it, and a hub fed by a
// source on it, served over WebSocket.
type fixture struct {
	redis *redistest.Server
	st    *store.Store
	hub   *fanout.Hub
	src   *Source
	ts    *fanouttest.Server
	log   *fanouttest.LogRecorder // the source's log
}

// newFixture starts everything but the source, so that a test can connect
// clients that see the status go live.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{redis: redistest.Start(t, redistest.Options{}), log: fanouttest.NewLogRecorder()}
	f.st = store.New(f.redis.Client(t), store.Options{})
	f.hub = fanout.NewHub(fanout.Options{})
	f.src = New(f.st, Options{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: slog.New(f.log)})
	f.ts = fanouttest.NewServer(t, f.hub)
	return f
}

// start runs the hub from the source until the test ends.
func (f *fixture) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.hub.Run(ctx, f.src) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("source: %v", err)
			}
		case <-time.After(fanouttest.Timeout):
			t.Errorf("source did not stop within %v", fanouttest.Timeout)
		}
	})
}

// liveClient connects a client, starts the source and waits until the
// client sees it live.
func (f *fixture) liveClient(t *testing.T) *fanouttest.Client {
	t.Helper()
	c := f.ts.Dial(t, "")
	c.Status(t, false)
	f.start(t)
	c.Status(t, true)
	return c
}

func (f *fixture) ingest(t *testing.T, rs ...reading.Reading) {
	t.Helper()
	res, err := f.st.Ingest(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != len(rs) {
		t.Fatalf("stored %d of %d", res.Stored, len(rs))
	}
}

func TestDeliversIngestedReadings(t *testing.T) {
	f := newFixture(t)
	all, onlyB := f.ts.Dial(t, ""), f.ts.Dial(t, "?device=b")
	for _, c := range []*fanouttest.Client{all, onlyB} {
		c.Status(t, false)
	}
	if err := f.src.Ready(); err == nil {
		t.Error("ready before the source runs")
	}
	f.start(t)
	all.Status(t, true)
	onlyB.Status(t, true)
	if err := f.src.Ready(); err != nil {
		t.Errorf("not ready once live: %v", err)
	}
	var want []reading.Reading
	for i := range 50 {
		want = append(want, testReading("a", uint64(i+1), float64(i)+0.25), testReading("b", uint64(i+1), -float64(i)))
	}
	for i := 0; i < len(want); i += 10 {
		f.ingest(t, want[i:i+10]...)
	}
	got := all.Readings(t, len(want))
	// Order holds per device; devices in one batch are stored one after the other.
	next := map[string]uint64{"a": 1, "b": 1}
	for _, r := range got {
		if r.Seq != next[r.Device] {
			t.Fatalf("device %s: got seq %d, want %d", r.Device, r.Seq, next[r.Device])
		}
		next[r.Device]++
		if r.Unit != "Cel" || r.Metric != "temperature" {
			t.Errorf("reading %+v lost its unit or metric", r)
		}
		wantV := float64(r.Seq-1) + 0.25
		if r.Device == "b" {
			wantV = -float64(r.Seq - 1)
		}
		if r.Value != wantV {
			t.Errorf("%s/%d: value %v, want %v", r.Device, r.Seq, r.Value, wantV)
		}
	}
	for i, r := range onlyB.Readings(t, 50) {
		if r.Device != "b" || r.Seq != uint64(i+1) {
			t.Fatalf("device=b client got %s/%d at %d", r.Device, r.Seq, i)
		}
	}
	if up := f.src.Stats().Up; !up {
		t.Errorf("up %v, want true", up)
	}
}

func TestDropsWhatIsNotAReading(t *testing.T) {
	f := newFixture(t)
	c := f.liveClient(t)
	rdb := f.redis.Client(t)
	ctx := context.Background()
	good := testReading("a", 1, 1)
	for ch, msg := range map[string]string{
		f.st.LiveChannel("a"):        "not json",
		f.st.LiveChannel("b"):        string(encoded(good)), // a reading of another device
		"tributary:live:no-brackets": string(encoded(good)),
	} {
		if err := rdb.Publish(ctx, ch, msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	f.ingest(t, good)
	if got := c.Readings(t, 1); got[0] != good {
		t.Fatalf("got %+v, want %+v", got[0], good)
	}
	// The metrics say the same, under the caller's namespace.
	err := testutil.CollectAndCompare(f.src.Collector("edge"), strings.NewReader(`
# HELP edge_live_messages_dropped_total Messages on live channels that were not a valid reading of the channel's device.
# TYPE edge_live_messages_dropped_total counter
edge_live_messages_dropped_total 3
# HELP edge_live_subscriptions_total Times the cloud (re)subscribed to live readings in Redis.
# TYPE edge_live_subscriptions_total counter
edge_live_subscriptions_total 1
# HELP edge_redis_up 1 while the cloud is subscribed to live readings in Redis and Redis answers, else 0.
# TYPE edge_redis_up gauge
edge_redis_up 1
`))
	if err != nil {
		t.Error(err)
	}
}

func TestRedisOutage(t *testing.T) {
	f := newFixture(t)
	c := f.liveClient(t)
	f.ingest(t, testReading("a", 1, 1))
	c.Readings(t, 1)

	f.redis.Stop()
	st := c.Status(t, false)
	// Clients get the gist, not addresses or library messages.
	if st.Reason != "redis unreachable" {
		t.Errorf("outage reason %q, want \"redis unreachable\"", st.Reason)
	}
	if err := f.src.Ready(); err == nil || err.Error() != "redis unreachable" {
		t.Errorf("ready while redis is down: %v, want \"redis unreachable\"", err)
	}
	// The log has the details, once, however many retries fail.
	f.log.Await(t, "redis still unavailable", 3)
	checkOneWarning(t, f.log, "lost live readings from redis; retrying")
	if up := f.src.Stats().Up; up {
		t.Errorf("up %v while down, want false", up)
	}
	// Clients connecting meanwhile learn it at once.
	late := f.ts.Dial(t, "")
	late.Status(t, false)

	f.redis.Restart(t)
	c.AwaitLive(t)
	late.AwaitLive(t)
	if err := f.src.Ready(); err != nil {
		t.Errorf("not ready after restart: %v", err)
	}
	f.ingest(t, testReading("a", 2, 2))
	for _, cl := range []*fanouttest.Client{c, late} {
		if got := cl.Readings(t, 1); got[0].Seq != 2 {
			t.Errorf("after restart got %+v", got[0])
		}
	}
	if n := f.src.Stats().Subscriptions; n != 2 {
		t.Errorf("subscriptions %v, want 2", n)
	}
}

// TestRedisDownAtStart: a source that cannot subscribe at all says so
// in general terms, and logs the details once.
func TestRedisDownAtStart(t *testing.T) {
	f := newFixture(t)
	c := f.ts.Dial(t, "")
	c.Status(t, false)
	f.redis.Stop()
	f.start(t)
	if st := c.Status(t, false); st.Reason != "redis unreachable" {
		t.Errorf("reason %q, want \"redis unreachable\"", st.Reason)
	}
	f.log.Await(t, "redis still unavailable", 3)
	if err := f.src.Ready(); err == nil || err.Error() != "redis unreachable" {
		t.Errorf("ready: %v, want \"redis unreachable\"", err)
	}
	checkOneWarning(t, f.log, "cannot subscribe to live readings in redis; retrying")
	f.redis.Restart(t)
	c.AwaitLive(t)
}

// checkOneWarning checks that the log holds one warning, msg, and that it
// has the details clients do not get.
func checkOneWarning(t *testing.T, log *fanouttest.LogRecorder, msg string) {
	t.Helper()
	warns := log.Level(slog.LevelWarn)
	if len(warns) != 1 || warns[0].Msg != msg {
		t.Fatalf("warnings %+v, want one %q", warns, msg)
	}
	if err := warns[0].Attrs["err"]; !strings.HasPrefix(err, "redis: ") {
		t.Errorf("warning's err %q, want the client library's error", err)
	}
}

func TestNoticesUnresponsiveRedis(t *testing.T) {
	f := newFixture(t)
	c := f.liveClient(t)
	// A paused server holds every command, PING included, as a hung host
	// or a dead network path would.
	if err := f.redis.Client(t).Do(context.Background(), "CLIENT", "PAUSE", 1500, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(t, false); st.Reason != "redis not answering" {
		t.Errorf("reason %q, want \"redis not answering\"", st.Reason)
	}
	c.AwaitLive(t)
	f.ingest(t, testReading("a", 1, 1))
	c.Readings(t, 1)
}

func testReading(dev string, seq uint64, v float64) reading.Reading {
	return reading.Reading{
		Device: dev, Sensor: "sim", Metric: "temperature", Value: v, Unit: "Cel",
		Time: time.Date(2026, 11, 26, 23, 1, 13, 0, time.UTC).Add(time.Duration(seq) * time.Second), Seq: seq,
	}
}

func encoded(r reading.Reading) []byte { return r.AppendJSON(nil) }
