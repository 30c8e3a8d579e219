package latency

import (
	"slices"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	if got := Seconds(now.Add(-1500*time.Millisecond), now); got != 1.5 {
		t.Errorf("1.5s ago: %v", got)
	}
	if got := Seconds(now.Add(time.Second), now); got != 0 {
		t.Errorf("a time ahead (clocks apart): %v, want 0", got)
	}
	if !slices.IsSorted(Buckets) || Buckets[0] != .001 || Buckets[len(Buckets)-1] != 86400 {
		t.Errorf("buckets %v", Buckets)
	}
}
