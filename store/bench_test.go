package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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
