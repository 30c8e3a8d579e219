// Command edge is Tributary's edge agent: it samples sensors (or simulated
// ones) and sends each reading to Redis. See `edge --help` and
// edge.example.yaml.
package main

import (
	"log/slog"

	"github.com/tributary-iot/tributary/internal/cli"
)

func main() { cli.Main("edge", slog.LevelInfo, run) }
