package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// deployACL is the ACL file shipped in deploy/, which the tests use as is.
var deployACL = filepath.Join("..", "deploy", "mosquitto", "acl")

func TestMain(m *testing.M) {
	// go-redis logs every failed dial of the outage tests to stderr; the
	// bridge's own log (shown on failure) says what matters.
	redis.SetLogger(discardLogger{})
	os.Exit(m.Run())
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// env is a real mosquitto and a real redis-server for one test.
type env struct {
	mq  *mosquittotest.Server
	rd  *redistest.Server
	rdb *redis.Client
	st  *store.Store
}

func newEnv(t testing.TB, mqOpt mosquittotest.Options) *env {
	t.Helper()
	e := &env{mq: mosquittotest.Start(t, mqOpt), rd: redistest.Start(t, redistest.Options{})}
	e.rdb = e.rd.Client(t)
	e.st = store.New(e.rdb, store.Options{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", e.mq.Log())
		}
	})
	return e
}

// running is a bridge running in the background of a test.
type running struct {
	b      *Bridge
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	logs   *logBuf

	stopOnce sync.Once
}

// startBridge runs a bridge on e until the test ends (or stop) and waits
// until it is subscribed. edit adjusts the options, setup the bridge
// before it runs (its test hooks).
func startBridge(t testing.TB, e *env, edit func(*Options), setup ...func(*Bridge)) *running {
	t.Helper()
	r := &running{reg: prometheus.NewRegistry(), done: make(chan error, 1), logs: &logBuf{}}
	anonID := "bridge-" + strings.ReplaceAll(t.Name(), "/", "-")
	opt := Options{
		Store:      e.st,
		MQTT:       mqttwire.Broker{URL: e.mq.URL(), ClientID: anonID},
		Registerer: r.reg,
		Logger:     slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBackoff: 500 * time.Millisecond,
	}
	if edit != nil {
		edit(&opt)
	}
	if u, err := mqttwire.ParseURL(opt.MQTT.URL); opt.MQTT.ClientID == anonID && (opt.MQTT.Username != "" || err == nil && u.User != nil) {
		opt.MQTT.ClientID = "" // with a user name, the client id is the user name
	}
	b, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	r.b = b
	for _, f := range setup {
		f(b)
	}
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("bridge %s log:\n%s", b.ClientID(), r.logs.String())
		}
	})
	select {
	case <-b.Ready():
	case err := <-r.done:
		t.Fatalf("bridge stopped before it was ready: %v\n%s", err, r.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("bridge not subscribed within 20s:\n%s", r.logs.String())
	}
	return r
}

// stop cancels the bridge and waits for Run to return; safe to repeat.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	r.stopOnce.Do(func() {
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return within 20s of cancel")
		}
	})
}

func (r *running) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func newTestLogger(w *logBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mqttClient connects a paho client as an agent would (persistent session,
// stable id) and disconnects it when the test ends.
func mqttClient(t testing.TB, url, id, user, password string, edit func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	c, err := dialMQTT(t, url, id, user, password, edit)
	if err != nil {
		t.Fatalf("connect %s as %s: %v", url, id, err)
	}
	return c
}

func dialMQTT(t testing.TB, url, id, user, password string, edit func(*mqtt.ClientOptions)) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetUsername(user).SetPassword(password).SetAutoReconnect(true).SetConnectTimeout(5 * time.Second)
	if edit != nil {
		edit(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return nil, fmt.Errorf("no CONNACK within 15s")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// publish sends payload with QoS 1 and waits for the broker's PUBACK.
func publish(t testing.TB, c mqtt.Client, topic string, payload []byte, retained bool) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// batch makes readings seq from..to of device.
func batch(device string, from, to uint64) []reading.Reading {
	var rs []reading.Reading
	for s := from; s <= to; s++ {
		rs = append(rs, reading.Reading{Device: device, Sensor: "sim", Metric: "temperature", Value: float64(s) / 10,
			Unit: "Cel", Time: t0.Add(time.Duration(s) * time.Second), Seq: s})
	}
	return rs
}

func encode(rs []reading.Reading) []byte { return reading.AppendBatch(nil, rs) }

// decode is decodeAhead with the widest window, MaxTimeAhead.
func (m *mapper) decode(device string, payload []byte, arrival time.Time) (decoded, error) {
	return m.decodeAhead(device, payload, arrival, MaxTimeAhead)
}

// storedReadings returns device's history stream decoded, in stream order.
func storedReadings(t testing.TB, st *store.Store, device string) []reading.Reading {
	t.Helper()
	raws, err := st.History(context.Background(), device, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]reading.Reading, len(raws))
	for i, raw := range raws {
		if rs[i], err = reading.Decode(raw); err != nil {
			t.Fatalf("stream of %s holds %s: %v", device, raw, err)
		}
	}
	return rs
}

// storedSeqs returns the seqs in device's history stream, in stream order.
func storedSeqs(t testing.TB, st *store.Store, device string) []uint64 {
	t.Helper()
	rs := storedReadings(t, st, device)
	seqs := make([]uint64, len(rs))
	for i, r := range rs {
		seqs[i] = r.Seq
	}
	return seqs
}

// eventually polls cond every 10ms until it holds, failing after 30s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitCount waits until device's stream holds at least n readings.
func awaitCount(t testing.TB, st *store.Store, device string, n int) {
	t.Helper()
	key := st.StreamKey(device)
	eventually(t, fmt.Sprintf("%d readings of %s in Redis", n, device), func() bool {
		got, err := st.Client().XLen(context.Background(), key).Result()
		return err == nil && got >= int64(n)
	})
}

// checkExactlyOnceInOrder asserts that device's stream holds seqs from..to,
// each once, in order.
func checkExactlyOnceInOrder(t testing.TB, st *store.Store, device string, from, to uint64) {
	t.Helper()
	got := storedSeqs(t, st, device)
	produced := int(to - from + 1)
	seen := map[uint64]int{}
	for _, s := range got {
		seen[s]++
	}
	missing, dups := 0, 0
	for s := from; s <= to; s++ {
		switch seen[s] {
		case 0:
			missing++
		case 1:
		default:
			dups += seen[s] - 1
		}
	}
	t.Logf("%s: produced %d, stored %d, missing %d, duplicated %d", device, produced, len(got), missing, dups)
	if missing != 0 || dups != 0 || len(got) != produced {
		t.Fatalf("%s: want seqs %d..%d once each; got %v", device, from, to, got)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
		t.Fatalf("%s: out of order: %v", device, got)
	}
}

// deadLetters returns the dead-letter stream's entries, oldest first.
func deadLetters(t testing.TB, rdb *redis.Client) []map[string]any {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), DefaultDeadLetterKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Values
	}
	return out
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
