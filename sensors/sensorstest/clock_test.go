package sensorstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

func TestClock(t *testing.T) {
	var c sensorstest.Clock
	if got := c.Now(); !got.Equal(sensorstest.DefaultStart) {
		t.Errorf("zero Clock reads %v, want DefaultStart", got)
	}
	c.Advance(time.Second)
	if err := c.Sleep(context.Background(), 15*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(sensorstest.DefaultStart); got != time.Second+15*time.Millisecond {
		t.Errorf("moved %v, want 1.015s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep with an ended context: %v, want context.Canceled", err)
	}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := (&sensorstest.Clock{Start: start}).Now(); !got.Equal(start) {
		t.Errorf("Clock{Start} reads %v, want %v", got, start)
	}
	back := start.Add(-time.Hour) // a clock stepped back
	c.Set(back)
	if got := c.Now(); !got.Equal(back) {
		t.Errorf("after Set(%v) the clock reads %v", back, got)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(back.Add(time.Minute)) {
		t.Errorf("Set then Advance: %v", got)
	}
}
