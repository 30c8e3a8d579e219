// Package flock gives a process sole use of a directory through a lock
// file: the kernel releases the lock when the process dies, so a crash
// never leaves it stale. The agent uses it for its seq lease and its spool.
package flock

import "errors"

// ErrLocked means another process holds the lock.
var ErrLocked = errors.New("locked by another process")
