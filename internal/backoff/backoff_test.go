package backoff

import (
	"context"
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: 30 * time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{8, 25600 * time.Millisecond},
		{9, 30 * time.Second},
		{62, 30 * time.Second},
		{1 << 30, 30 * time.Second},
	} {
		if got := p.Ceiling(tc.attempt); got != tc.want {
			t.Errorf("Ceiling(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	if got := (Policy{Min: time.Second}).Ceiling(3); got != time.Second {
		t.Errorf("Max below Min: Ceiling = %v, want Min", got)
	}
	if got := (Policy{}).Delay(5); got != 0 {
		t.Errorf("zero Policy: Delay = %v, want 0", got)
	}
}

// TestDelayFullJitter checks the bounds and that the draws spread over the
// whole range rather than sitting near the ceiling.
func TestDelayFullJitter(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	for attempt := range 8 {
		c := p.Ceiling(attempt)
		var low, high bool
		for range 2000 {
			d := p.Delay(attempt)
			if d < 0 || d > c {
				t.Fatalf("Delay(%d) = %v, outside [0, %v]", attempt, d, c)
			}
			low = low || d < c/4
			high = high || d > c*3/4
		}
		if !low || !high {
			t.Errorf("Delay(%d): 2000 draws never below %v or never above %v", attempt, c/4, c*3/4)
		}
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep with a live context = false")
	}
	if !Sleep(context.Background(), 0) {
		t.Error("Sleep(0) with a live context = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep with an ended context = true")
	}
	if Sleep(ctx, 0) {
		t.Error("Sleep(0) with an ended context = true")
	}
}
