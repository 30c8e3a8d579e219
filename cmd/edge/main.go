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

	"github.com/tributary-iot/tributary/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	defer stop()
	cli.QuietRedis(slog.LevelInfo)
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
