package agent

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestSeqLease(t *testing.T) {
	dir := t.TempDir()
	s, err := loadSeq(dir, "dev", 10)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.take(3)
	if err != nil || first != 1 {
		t.Fatalf("take(3) = %d, %v; want 1", first, err)
	}
	if b, _ := os.ReadFile(seqPath(dir, "dev")); string(b) != "13\n" {
		t.Fatalf("lease file %q, want 13 (3 taken + lease of 10)", b)
	}
	first, _ = s.take(12) // 4..15 goes past the lease end 13
	if first != 4 {
		t.Fatalf("take(12) = %d, want 4", first)
	}
	if b, _ := os.ReadFile(seqPath(dir, "dev")); string(b) != "25\n" {
		t.Fatalf("lease file %q, want 25", b)
	}

	// A second agent on the same device and state dir is refused while the
	// first runs: it would hand out the same numbers.
	if _, err := loadSeq(dir, "dev", 10); err == nil || !strings.Contains(err.Error(), "another agent is running") {
		t.Fatalf("second lease while the first is held: %v", err)
	}

	// A crash: the kernel drops the dead process's lock, nothing is
	// persisted. Nothing handed out is reused; at most a lease is skipped.
	s.lock.Close()
	c, err := loadSeq(dir, "dev", 10)
	if err != nil {
		t.Fatal(err)
	}
	first, _ = c.take(1)
	if first <= 15 || first > 15+10+1 {
		t.Fatalf("after a crash the next seq is %d; want above 15, skipping at most a lease", first)
	}
	// A clean stop skips nothing.
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	d, _ := loadSeq(dir, "dev", 10)
	if next, _ := d.take(1); next != first+1 {
		t.Fatalf("after a clean stop the next seq is %d, want %d", next, first+1)
	}
	// Leases are per device.
	e, _ := loadSeq(dir, "other", 10)
	if next, _ := e.take(1); next != 1 {
		t.Fatalf("another device starts at %d, want 1", next)
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if strings.Contains(en.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", en.Name())
		}
	}
}

func TestSeqLeaseCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(seqPath(dir, "dev"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSeq(dir, "dev", 10); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt lease: err = %v, want one saying corrupt", err)
	}
}

// TestSeqNeverWraps: past the largest seq the lease fails rather than hand
// out 0 (an invalid seq) or numbers already used; a resume after a seq that
// leaves no room is declined.
func TestSeqNeverWraps(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(seqPath(dir, "dev"), []byte("18446744073709551612\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := loadSeq(dir, "dev", 1000)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.take(3)
	if err != nil || first != math.MaxUint64-2 {
		t.Fatalf("take(3) = %d, %v; want %d", first, err, uint64(math.MaxUint64-2))
	}
	for _, n := range []int{1, 2} {
		if got, err := s.take(n); err == nil {
			t.Fatalf("take(%d) past the largest seq = %d", n, got)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(seqPath(dir, "dev")); string(b) != "18446744073709551615\n" {
		t.Fatalf("lease file %q after the largest seq", b)
	}

	fresh, err := loadSeq(t.TempDir(), "dev", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.close()
	if fresh.resumeAfter(math.MaxUint64) || fresh.resumeAfter(math.MaxUint64-1000) {
		t.Fatal("resumed after a seq that leaves no room")
	}
	if first, err := fresh.take(1); err != nil || first != 1 {
		t.Fatalf("take(1) = %d, %v; want 1", first, err)
	}
}
