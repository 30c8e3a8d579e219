// Package cli is what Tributary's binaries share around their flags: the
// connection flags of Redis, MQTT and HTTPS, the log level, signal
// handling and the private metrics server. Packages below cmd/ never
// import it; flags are parsed only in cmd/.
package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that ends at the first SIGINT or
// SIGTERM, for an orderly shutdown; a second signal kills the process at
// once (the default action is restored after the first). Call stop when
// the program is done with signals.
func SignalContext(parent context.Context) (ctx context.Context, stop context.CancelFunc) {
	ctx, stop = signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restores the default action: a second signal kills
	}()
	return ctx, stop
}
