package sensors

import (
	"context"
	"time"

	"github.com/tributary-iot/tributary/internal/backoff"
)

// Sleep waits d, or until ctx ends and then returns ctx's error, unwrapped:
// the wait between a command and a chip's answer, whose error a driver
// wraps to say what it waited for. An ended ctx returns its error at once,
// whatever d.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	if !backoff.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}
