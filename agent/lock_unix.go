//go:build unix

package agent

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockState takes an exclusive, non-blocking lock on path (created if
// missing), so that two agents can never share a device's seq lease: they
// would hand out the same numbers, and Redis would drop one of each pair as
// a repeat. The kernel releases the lock if the process dies.
func lockState(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("agent: another agent is running with this device and state dir (%s is locked)", path)
		}
		return nil, fmt.Errorf("agent: lock %s: %w", path, err)
	}
	return f, nil
}
