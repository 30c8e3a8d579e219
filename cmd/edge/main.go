// Command edge is Tributary's edge agent: it samples sensors (or simulated
// ones) and sends each reading to Redis. See `edge --help` and
// edge.example.yaml.
package main

import (
	"log/slog"

	"github.com/tributary-iot/tributary/internal/cli"
)

func main() { cli.Main("edge", &redisLogLevel, run) }

// redisLogLevel filters go-redis's own log lines (set once by run, for the
// whole process): they show with --log-level debug.
var redisLogLevel slog.LevelVar
