package spool

import (
	"errors"
	"fmt"
	"os"

	"github.com/tributary-iot/tributary/internal/flock"
)

// lockDir locks path (created if missing), so that two agents never share a
// spool: both would append to it and each would send, and commit, the
// other's readings.
func lockDir(path string) (*os.File, error) {
	f, err := flock.TryLock(path)
	if errors.Is(err, flock.ErrLocked) {
		return nil, fmt.Errorf("%w (%s is locked by another process: another agent uses this spool)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: lock file: %w", err)
	}
	return f, nil
}
