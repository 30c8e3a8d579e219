// Command edge is Tributary's edge agent: it samples sensors (or simulated
// ones) and sends each reading to Redis. See `edge --help` and
// edge.example.yaml.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	// go-redis's own reconnect lines would flood the log during an outage;
	// the agent reports it, rate-limited.
	redis.SetLogger(store.RedisLogger{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
