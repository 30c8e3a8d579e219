package agent

import (
	"os"
	"testing"
	"time"
)

// TestStateWritten: the newest write of the seq lease and the boot count,
// zero without state.
func TestStateWritten(t *testing.T) {
	dir := t.TempDir()
	if got := stateWritten(dir, "pi-1"); !got.IsZero() {
		t.Fatalf("no state: %v, want zero", got)
	}
	lease, boot := time.Now().Add(time.Hour).Truncate(time.Second), time.Now().Add(-time.Hour).Truncate(time.Second)
	for path, at := range map[string]time.Time{seqPath(dir, "pi-1"): lease, bootPath(dir, "pi-1"): boot, seqPath(dir, "pi-2"): lease.Add(time.Hour)} {
		if err := os.WriteFile(path, []byte("1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	if got := stateWritten(dir, "pi-1"); !got.Equal(lease) {
		t.Fatalf("stateWritten = %v, want the lease's %v", got, lease)
	}
}
