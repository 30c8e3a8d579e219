// Command bridge is Tributary's MQTT bridge on its own: it subscribes to
// the edge agents' topics on an MQTT broker and stores every reading in
// Redis through the same idempotent ingest as the direct path (package
// bridge). `cloud --mqtt URL` runs the same bridge inside the cloud.
//
// Several bridges may share the load with --group (MQTT shared
// subscriptions); run each as a broker user of its own (--mqtt-username):
// its client id is its user name.
package main

import (
	"log/slog"

	_ "time/tzdata" // mappings' time_zone without the system's zoneinfo

	"github.com/tributary-iot/tributary/internal/cli"
)

func main() { cli.Main("bridge", &redisLogLevel, run) }

// redisLogLevel filters go-redis's own log lines (set once by main, for the
// whole process): they show with --log-level debug.
var redisLogLevel slog.LevelVar
