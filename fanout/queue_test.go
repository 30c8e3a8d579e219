package fanout

import "testing"

// TestTakeOldest: take says the earliest time of the readings it took,
// whatever their order, leaving out readings without one and frames.
func TestTakeOldest(t *testing.T) {
	q := newQueue(10)
	for _, it := range []item{
		{data: []byte("r1"), ts: 30},
		{data: []byte("r2")},
		{data: []byte("r3"), ts: 10},
		{data: []byte("r4"), ts: 20},
		{data: []byte("status"), frame: true},
		{data: []byte("r5")},
	} {
		q.push(it)
	}
	for _, want := range []struct {
		n      int
		frame  bool
		oldest int64
	}{{4, false, 10}, {1, true, 0}, {1, false, 0}, {0, false, 0}} {
		got, frame, oldest := q.take(nil, 100, 1<<20)
		if len(got) != want.n || frame != want.frame || oldest != want.oldest {
			t.Errorf("take = %d items, frame %v, oldest %d; want %+v", len(got), frame, oldest, want)
		}
	}
	// A frame cut short by maxItems says the oldest of what it took.
	q.push(item{data: []byte("a"), ts: 5})
	q.push(item{data: []byte("b"), ts: 1})
	if got, _, oldest := q.take(nil, 1, 1<<20); len(got) != 1 || oldest != 5 {
		t.Errorf("take 1 = %d items, oldest %d; want 1, 5", len(got), oldest)
	}
}
