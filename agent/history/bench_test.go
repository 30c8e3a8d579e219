package history

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// day is a day of 10 sensors read at 1 Hz (864,000 readings), with values
// like sensors' (a random walk rounded to 0.01), stamped every second.
func day(yield func(reading.Reading)) {
	rnd := rand.New(rand.NewPCG(5, 6))
	names := []string{"bme-1", "bme-2", "sht-1", "sht-2", "lux-1", "soil-1", "soil-2", "adc-1", "adc-2", "ds-1"}
	v := make([]float64, len(names))
	for i := range v {
		v[i] = 20
	}
	seq := uint64(0)
	for sec := range 86400 {
		ts := t0.Add(time.Duration(sec) * time.Second)
		for i, n := range names {
			v[i] = math.Round((v[i]+rnd.NormFloat64()*0.05)*100) / 100 // rounded, as sensors report
			seq++
			yield(reading.Reading{Device: dev, Sensor: n, Metric: "temperature", Value: v[i], Unit: "Cel",
				Time: ts.Add(time.Duration(i) * 3 * time.Millisecond), Seq: seq})
		}
	}
}

// BenchmarkDay fills a history with a day of 10 sensors at 1 Hz and
// reports what it holds: bytes as counted against MaxBytes, and the Go
// heap it takes (runtime.MemStats), in total and per reading.
func BenchmarkDay(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := &clock{t: t0.Add(24 * time.Hour)}
		h, err := New(Options{Device: dev, Now: c.now, Window: 25 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		day(h.Add)
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := h.Stats()
		if st.Readings != 864000 {
			b.Fatalf("%d readings kept", st.Readings)
		}
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(float64(st.Bytes)/(1<<20), "MiB-counted")
		b.ReportMetric(heap/(1<<20), "MiB-heap")
		b.ReportMetric(heap/864000, "heap-B/reading")
		runtime.KeepAlive(h)
	}
}

// BenchmarkAdd is the cost of one Add, the agent's per-reading tap.
func BenchmarkAdd(b *testing.B) {
	h, err := New(Options{Device: dev, Now: func() time.Time { return t0 }, Window: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	var rs []reading.Reading
	day(func(r reading.Reading) { rs = append(rs, r) })
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := rs[i%len(rs)]
		r.Seq = uint64(i + 1)
		h.Add(r)
	}
}

// BenchmarkQuery is what the dashboard asks on opening, the newest 3000
// readings, and an hour of them, from a full day.
func BenchmarkQuery(b *testing.B) {
	c := &clock{t: t0.Add(24 * time.Hour)}
	h, err := New(Options{Device: dev, Now: c.now, Window: 25 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	day(h.Add)
	for _, bc := range []struct {
		name string
		q    store.Query
		want int
	}{
		{"limit3000", store.Query{Limit: 3000}, 3000},
		{"hour", store.Query{Since: t0.Add(12 * time.Hour), Until: t0.Add(13*time.Hour - time.Millisecond)}, 36000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				h.HistoryPages(context.Background(), dev, bc.q, func(p [][]byte) error { n += len(p); return nil })
				if n != bc.want {
					b.Fatalf("%d readings, want %d", n, bc.want)
				}
			}
		})
	}
}
