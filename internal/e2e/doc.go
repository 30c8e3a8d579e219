// Package e2e holds the end-to-end tests: the real edge, cloud and bridge
// binaries, built once on first use (internal/proctest), run as processes
// against a real redis-server (or the cloud's embedded one) and a real
// mosquitto, watched by real WebSocket clients and headless Chromium.
//
// The fault tests (faults_test.go) break things under load and count every
// reading: Redis stopped for 30 s (TRIBUTARY_FAULT_OUTAGE changes it),
// mosquitto stopped, the bridge and the agent killed with SIGKILL, a spool
// over its limit. Each asserts zero missing and zero duplicated readings
// where the promise holds, and exact drop counts where it does not.
// commands_test.go and commands_faults_test.go send commands to the
// simulated actuators of real edges as an operator signed in to the cloud,
// through Redis and through mosquitto and the bridge, and check what the
// audit, the WebSocket, the edge's metrics and the state readings in
// history say: round trips, a viewer refused, deadlines, repeats,
// interlocks and the safe state after an uplink outage.
// prometheus_test.go runs a real Prometheus (the Debian package) scraping
// a cloud, a bridge and two edges with the shipped alert rules loaded, and
// checks every PromQL expression of the Grafana dashboards and the rules
// against what the binaries export.
// arm_test.go runs the cross-built ARM agents under qemu-user (make
// test-arm). Under -short (make test-unit) every test here skips.
package e2e
