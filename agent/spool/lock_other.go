//go:build !unix

package spool

import "os"

// lockDir does not lock where flock(2) is missing; the agent runs on Linux,
// where lock_unix.go applies.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
