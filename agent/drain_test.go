package agent_test

// An external test package: BenchmarkDrain runs a real bridge, and package
// agent must not import the bridge, not even in its tests.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/store"
)

// backlog opens a spool in dir holding n readings of device (seqs 1..n,
// as an outage leaves them) and sets the device's seq lease after them.
func backlog(tb testing.TB, dir, device string, n int) *spool.Spool {
	tb.Helper()
	q, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{Sync: spool.SyncNever, MaxBytes: -1, MaxAge: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { q.Close() })
	ts := time.Now().UTC().Truncate(time.Millisecond)
	batch := make([]reading.Reading, 0, 1000)
	for seq := 1; seq <= n; seq++ {
		batch = append(batch, reading.Reading{Device: device, Sensor: "climate", Metric: "temperature", Value: 20 + float64(seq%100)/10,
			Unit: "Cel", Time: ts.Add(time.Duration(seq-n) * time.Second), Seq: uint64(seq)})
		if len(batch) == cap(batch) || seq == n {
			if d := q.Push(batch); d != 0 {
				tb.Fatalf("spool dropped %d readings", d)
			}
			batch = batch[:0]
		}
	}
	if err := os.WriteFile(filepath.Join(dir, device+".seq"), []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return q
}

// drain runs an agent over q and up until its backlog has gone, and
// returns how long that took.
func drain(b *testing.B, dir, device string, q *spool.Spool, up agent.Uplink, stored func() int64, want int64) time.Duration {
	b.Helper()
	door := &sensorstest.Sensor{ID: "d", Samples: []sensors.Sample{{Metric: "door", Value: 1, Unit: "1"}}}
	a, err := agent.New(agent.Config{Device: device, Sensors: []agent.SensorConfig{{Sensor: door, Interval: time.Hour}}, StateDir: dir},
		up, agent.Options{Queue: q, DrainRate: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Run(ctx) }()
	for stored() < want {
		time.Sleep(time.Millisecond)
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("backlog not drained after 5 minutes: %d of %d stored", stored(), want)
		}
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// benchStore starts a redis-server and returns a store on it.
func benchStore(b *testing.B) *store.Store {
	srv := redistest.Start(b, redistest.Options{})
	rdb, err := store.NewClient(store.ClientOptions{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	return store.New(rdb, store.Options{})
}

// stored counts the readings of device in st's stream (0 while Redis fails).
func stored(st *store.Store, device string) func() int64 {
	return func() int64 {
		n, _ := st.Client().XLen(context.Background(), st.StreamKey(device)).Result()
		return n
	}
}

// BenchmarkDrain measures how fast an agent empties a spooled backlog (as
// after an outage), uncapped (DrainRate -1), in batches of the default
// 500: straight into a real redis-server, and through a real mosquitto and
// the bridge into Redis. One op is one reading; readings/s is the figure.
func BenchmarkDrain(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		st := benchStore(b)
		dir := b.TempDir()
		q := backlog(b, dir, "drain-redis", b.N)
		b.ResetTimer()
		d := drain(b, dir, "drain-redis", q, agent.NewRedisUplink(st), stored(st, "drain-redis"), int64(b.N))
		b.ReportMetric(float64(b.N)/d.Seconds(), "readings/s")
	})
	b.Run("mqtt", func(b *testing.B) {
		st := benchStore(b)
		srv := mosquittotest.Start(b, mosquittotest.Options{})
		br, err := bridge.New(bridge.Options{Store: st, MQTT: mqttwire.Broker{URL: srv.URL(), ClientID: "bench-bridge"}})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		bdone := make(chan error, 1)
		go func() { bdone <- br.Run(ctx) }()
		defer func() { cancel(); <-bdone }()
		select {
		case <-br.Ready():
		case <-time.After(10 * time.Second):
			b.Fatal("bridge not subscribed after 10s")
		}
		dir := b.TempDir()
		q := backlog(b, dir, "drain-mqtt", b.N)
		boot, err := agent.NewBoot(dir, "drain-mqtt")
		if err != nil {
			b.Fatal(err)
		}
		up, err := agent.NewMQTTUplink(agent.MQTTUplinkOptions{Broker: mqttwire.Broker{URL: srv.URL()}, Device: "drain-mqtt", Boot: boot})
		if err != nil {
			b.Fatal(err)
		}
		defer up.Close()
		b.ResetTimer()
		d := drain(b, dir, "drain-mqtt", q, up, stored(st, "drain-mqtt"), int64(b.N))
		b.ReportMetric(float64(b.N)/d.Seconds(), "readings/s")
	})
}
