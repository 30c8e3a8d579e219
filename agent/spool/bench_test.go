package spool

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// BenchmarkPush measures Push under each fsync policy, with batches of 1
// and 10 readings, from 1 and 4 concurrent pushers (whose fsyncs the group
// commit shares under SyncAlways). One op is one Push; readings/s is the
// throughput.
func BenchmarkPush(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		for _, batch := range []int{1, 10} {
			for _, pushers := range []int{1, 4} {
				b.Run(fmt.Sprintf("sync=%s/batch=%d/pushers=%d", policy, batch, pushers), func(b *testing.B) {
					s, err := Open(b.TempDir(), Options{Sync: policy, MaxBytes: -1, MaxAge: -1})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					rs := make([][]reading.Reading, pushers)
					for p := range rs {
						rs[p] = rds(200, 200+uint64(batch)-1)
					}
					b.ResetTimer()
					start := time.Now()
					var wg sync.WaitGroup
					for p := range pushers {
						wg.Go(func() {
							for i := p; i < b.N; i += pushers {
								s.Push(rs[p])
							}
						})
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					st := s.Stats()
					b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "readings/s")
					if st.Fsyncs > 0 {
						b.ReportMetric(float64(b.N)/float64(st.Fsyncs), "pushes/fsync")
					}
				})
			}
		}
	}
}

// BenchmarkDrain measures Peek and Commit of batches of 500 (the agent's
// default) through a backlog of 1M readings on disk, after a reopen, so
// that every reading is read from disk. open-ms is the recovery scan of
// that backlog.
func BenchmarkDrain(b *testing.B) {
	const backlog = 1000000
	ctx := context.Background()
	var opened time.Duration
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		s, err := Open(dir, Options{Sync: SyncNever, MaxBytes: -1, MaxAge: -1})
		if err != nil {
			b.Fatal(err)
		}
		for q := 0; q < backlog; q += 1000 {
			s.Push(rds(200, 1199))
		}
		s.Close()
		start := time.Now()
		s, err = Open(dir, Options{Sync: SyncInterval, MaxBytes: -1, MaxAge: -1})
		if err != nil {
			b.Fatal(err)
		}
		opened += time.Since(start)
		b.StartTimer()
		for n := 0; n < backlog; {
			rs, err := s.Peek(ctx, 500)
			if err != nil {
				b.Fatal(err)
			}
			n += len(rs)
			s.Commit(len(rs))
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(b.N*backlog)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(opened.Milliseconds())/float64(b.N), "open-ms")
}

// BenchmarkLive measures the live case: Push 10, Peek and Commit them,
// served from memory. One op is one round.
func BenchmarkLive(b *testing.B) {
	s, err := Open(b.TempDir(), Options{MaxBytes: -1, MaxAge: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := rds(200, 209)
	ctx := context.Background()
	for b.Loop() {
		s.Push(rs)
		got, _ := s.Peek(ctx, 500)
		s.Commit(len(got))
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "readings/s")
}
