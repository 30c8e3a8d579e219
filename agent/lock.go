package agent

import (
	"errors"
	"fmt"
	"os"

	"github.com/tributary-iot/tributary/internal/flock"
)

// lockState locks path (created if missing), so that two agents can never
// share a device's seq lease: they would hand out the same numbers, and
// Redis would drop one of each pair as a repeat.
func lockState(path string) (*os.File, error) {
	f, err := flock.TryLock(path)
	if errors.Is(err, flock.ErrLocked) {
		return nil, fmt.Errorf("agent: another agent is running with this device and state dir (%s is locked)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("agent: state lock: %w", err)
	}
	return f, nil
}
