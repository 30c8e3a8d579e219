//go:build !unix

package flock

import "os"

// TryLock opens path but does not lock it where flock(2) is missing; the
// agent runs on Linux, where flock_unix.go applies.
func TryLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
