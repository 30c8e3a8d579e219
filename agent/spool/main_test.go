package spool

import (
	"fmt"
	"os"
	"testing"
)

// Child processes: some tests re-execute the test binary with
// SPOOL_TEST_CHILD set, to be killed (kill_test.go) or to run inside a user
// namespace on a small tmpfs (diskfull_test.go).
func TestMain(m *testing.M) {
	switch mode := os.Getenv("SPOOL_TEST_CHILD"); mode {
	case "":
		os.Exit(m.Run())
	case "pusher":
		err := pusherChild()
		fmt.Fprintln(os.Stderr, "pusher:", err)
		os.Exit(1)
	case "writer":
		err := writerChild()
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	case "diskfull":
		if err := diskFullChild(); err != nil {
			fmt.Fprintln(os.Stderr, "diskfull:", err)
			os.Exit(1)
		}
		fmt.Println("diskfull: ok")
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown SPOOL_TEST_CHILD", mode)
		os.Exit(2)
	}
}
