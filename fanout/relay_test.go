package fanout

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// relayFixture is a real redis-server, a store on it, and a hub fed by a
// running relay, served over WebSocket.
type relayFixture struct {
	redis *redistest.Server
	st    *store.Store
	hub   *Hub
	relay *Relay
	ts    *testServer
	reg   *prometheus.Registry
	log   *logRecorder // the relay's log
}

// newRelayFixture starts everything but the relay, so that a test can
// connect clients that see the status go live.
func newRelayFixture(t *testing.T) *relayFixture {
	t.Helper()
	f := &relayFixture{redis: redistest.Start(t, redistest.Options{}), reg: prometheus.NewRegistry(), log: newLogRecorder()}
	f.st = store.New(f.redis.Client(t), store.Options{})
	f.hub = NewHub(Options{Registerer: f.reg})
	f.relay = NewRelay(f.st, f.hub, RelayOptions{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Registerer: f.reg, Logger: slog.New(f.log)})
	f.ts = newTestServer(t, f.hub)
	return f
}

func (f *relayFixture) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("relay did not stop within 10s")
		}
	})
}

func (f *relayFixture) ingest(t *testing.T, rs ...reading.Reading) {
	t.Helper()
	res, err := f.st.Ingest(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != len(rs) {
		t.Fatalf("stored %d of %d", res.Stored, len(rs))
	}
}

func TestRelayDeliversIngestedReadings(t *testing.T) {
	f := newRelayFixture(t)
	all, onlyB := f.ts.dial(t, ""), f.ts.dial(t, "?device=b")
	for _, c := range []*testClient{all, onlyB} {
		c.status(t, false)
	}
	if err := f.relay.Ready(); err == nil {
		t.Error("ready before the relay runs")
	}
	f.start(t)
	all.status(t, true)
	onlyB.status(t, true)
	if err := f.relay.Ready(); err != nil {
		t.Errorf("not ready once live: %v", err)
	}
	var want []reading.Reading
	for i := range 50 {
		want = append(want, testReading("a", uint64(i+1), float64(i)+0.25), testReading("b", uint64(i+1), -float64(i)))
	}
	for i := 0; i < len(want); i += 10 {
		f.ingest(t, want[i:i+10]...)
	}
	got := all.readings(t, len(want))
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
	for i, r := range onlyB.readings(t, 50) {
		if r.Device != "b" || r.Seq != uint64(i+1) {
			t.Fatalf("device=b client got %s/%d at %d", r.Device, r.Seq, i)
		}
	}
	if up := testutil.ToFloat64(f.relay.up); up != 1 {
		t.Errorf("redis_up %v, want 1", up)
	}
}

func TestRelayDropsWhatIsNotAReading(t *testing.T) {
	f := newRelayFixture(t)
	c := f.ts.dial(t, "")
	c.status(t, false)
	f.start(t)
	c.status(t, true)
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
	if got := c.readings(t, 1); got[0] != good {
		t.Fatalf("got %+v, want %+v", got[0], good)
	}
	if n := testutil.ToFloat64(f.relay.dropped); n != 3 {
		t.Errorf("dropped %v, want 3", n)
	}
}

func TestRelayRedisOutage(t *testing.T) {
	f := newRelayFixture(t)
	c := f.ts.dial(t, "")
	c.status(t, false)
	f.start(t)
	c.status(t, true)
	f.ingest(t, testReading("a", 1, 1))
	c.readings(t, 1)

	f.redis.Stop()
	st := c.status(t, false)
	// Clients get the gist, not addresses or library messages.
	if st.Reason != "redis unreachable" {
		t.Errorf("outage reason %q, want \"redis unreachable\"", st.Reason)
	}
	if err := f.relay.Ready(); err == nil || err.Error() != "redis unreachable" {
		t.Errorf("ready while redis is down: %v, want \"redis unreachable\"", err)
	}
	// The log has the details, once, however many retries fail.
	f.log.await(t, "redis still unavailable", 3)
	checkOneWarning(t, f.log, "lost live readings from redis; retrying")
	if up := testutil.ToFloat64(f.relay.up); up != 0 {
		t.Errorf("redis_up %v while down, want 0", up)
	}
	// Clients connecting meanwhile learn it at once.
	late := f.ts.dial(t, "")
	late.status(t, false)

	f.redis.Restart(t)
	c.awaitLive(t)
	late.awaitLive(t)
	if err := f.relay.Ready(); err != nil {
		t.Errorf("not ready after restart: %v", err)
	}
	f.ingest(t, testReading("a", 2, 2))
	for _, cl := range []*testClient{c, late} {
		if got := cl.readings(t, 1); got[0].Seq != 2 {
			t.Errorf("after restart got %+v", got[0])
		}
	}
	if n := testutil.ToFloat64(f.relay.subscribed); n != 2 {
		t.Errorf("subscriptions %v, want 2", n)
	}
}

// TestRelayRedisDownAtStart: a relay that cannot subscribe at all says so
// in general terms, and logs the details once.
func TestRelayRedisDownAtStart(t *testing.T) {
	f := newRelayFixture(t)
	c := f.ts.dial(t, "")
	c.status(t, false)
	f.redis.Stop()
	f.start(t)
	if st := c.status(t, false); st.Reason != "redis unreachable" {
		t.Errorf("reason %q, want \"redis unreachable\"", st.Reason)
	}
	f.log.await(t, "redis still unavailable", 3)
	if err := f.relay.Ready(); err == nil || err.Error() != "redis unreachable" {
		t.Errorf("ready: %v, want \"redis unreachable\"", err)
	}
	checkOneWarning(t, f.log, "cannot subscribe to live readings in redis; retrying")
	f.redis.Restart(t)
	c.awaitLive(t)
}

// checkOneWarning checks that the log holds one warning, msg, and that it
// has the details clients do not get.
func checkOneWarning(t *testing.T, log *logRecorder, msg string) {
	t.Helper()
	warns := log.level(slog.LevelWarn)
	if len(warns) != 1 || warns[0].msg != msg {
		t.Fatalf("warnings %+v, want one %q", warns, msg)
	}
	if err := warns[0].attrs["err"]; !strings.HasPrefix(err, "redis: ") {
		t.Errorf("warning's err %q, want the client library's error", err)
	}
}

func TestRelayNoticesUnresponsiveRedis(t *testing.T) {
	f := newRelayFixture(t)
	c := f.ts.dial(t, "")
	c.status(t, false)
	f.start(t)
	c.status(t, true)
	// A paused server holds every command, PING included, as a hung host
	// or a dead network path would.
	if err := f.redis.Client(t).Do(context.Background(), "CLIENT", "PAUSE", 1500, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if st := c.status(t, false); st.Reason != "redis not answering" {
		t.Errorf("reason %q, want \"redis not answering\"", st.Reason)
	}
	c.awaitLive(t)
	f.ingest(t, testReading("a", 1, 1))
	c.readings(t, 1)
}
