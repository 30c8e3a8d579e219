package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tributary-iot/tributary/internal/durable"
)

// DefaultLeaseSize is how many sequence numbers one lease covers.
const DefaultLeaseSize = 1000

// seqLease hands out a device's sequence numbers, persisting a lease before
// handing out numbers under it. It is not safe for concurrent use; the agent
// calls it under its lock.
type seqLease struct {
	path string
	size uint64
	next uint64   // next number to hand out
	end  uint64   // highest number the file allows handing out
	lock *os.File // held from loadSeq to close
	// fresh is true when no lease file existed: the device is new, or its
	// state was lost.
	fresh bool
}

// seqPath is the lease file of device in dir.
func seqPath(dir, device string) string { return filepath.Join(dir, device+".seq") }

// loadSeq reads the lease of device from dir. A missing file starts at 1; an
// unreadable or corrupt one is an error, since guessing could reuse numbers.
// It locks the lease against other agents until close.
func loadSeq(dir, device string, size uint64) (*seqLease, error) {
	s := &seqLease{path: seqPath(dir, device), size: size}
	lock, err := lockState(filepath.Join(dir, device+".lock"))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.fresh = true
	case err != nil:
		lock.Close()
		return nil, fmt.Errorf("agent: read seq lease: %w", err)
	default:
		end, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			lock.Close()
			return nil, fmt.Errorf("agent: seq lease %s is corrupt (%q); to start over, move it away knowing that seqs may repeat: %w", s.path, b, perr)
		}
		s.end = end
	}
	s.next = s.end + 1
	s.lock = lock
	return s, nil
}

// maxResume is the highest last seq a fresh lease resumes after: above it,
// too few seqs are left for a device's life (and the uplink's figure is
// more likely a corrupt or hostile one). The store takes new readings from
// a device whose seqs restart lower (see store.Ingest).
const maxResume = math.MaxUint64 / 2

// resumeAfter makes a fresh lease hand out numbers after last. It reports
// false, and changes nothing, when last is above maxResume.
func (s *seqLease) resumeAfter(last uint64) bool {
	if last > maxResume {
		return false
	}
	if last >= s.next {
		s.end, s.next = last, last+1
	}
	return true
}

// errSeqExhausted: the lease would pass the largest seq.
var errSeqExhausted = errors.New("agent: seqs exhausted: the lease would pass 2^64-1; move the seq lease away to start over")

// take returns the first of n consecutive new numbers, extending and
// persisting the lease first if they are not all under it. Seqs never wrap
// around to 0: past the largest, take fails.
func (s *seqLease) take(n int) (uint64, error) {
	if n < 1 || s.next == 0 || uint64(n)-1 > math.MaxUint64-s.next {
		return 0, errSeqExhausted
	}
	last := s.next + uint64(n) - 1
	if last > s.end {
		end := math.MaxUint64 - last
		end = last + min(end, s.size)
		if err := s.persist(end); err != nil {
			return 0, err
		}
	}
	first := s.next
	s.next = last + 1 // 0 after the largest seq: the next take fails
	return first, nil
}

// close persists the exact last number handed out, so that a clean restart
// skips none, and releases the lock.
func (s *seqLease) close() error {
	err := s.persist(s.next - 1)
	s.lock.Close()
	return err
}

// persist writes end to the lease file durably.
func (s *seqLease) persist(end uint64) error {
	if err := durable.WriteFile(s.path, []byte(strconv.FormatUint(end, 10)+"\n")); err != nil {
		return fmt.Errorf("agent: write seq lease: %w", err)
	}
	s.end = end
	return nil
}
