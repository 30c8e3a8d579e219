package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/tributary-iot/tributary/reading"
)

func TestReadingsArriveInOrder(t *testing.T) {
	f := newRedis(t)
	a := start(t, Config{
		Device:   "greenhouse-1",
		Sensors:  []SensorConfig{{Sensor: climate("bme280")}, {Sensor: door("door"), Interval: 3 * time.Millisecond}},
		Interval: 2 * time.Millisecond,
		StateDir: t.TempDir(),
	}, NewRedisUplink(f.st), Options{})
	await(t, "30 readings in Redis", func() bool { return f.streamLen("greenhouse-1") >= 30 })
	if err := a.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := f.history(t, "greenhouse-1")
	if len(got) != a.produced() {
		t.Fatalf("%d readings in Redis, agent produced %d", len(got), a.produced())
	}
	want := map[string]string{"bme280/temperature": "Cel", "bme280/humidity": "%", "door/door": "1"}
	perSensor := map[string]int{}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("reading %d has seq %d, want %d (in order, no gaps)", i, r.Seq, i+1)
		}
		if r.Device != "greenhouse-1" {
			t.Fatalf("reading %d device %q", i, r.Device)
		}
		if u, ok := want[r.Sensor+"/"+r.Metric]; !ok || u != r.Unit {
			t.Fatalf("reading %d: unexpected series %s/%s unit %s", i, r.Sensor, r.Metric, r.Unit)
		}
		if !r.Time.Equal(t0.Truncate(time.Millisecond)) {
			t.Fatalf("reading %d time %v, want the agent clock's %v in ms", i, r.Time, t0.Truncate(time.Millisecond))
		}
		perSensor[r.Sensor]++
	}
	if perSensor["bme280"] == 0 || perSensor["door"] == 0 || perSensor["bme280"]%2 != 0 {
		t.Fatalf("readings per sensor %v: want both sensors, bme280 in pairs", perSensor)
	}
	// A read's samples are consecutive: temperature then humidity.
	for i := 0; i+1 < len(got); i++ {
		if got[i].Metric == "temperature" && got[i+1].Metric != "humidity" {
			t.Fatalf("reading %d is temperature but %d is %s", i, i+1, got[i+1].Metric)
		}
	}
}

func TestSeqContinuesAfterRestart(t *testing.T) {
	f := newRedis(t)
	dir := t.TempDir()
	cfg := Config{Device: "dev-1", Sensors: []SensorConfig{{Sensor: climate("c")}}, Interval: 2 * time.Millisecond, StateDir: dir}
	for run := 1; run <= 3; run++ {
		before := f.streamLen("dev-1")
		a := start(t, cfg, NewRedisUplink(f.st), Options{LeaseSize: 7})
		await(t, fmt.Sprintf("run %d: 10 more readings", run), func() bool { return f.streamLen("dev-1") >= before+10 })
		if err := a.stop(t); err != nil {
			t.Fatal(err)
		}
	}
	got := f.history(t, "dev-1")
	for i, r := range got {
		// Clean stops skip nothing: 1, 2, 3, ... across the three runs.
		if r.Seq != uint64(i+1) {
			t.Fatalf("reading %d has seq %d, want %d", i, r.Seq, i+1)
		}
	}
	b, err := os.ReadFile(seqPath(dir, "dev-1"))
	if err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(len(got)) {
		t.Fatalf("lease file %q (%v), want the last seq %d", b, err, len(got))
	}
}

