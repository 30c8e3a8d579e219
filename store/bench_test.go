package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// BenchmarkIngest measures readings/s stored through the ingest script on a
// real redis-server, by batch size (the edge agent sends batches).
func BenchmarkIngest(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			rdb := shared.Client(b)
			s := store.New(rdb, store.Options{Prefix: fmt.Sprintf("bench%d-%d", batch, time.Now().UnixNano())})
			rs := make([]reading.Reading, batch)
			seq := uint64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for j := range rs {
					seq++
					rs[j] = reading.Reading{Device: "bench", Sensor: "sim", Metric: "temperature",
						Value: 21.5, Unit: "Cel", Time: time.Now(), Seq: seq}
				}
				if _, err := s.Ingest(ctx, rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkIngestBaseline puts the ingest beside what Redis itself can do
// on the same server: plain XADDs of the same canonical JSON, pipelined in
// batches of 256 to one stream (no dedup, no latest values, no live
// channel, no registry: the ceiling the ingest is measured against), and
// the ingest of batches that mix many devices, as a bridge or a fleet
// sends them.
func BenchmarkIngestBaseline(b *testing.B) {
	const batch = 256
	b.Run(fmt.Sprintf("xadd-pipelined/batch=%d", batch), func(b *testing.B) {
		ctx := context.Background()
		rdb := shared.Client(b)
		key := fmt.Sprintf("benchxadd-%d", time.Now().UnixNano())
		b.Cleanup(func() { rdb.Del(context.Background(), key) })
		n := 0
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			pipe := rdb.Pipeline()
			for j := 0; j < batch; j++ {
				n++
				r := reading.Reading{Device: "bench", Sensor: "sim", Metric: "temperature",
					Value: 21.5, Unit: "Cel", Time: time.Now(), Seq: uint64(n)}
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: 100000, Approx: true, Values: []any{"r", r.AppendJSON(nil)}})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	})
	for _, devices := range []int{16, 128} {
		b.Run(fmt.Sprintf("ingest/devices=%d/batch=%d", devices, batch), func(b *testing.B) {
			ctx := context.Background()
			rdb := shared.Client(b)
			s := store.New(rdb, store.Options{Prefix: fmt.Sprintf("benchmix%d-%d", devices, time.Now().UnixNano())})
			rs := make([]reading.Reading, batch)
			seqs := make([]uint64, devices)
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				for j := range rs {
					d := j % devices
					seqs[d]++
					n++
					rs[j] = reading.Reading{Device: fmt.Sprintf("bench-%03d", d), Sensor: "sim", Metric: "temperature",
						Value: 21.5, Unit: "Cel", Time: time.Now(), Seq: seqs[d]}
				}
				if _, err := s.Ingest(ctx, rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
