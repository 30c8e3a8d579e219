package spool

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// t0 is the time of reading seq 0 in tests.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// rd is a test reading; its record size is the same for every seq from 128
// to 16383.
func rd(seq uint64) reading.Reading {
	return reading.Reading{Device: "greenhouse-1", Sensor: "bme280", Metric: "temperature",
		Value: 20 + float64(seq%100)/10, Unit: "Cel", Time: t0.Add(time.Duration(seq) * time.Second), Seq: seq}
}

func rds(from, to uint64) []reading.Reading {
	var out []reading.Reading
	for s := from; s <= to; s++ {
		out = append(out, rd(s))
	}
	return out
}

func seqs(rs []reading.Reading) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func span64(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// sameReading compares every field, the value by its bits.
func sameReading(a, b reading.Reading) bool {
	return a.Device == b.Device && a.Sensor == b.Sensor && a.Metric == b.Metric && a.Unit == b.Unit &&
		math.Float64bits(a.Value) == math.Float64bits(b.Value) && a.Time.Equal(b.Time) && a.Seq == b.Seq
}

// testOpts are options for tests: no age limit (test readings are from
// 2026), quiet.
func testOpts(o Options) Options {
	if o.MaxAge == 0 {
		o.MaxAge = -1
	}
	return o
}

func mustOpen(t testing.TB, dir string, opt Options) *Spool {
	t.Helper()
	s, err := Open(dir, testOpts(opt))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// peekAll returns everything queued without committing it.
func peekAll(t testing.TB, s *Spool) []reading.Reading {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rs, err := s.Peek(ctx, 1<<30)
	if err != nil && len(rs) == 0 && s.Len() > 0 {
		t.Fatalf("Peek with %d queued: %v", s.Len(), err)
	}
	return rs
}

// drain peeks and commits batches of batch until the spool is empty and
// returns what it got.
func drain(t testing.TB, s *Spool, batch int) []reading.Reading {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []reading.Reading
	for {
		rs, _ := s.Peek(ctx, batch)
		if len(rs) == 0 {
			return out
		}
		out = append(out, rs...)
		s.Commit(len(rs))
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
