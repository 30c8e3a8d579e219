package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClockPolicies(t *testing.T) {
	dir := t.TempDir()
	ready, floor, err := ClockPolicy(ClockAuto, dir, "pi-1")
	if err != nil || !ready() || floor.Before(minFloor) {
		t.Fatalf("auto with no state: ready %v, floor %v, err %v", ready(), floor, err)
	}
	// The agent wrote its lease an hour from now (by this clock): the clock
	// has been set back behind what the agent stamped, so it is not trusted.
	lease := filepath.Join(dir, "pi-1.seq")
	if err := os.WriteFile(lease, []byte("1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ahead := time.Now().Add(time.Hour)
	if err := os.Chtimes(lease, ahead, ahead); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ClockAuto, ClockKernel} {
		ready, floor, err := ClockPolicy(p, dir, "pi-1")
		if err != nil || ready() || !floor.Equal(ahead.Truncate(time.Second)) && floor.Before(ahead.Add(-time.Second)) {
			t.Fatalf("%s with a lease written an hour ahead: ready %v, floor %v, err %v", p, ready(), floor, err)
		}
	}
	if ready, _, err := ClockPolicy(ClockTrust, dir, "pi-1"); err != nil || !ready() {
		t.Fatalf("trust: ready %v, err %v", ready(), err)
	}
	if _, _, err := ClockPolicy("ntp", dir, "pi-1"); err == nil {
		t.Fatal("an unknown policy was accepted")
	}
}
