package cli

import (
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/store"
)

// QuietRedis sends go-redis's own log lines (a process-wide setting) to
// stderr at debug level, shown only when level lets debug through: during
// an outage they repeat several times a second, and every binary already
// reports outages itself, rate-limited.
func QuietRedis(level slog.Leveler) {
	redis.SetLogger(store.RedisLogger{Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
}
