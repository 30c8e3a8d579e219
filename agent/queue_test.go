package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

func seqs(rs []reading.Reading) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func numbered(from, to uint64) []reading.Reading {
	var rs []reading.Reading
	for s := from; s <= to; s++ {
		rs = append(rs, reading.Reading{Seq: s})
	}
	return rs
}

func TestMemQueueDropsOldestNotInFlight(t *testing.T) {
	q := NewMemQueue(5)
	ctx := context.Background()
	if d := q.Push(numbered(1, 3)); d != 0 {
		t.Fatalf("dropped %d pushing 3 into 5", d)
	}
	got, err := q.Peek(ctx, 2)
	if err != nil || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("Peek = %v, %v; want seqs 1,2", seqs(got), err)
	}
	// 3 queued, 2 in flight; pushing 4 more overflows by 2: 3 and 4 go.
	if d := q.Push(numbered(4, 7)); d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
	if q.Len() != 5 {
		t.Fatalf("Len = %d, want 5", q.Len())
	}
	got, _ = q.Peek(ctx, 10)
	if want := []uint64{1, 2, 5, 6, 7}; !equal(seqs(got), want) {
		t.Fatalf("queue holds %v, want %v", seqs(got), want)
	}
	q.Commit(5)
	if q.Len() != 0 {
		t.Fatalf("Len after Commit = %d", q.Len())
	}
	// Everything in flight and full: the pushed reading itself is dropped.
	q.Push(numbered(8, 12))
	q.Peek(ctx, 5)
	if d := q.Push(numbered(13, 13)); d != 1 {
		t.Fatalf("dropped %d with all in flight, want 1", d)
	}
	got, _ = q.Peek(ctx, 10)
	if want := []uint64{8, 9, 10, 11, 12}; !equal(seqs(got), want) {
		t.Fatalf("queue holds %v, want %v", seqs(got), want)
	}
	q.Commit(2)
	got, _ = q.Peek(ctx, 10)
	if want := []uint64{10, 11, 12}; !equal(seqs(got), want) {
		t.Fatalf("after Commit(2) queue holds %v, want %v", seqs(got), want)
	}
}

func TestMemQueuePeekWaits(t *testing.T) {
	q := NewMemQueue(0)
	if q.Cap() != DefaultQueueSize {
		t.Fatalf("Cap = %d, want the default %d", q.Cap(), DefaultQueueSize)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Peek(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Peek on an empty queue with an ended context: %v", err)
	}
	got := make(chan []reading.Reading)
	go func() {
		rs, _ := q.Peek(context.Background(), 10)
		got <- rs
	}()
	q.Push(numbered(1, 2))
	select {
	case rs := <-got:
		if !equal(seqs(rs), []uint64{1, 2}) {
			t.Fatalf("Peek woke with %v", seqs(rs))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Peek did not wake on Push")
	}
	// Queued readings are returned even when ctx has ended (the flush).
	if rs, err := q.Peek(ctx, 10); err != nil || len(rs) != 2 {
		t.Fatalf("Peek with an ended context on a full queue = %v, %v", seqs(rs), err)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