// TestRedisOutage kills Redis while the agent samples and brings it back
// (empty): every reading not acknowledged before the kill arrives exactly
// once, in seq order.
func TestRedisOutage(t *testing.T) {
	f := newRedis(t)
	a := start(t, Config{
		Device:   "dev-2",
		Sensors:  []SensorConfig{{Sensor: climate("c")}, {Sensor: door("d")}},
		Interval: time.Millisecond,
		StateDir: t.TempDir(),
	}, NewRedisUplink(f.st), Options{BatchSize: 16,
		// The flush at stop must send everything queued, however slowly a
		// busy machine runs it: a deadline here tests the machine's speed.
		FlushTimeout: 2 * time.Minute})
	await(t, "readings in Redis", func() bool { return f.streamLen("dev-2") >= 50 })
	if n := testutil.ToFloat64(a.m.uplinkErrors); n != 0 {
		t.Fatalf("%v uplink errors before the outage", n)
	}

	f.srv.Stop()
	// Once a send has failed, every earlier send has returned: the sent
	// count is what the dead Redis acknowledged, seqs 1..acked.
	await(t, "an uplink error", func() bool { return testutil.ToFloat64(a.m.uplinkErrors) >= 1 })
	acked := int(testutil.ToFloat64(a.m.sent))
	down := a.produced()
	await(t, "sampling to go on while Redis is down", func() bool { return a.produced() >= down+100 })
	if up := testutil.ToFloat64(a.m.uplinkUp); up != 0 {
		t.Fatalf("uplink_up = %v while Redis is down", up)
	}

	f.srv.Restart(t)
	restarted := a.produced()
	await(t, "the backlog to reach the new Redis", func() bool { return f.streamLen("dev-2") >= int64(restarted-acked) })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if a.q.Len() != 0 {
		t.Fatalf("%d readings still queued after the flush", a.q.Len())
	}
	got := f.history(t, "dev-2")
	total := a.produced()
	t.Logf("acknowledged before the kill: %d; produced while down: %d; total: %d", acked, restarted-down, total)
	if len(got) != total-acked {
		t.Fatalf("%d readings in the new Redis, want %d (produced %d, acknowledged before the kill %d)", len(got), total-acked, total, acked)
	}
	for i, r := range got {
		if want := uint64(acked + i + 1); r.Seq != want {
			t.Fatalf("reading %d has seq %d, want %d", i, r.Seq, want)
		}
	}
	if up := testutil.ToFloat64(a.m.uplinkUp); up != 1 {
		t.Fatalf("uplink_up = %v after recovery", up)
	}
	if d := testutil.ToFloat64(a.m.dropped.WithLabelValues(DropQueueFull)); d != 0 {
		t.Fatalf("%v readings dropped", d)
	}
}

func TestFailingSensorDoesNotStopOthers(t *testing.T) {
	f := newRedis(t)
	var logs logBuffer
	good, bad := climate("good"), door("bad")
	bad.SetErr(errors.New("i2c: no ACK from 0x76"))
	a := start(t, Config{
		Device:   "dev-3",
		Sensors:  []SensorConfig{{Sensor: good}, {Sensor: bad}},
		Interval: time.Millisecond,
		StateDir: t.TempDir(),
	}, NewRedisUplink(f.st), Options{Logger: logs.logger()})
	await(t, "the bad sensor to fail 20 times", func() bool { _, fails := bad.Reads(); return fails >= 20 })
	await(t, "the good sensor's readings", func() bool { return f.streamLen("dev-3") >= 20 })
	if n := testutil.ToFloat64(a.m.sensorErrors.WithLabelValues("bad", "other")); n < 20 {
		t.Fatalf("sensor_errors_total{bad} = %v, want >= 20", n)
	}
	// The clock stands still, so the rate limit lets exactly one through.
	if n := strings.Count(logs.String(), `msg="sensor read failed" sensor=bad`); n != 1 {
		t.Fatalf("%d log lines about the failing sensor, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "no ACK from 0x76") {
		t.Fatalf("log does not say what failed:\n%s", logs.String())
	}
	bad.SetErr(nil)
	await(t, "the bad sensor's readings after it recovers", func() bool {
		for _, r := range f.history(t, "dev-3") {
			if r.Sensor == "bad" {
				return true
			}
		}
		return false
	})
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "sensor recovered") {
		t.Fatalf("no log of the recovery:\n%s", logs.String())
	}
}

// flakyUplink fails its first fails sends, rejects batches holding a reading
// of sensor reject, and records what it accepted.
type flakyUplink struct {
	mu     sync.Mutex
	fails  int
	reject string
	got    []reading.Reading
}

func (u *flakyUplink) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fails > 0 {
		u.fails--
		return 0, errors.New("network unreachable")
	}
	for _, r := range rs {
		if r.Sensor == u.reject {
			return 0, fmt.Errorf("uplink: %w: sensor %s", reading.ErrInvalid, r.Sensor)
		}
	}
	u.got = append(u.got, rs...)
	return 0, nil
}

