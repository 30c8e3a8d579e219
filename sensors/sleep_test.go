package sensors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors"
)

func TestSleep(t *testing.T) {
	if err := sensors.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sensors.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep with an ended context: %v, want context.Canceled at once", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := sensors.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || sensors.ErrorKind(err) != "timeout" {
		t.Errorf("Sleep past the deadline: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("Sleep returned after %s, not at the deadline", d)
	}
}
