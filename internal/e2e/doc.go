// Package e2e holds the end-to-end tests: the real edge and cloud binaries,
// built by TestMain, run as processes against a real redis-server (or the
// cloud's embedded one), watched by real WebSocket clients.
package e2e