func (u *flakyUplink) accepted() []reading.Reading {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]reading.Reading(nil), u.got...)
}

func TestRetriesAndRejects(t *testing.T) {
	up := &flakyUplink{fails: 5}
	a := start(t, Config{Device: "dev-4", Sensors: []SensorConfig{{Sensor: climate("c")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	await(t, "readings accepted after the failures", func() bool { return len(up.accepted()) >= 20 })
	if n := testutil.ToFloat64(a.m.uplinkErrors); n != 5 {
		t.Fatalf("uplink_errors_total = %v, want 5", n)
	}
	for i, r := range up.accepted() {
		if r.Seq != uint64(i+1) {
			t.Fatalf("accepted reading %d has seq %d: retries lost or reordered readings", i, r.Seq)
		}
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	rej := &flakyUplink{reject: "bad"}
	b := start(t, Config{Device: "dev-5", Sensors: []SensorConfig{{Sensor: door("bad")}}, Interval: time.Millisecond, StateDir: t.TempDir()}, rej, Options{})
	await(t, "rejected readings dropped", func() bool { return testutil.ToFloat64(b.m.dropped.WithLabelValues(DropRejected)) >= 5 })
	if n := testutil.ToFloat64(b.m.uplinkErrors); n != 0 {
		t.Fatalf("a rejection counted as %v uplink errors (it must not be retried)", n)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	a := &Agent{opt: Options{BackoffMin: 100 * time.Millisecond, BackoffMax: 30 * time.Second}}
	for attempt, ceil := range map[int]time.Duration{0: 100 * time.Millisecond, 3: 800 * time.Millisecond, 20: 30 * time.Second, 100: 30 * time.Second} {
		for range 200 {
			if d := a.backoff(attempt); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", attempt, d, ceil)
			}
		}
	}
	// A long outage with a large minimum must not overflow the shift.
	a.opt.BackoffMin, a.opt.BackoffMax = 5*time.Second, time.Minute
	for attempt := range 200 {
		if d := a.backoff(attempt); d < 0 || d > time.Minute {
			t.Fatalf("BackoffMin 5s: backoff(%d) = %v", attempt, d)
		}
	}
}

func TestMetricsText(t *testing.T) {
	f := newRedis(t)
	reg := prometheus.NewRegistry()
	bad := door("bad")
	bad.SetErr(errors.New("broken"))
	a := start(t, Config{Device: "dev-6", Sensors: []SensorConfig{{Sensor: climate("c")}, {Sensor: bad}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		NewRedisUplink(f.st), Options{Registerer: reg})
	await(t, "readings in Redis", func() bool { return f.streamLen("dev-6") >= 10 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	const fixed = `
# HELP tributary_edge_dropped_readings_total Readings dropped before being sent, by reason, since the state dir was created (the counts are kept there across restarts); queue_full counts the queue's drops, which the spool also counts by its own reason in tributary_edge_spool_dropped_total (do not add the two).
# TYPE tributary_edge_dropped_readings_total counter
tributary_edge_dropped_readings_total{reason="clock"} 0
tributary_edge_dropped_readings_total{reason="invalid"} 0
tributary_edge_dropped_readings_total{reason="queue_full"} 0
tributary_edge_dropped_readings_total{reason="refused"} 0
tributary_edge_dropped_readings_total{reason="rejected"} 0
tributary_edge_dropped_readings_total{reason="seq_lease"} 0
tributary_edge_dropped_readings_total{reason="shutdown"} 0
# HELP tributary_edge_queue_readings Readings queued for the uplink, not yet sent.
# TYPE tributary_edge_queue_readings gauge
tributary_edge_queue_readings 0
# HELP tributary_edge_uplink_errors_total Failed uplink sends; every retry counts.
# TYPE tributary_edge_uplink_errors_total counter
tributary_edge_uplink_errors_total 0
# HELP tributary_edge_uplink_up 1 if the last uplink send succeeded, else 0.
# TYPE tributary_edge_uplink_up gauge
tributary_edge_uplink_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fixed),
		"tributary_edge_dropped_readings_total", "tributary_edge_queue_readings",
		"tributary_edge_uplink_errors_total", "tributary_edge_uplink_up"); err != nil {
		t.Fatal(err)
	}
	n := f.streamLen("dev-6")
	counted := fmt.Sprintf(`
# HELP tributary_edge_readings_total Readings produced, by sensor.
# TYPE tributary_edge_readings_total counter
tributary_edge_readings_total{sensor="bad"} 0
tributary_edge_readings_total{sensor="c"} %d
# HELP tributary_edge_sent_readings_total Readings the uplink accepted.
# TYPE tributary_edge_sent_readings_total counter
tributary_edge_sent_readings_total %d
`, n, n)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(counted), "tributary_edge_readings_total", "tributary_edge_sent_readings_total"); err != nil {
		t.Fatal(err)
	}
	if errs := testutil.ToFloat64(a.m.sensorErrors.WithLabelValues("bad", "other")); errs < 1 {
		t.Fatalf("sensor_errors_total{bad} = %v", errs)
	}
	if c, err := testutil.GatherAndCount(reg, "tributary_edge_send_duration_seconds"); err != nil || c != 1 {
		t.Fatalf("send duration histogram: %d series, %v", c, err)
	}
	// Every reading sent has its latency, under the uplink's kind.
	if c, err := testutil.GatherAndCount(reg, "tributary_edge_reading_latency_seconds"); err != nil || c != 1 {
		t.Fatalf("latency histogram: %d series, %v", c, err)
	}
	lat := &dto.Metric{}
	if err := a.m.latency.WithLabelValues("redis").(prometheus.Histogram).Write(lat); err != nil {
		t.Fatal(err)
	}
	if got, sum := lat.GetHistogram().GetSampleCount(), lat.GetHistogram().GetSampleSum(); got != uint64(n) || sum < 0 || sum > float64(n)*30 {
		t.Errorf("latency: %d observations, sum %vs; want %d, each under 30s", got, sum, n)
	}
	// A second agent on the same registry collides; wrapped per device it does not.
	if _, err := New(Config{Device: "dev-7", Sensors: []SensorConfig{{Sensor: climate("c")}}, StateDir: t.TempDir()}, NewRedisUplink(f.st), Options{Registerer: reg}); err == nil {
		t.Fatal("two agents registered the same metrics without an error")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	up := &flakyUplink{}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Device: "", Sensors: []SensorConfig{{Sensor: climate("c")}}, StateDir: dir}, "device id"},
		{Config{Device: "-x", Sensors: []SensorConfig{{Sensor: climate("c")}}, StateDir: dir}, "device id"},
		{Config{Device: "d", StateDir: dir}, "no sensors"},
		{Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("c")}}}, "no state dir"},
		{Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("c")}, {Sensor: door("c")}}, StateDir: dir}, `"c" used twice`},
		{Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("a b")}}, StateDir: dir}, "not a valid sensor id"},
		{Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("c"), Interval: -1}}, StateDir: dir}, "negative interval"},
		{Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("c"), Timeout: -1}}, StateDir: dir}, "negative timeout"},
		{Config{Device: "d", Sensors: []SensorConfig{{}}, StateDir: dir}, "nil"},
	} {
		_, err := New(tc.cfg, up, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
	a, err := New(Config{Device: "d", Sensors: []SensorConfig{{Sensor: climate("c")}}, StateDir: dir}, up, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.cfg.Sensors[0]; s.Interval != DefaultInterval || s.Timeout != DefaultSensorTimeout {
		t.Fatalf("defaults: interval %v, timeout %v", s.Interval, s.Timeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run with an ended context: %v", err)
	}
	if err := a.Run(ctx); err == nil {
		t.Fatal("second Run succeeded")
	}
}

// blockingUplink blocks every send until its context ends.
type blockingUplink struct{ calls chan struct{} }

func (u *blockingUplink) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	select {
	case u.calls <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestShutdownIsBoundedWhenUplinkHangs(t *testing.T) {
	var logs logBuffer
	up := &blockingUplink{calls: make(chan struct{}, 1)}
	a := start(t, Config{Device: "dev-8", Sensors: []SensorConfig{{Sensor: climate("c")}}, Interval: time.Millisecond, StateDir: t.TempDir()},
		up, Options{FlushTimeout: 20 * time.Millisecond, Logger: logs.logger()})
	select {
	case <-up.calls:
	case <-time.After(20 * time.Second):
		t.Fatal("no send attempted")
	}
	// stop fails the test if Run does not return; the flush timeout must cut
	// the hanging send short (SendTimeout is 10s, the test's deadline 30s).
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "readings not sent") {
		t.Fatalf("no warning about unsent readings:\n%s", logs.String())
	}
}

// TestLostStateDirResumesAfterRedis: an agent whose state dir is new asks
// Redis where the device left off, so its readings are not dropped as
// repeats; an uplink that cannot tell gets them counted as duplicates.
func TestLostStateDirResumesAfterRedis(t *testing.T) {
	f := newRedis(t)
	cfg := Config{Device: "dev-lost", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()}
	a := start(t, cfg, NewRedisUplink(f.st), Options{})
	await(t, "first life's readings", func() bool { return f.streamLen("dev-lost") >= 5 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	first := f.history(t, "dev-lost")
	last := first[len(first)-1].Seq

	cfg.StateDir = t.TempDir() // the SD card was replaced
	b := start(t, cfg, NewRedisUplink(f.st), Options{})
	await(t, "second life's readings", func() bool { return f.streamLen("dev-lost") >= int64(len(first)+5) })
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	all := f.history(t, "dev-lost")
	if next := all[len(first)].Seq; next != last+1 {
		t.Fatalf("after losing its state the agent went on at seq %d, want %d", next, last+1)
	}
	if d := testutil.ToFloat64(b.m.duplicates); d != 0 {
		t.Fatalf("%v duplicates after resuming", d)
	}

	// Without SeqResumer the agent starts at 1 and the repeats are counted.
	cfg.StateDir = t.TempDir()
	c := start(t, cfg, sendOnly{NewRedisUplink(f.st)}, Options{BatchSize: 1})
	await(t, "repeats counted", func() bool { return testutil.ToFloat64(c.m.duplicates) >= 3 })
}

// sendOnly hides an uplink's optional abilities.
type sendOnly struct{ up Uplink }

func (s sendOnly) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	return s.up.Send(ctx, rs)
}

// TestLostStateDirAfterTopSeq: the store's last seq for the device is the
// largest (written by a bug or a hostile client). An agent that lost its
// state dir must not wrap around to seq 0 (an invalid reading, dropped):
// it starts low, and the store takes its readings for a restart.
func TestLostStateDirAfterTopSeq(t *testing.T) {
	f := newRedis(t)
	top := reading.Reading{Device: "dev-top", Sensor: "d", Metric: "door", Value: 0, Unit: "1", Time: t0.Add(-time.Hour), Seq: math.MaxUint64}
	if _, err := f.st.Ingest(context.Background(), []reading.Reading{top}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Device: "dev-top", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()}
	a := start(t, cfg, NewRedisUplink(f.st), Options{})
	await(t, "readings stored after the restart", func() bool { return f.streamLen("dev-top") >= 6 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	all := f.history(t, "dev-top")
	if all[1].Seq != 1 || all[5].Seq != 5 {
		t.Fatalf("seqs after the restart: %d, ..., %d; want 1, ..., 5", all[1].Seq, all[5].Seq)
	}
	if n := testutil.ToFloat64(a.m.dropped.WithLabelValues(DropRejected)); n != 0 {
		t.Fatalf("%v readings rejected", n)
	}
}

// TestRefusedReadingsCountedNotRetried: readings the store refuses for good
// (here: stamped an hour ahead of Redis's clock) are counted as dropped
// and the agent moves on; it does not retry them forever.
func TestRefusedReadingsCountedNotRetried(t *testing.T) {
	f := newRedis(t)
	cfg := Config{Device: "dev-ahead", Sensors: []SensorConfig{{Sensor: door("d")}}, Interval: time.Millisecond, StateDir: t.TempDir()}
	a := start(t, cfg, NewRedisUplink(f.st), Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	await(t, "refusals counted and the queue moving", func() bool {
		return testutil.ToFloat64(a.m.dropped.WithLabelValues(DropRefused)) >= 20 && a.q.Len() < 20
	})
	if n := f.streamLen("dev-ahead"); n != 0 {
		t.Fatalf("%d readings stored from an hour ahead", n)
	}
	if n := testutil.ToFloat64(a.m.uplinkErrors); n != 0 {
		t.Fatalf("%v uplink errors: refusals were retried", n)
	}
}
