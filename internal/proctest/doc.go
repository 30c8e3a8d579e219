// Package proctest runs the external processes of tests: servers such as
// redis-server and mosquitto on a free loopback port (start, await ready,
// stop, kill, restart on the same port), the project's own binaries built
// once per test binary, and the output of both, kept as lines a test can
// await.
//
// Everything that needs an external program calls SkipShort first, so
// `go test -short` (make test-unit) runs no external process. Without
// -short a missing program fails the test: `make test` installs them.
package proctest
