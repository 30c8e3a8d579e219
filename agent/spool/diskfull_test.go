package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDiskFull fills a real file system: the test binary runs again in a
// new user and mount namespace (unprivileged, as the caller's uid mapped to
// root), mounts a 256 KiB tmpfs on a temporary directory, fills it and
// checks that ENOSPC is reported, not fatal, that readings wait in memory
// up to MemoryLimit and are dropped beyond it by the Full policy, and that
// they are written once there is room again.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		full    FullPolicy
		segSize int // 1 KiB: ENOSPC when creating a segment; 64 KiB: within one
	}{{DropOldest, 1 << 10}, {DropNewest, 1 << 10}, {DropOldest, 64 << 10}, {DropNewest, 64 << 10}} {
		t.Run(fmt.Sprintf("%s/segment=%d", tc.full, tc.segSize), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD=diskfull", "SPOOL_DIR="+t.TempDir(),
				"SPOOL_FULL="+string(tc.full), "SPOOL_SEGSIZE="+strconv.Itoa(tc.segSize))
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
				UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
				GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
				GidMappingsEnableSetgroups: false,
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "diskfull: ok") {
				t.Fatalf("child in a user namespace with a small tmpfs (needs unprivileged user namespaces, as on stock Linux): %v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// diskFullChild is the part of TestDiskFull that runs in the namespace.
func diskFullChild() error {
	dir, full := os.Getenv("SPOOL_DIR"), FullPolicy(os.Getenv("SPOOL_FULL"))
	segSize, err := strconv.ParseInt(os.Getenv("SPOOL_SEGSIZE"), 10, 64)
	if err != nil {
		return err
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	const memLimit = 300
	opt := Options{SegmentSize: segSize, MemoryLimit: memLimit, Full: full, MaxAge: -1, Sync: SyncAlways}
	s, err := Open(dir, opt)
	if err != nil {
		return err
	}
	filler := filepath.Join(dir, "filler")
	if err := fill(filler); err != nil {
		return err
	}

	dropped := 0
	for q := uint64(200); q < 1200; q++ {
		dropped += s.Push(rds(q, q))
	}
	st := s.Stats()
	written := st.Readings - st.Overflow
	fmt.Printf("disk full: %d readings written, %d in memory, %d dropped, %d write errors, last: %v\n", written, st.Overflow, dropped, st.WriteErrors, st.LastError)
	switch {
	case st.WriteErrors == 0 || !errors.Is(st.LastError, syscall.ENOSPC):
		return fmt.Errorf("write errors %d, last %v; want ENOSPC reported", st.WriteErrors, st.LastError)
	case st.Overflow != memLimit:
		return fmt.Errorf("%d readings wait in memory, want MemoryLimit (%d)", st.Overflow, memLimit)
	case dropped != 1000-written-memLimit || st.Dropped[ReasonDiskFull] != uint64(dropped) || st.Readings != 1000-dropped:
		return fmt.Errorf("dropped %d (Stats %v), %d queued; want %d dropped as disk_full", dropped, st.Dropped, st.Readings, 1000-written-memLimit)
	}
	want := span64(200, 200+uint64(written)-1)
	if full == DropOldest {
		want = append(want, span64(1200-memLimit, 1199)...)
	} else {
		want = append(want, span64(200+uint64(written), 200+uint64(written)+memLimit-1)...)
	}

	// The sender goes on while the disk is full, from memory.
	ctx := context.Background()
	batch, err := s.Peek(ctx, written+20)
	if err != nil || !slices.Equal(seqs(batch), want[:written+20]) {
		return fmt.Errorf("Peek with the disk full = %v, %v; want %v", seqs(batch), err, want[:written+20])
	}
	s.Commit(len(batch))
	want = want[len(batch):]

	// Room again: the next Push writes everything, in order.
	if err := os.Remove(filler); err != nil {
		return err
	}
	errs := st.WriteErrors
	if d := s.Push(rds(1200, 1200)); d != 0 {
		return fmt.Errorf("Push after freeing space dropped %d", d)
	}
	want = append(want, 1200)
	if st := s.Stats(); st.Overflow != 0 || st.WriteErrors != errs || st.Readings != len(want) {
		return fmt.Errorf("after freeing space: %d in memory, %d write errors (before %d; last %v), %d queued; want 0, %d, %d", st.Overflow, st.WriteErrors, errs, st.LastError, st.Readings, errs, len(want))
	}
	if err := s.Close(); err != nil {
		return err
	}
	s, err = Open(dir, opt)
	if err != nil {
		return err
	}
	got, _ := s.Peek(ctx, 1<<20)
	if !slices.Equal(seqs(got), want) {
		return fmt.Errorf("after reopening: %v\nwant %v", seqs(got), want)
	}

	// Closing while the disk refuses readings loses them, counted.
	if err := fill(filler); err != nil {
		return err
	}
	s.Push(rds(1201, 1300))
	st = s.Stats()
	if err := s.Close(); err == nil {
		return errors.New("Close with readings the disk refused returned no error")
	}
	after := s.Stats()
	if st.Overflow == 0 || after.Dropped[ReasonDiskFull] != st.Dropped[ReasonDiskFull]+uint64(st.Overflow) {
		return fmt.Errorf("Close with %d readings in memory: Dropped[disk_full] %d -> %d", st.Overflow, st.Dropped[ReasonDiskFull], after.Dropped[ReasonDiskFull])
	}
	// The count survives the restart, although the disk was full when
	// Close counted them: the cursor's slots were allocated at Open.
	s, err = Open(dir, opt)
	if err != nil {
		return err
	}
	defer s.Close()
	if got := s.Stats().Dropped[ReasonDiskFull]; got != after.Dropped[ReasonDiskFull] {
		return fmt.Errorf("after a restart Dropped[disk_full] = %d; before it %d (%d of them at Close with the disk full)", got, after.Dropped[ReasonDiskFull], st.Overflow)
	}
	fmt.Printf("disk full at Close: %d readings lost, %d disk_full in all, the same after a restart\n", st.Overflow, after.Dropped[ReasonDiskFull])
	return nil
}

// fill writes path until the file system is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return fmt.Errorf("fill: %w", err)
		}
	}
}
