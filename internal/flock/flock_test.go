//go:build unix

package flock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTryLock takes the lock here and tries it from another process (flock
// locks are per open file, so a second TryLock in this process would also
// fail, but only another process shows what the agent relies on).
func TestTryLock(t *testing.T) {
	if os.Getenv("FLOCK_CHILD") != "" {
		_, err := TryLock(os.Getenv("FLOCK_CHILD"))
		if errors.Is(err, ErrLocked) {
			os.Exit(3)
		}
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "lock")
	f, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	child := func() int {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTryLock$")
		cmd.Env = append(os.Environ(), "FLOCK_CHILD="+path)
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := child(); code != 3 {
		t.Errorf("another process took a held lock (exit %d, want 3)", code)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("second TryLock = %v, want ErrLocked naming the path", err)
	}
	f.Close()
	if code := child(); code != 0 {
		t.Errorf("the lock was not free after Close (exit %d)", code)
	}
	if _, err := TryLock(filepath.Join(path, "not-a-dir", "lock")); err == nil || errors.Is(err, ErrLocked) {
		t.Errorf("TryLock under a file = %v, want an open error", err)
	}
}
