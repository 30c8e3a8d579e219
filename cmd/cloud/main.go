// Command cloud is Tributary's cloud service: it reads readings from Redis
// and serves the dashboard, the live WebSocket stream, the REST API,
// metrics and health checks. See "Cloud API" in the README.
//
// Without --redis (or REDIS_URL) it runs an embedded, in-memory Redis, so
// that it needs nothing else to try out.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	_ "time/tzdata" // the bridge's mappings may name time zones; a container may have none

	"github.com/tributary-iot/tributary/internal/cli"
)

func main() { cli.Main("cloud", &redisLogLevel, run) }

// run is the whole program: it parses args, serves until ctx is done, and
// shuts down within the shutdown timeout. --help and --version print to
// stdout; logs go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, stdout)
	}
	cfg, err := parseFlags(args, stdout, os.Getenv)
	if err != nil || cfg == nil {
		return err // nil config: --version or --help was answered
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	redisLogLevel.Set(cfg.logLevel)
	return serve(ctx, *cfg, log, func(l listening) {
		fmt.Fprintf(stdout, "Tributary dashboard: %s\n", l.URL)
	})
}

// redisLogLevel filters go-redis's own log lines (set once by main, for the
// whole process): they show with --log-level debug.
var redisLogLevel slog.LevelVar
