// Package fanouttest helps test what serves or reads the WebSocket fan-out:
// a [Client] whose frames a goroutine reads, a [Dialer] for it, a [Server]
// that serves a hub as the web package does, and a [LogRecorder].
//
// Every wait fails the test after [Timeout].
package fanouttest

import "time"

// Timeout bounds every wait of this package.
const Timeout = 10 * time.Second
