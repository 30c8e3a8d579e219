package proctest

import (
	"flag"
	"testing"
)

// SkipShort skips the test under -short, saying it needs what (an external
// program, e.g. "redis-server").
func SkipShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: needs " + what)
	}
}

// Short reports whether -short is set. Unlike testing.Short it may be called
// from TestMain before m.Run: it parses the test flags first if nobody has
// (m.Run then leaves them as they are).
func Short() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}
