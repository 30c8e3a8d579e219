package spool

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// writerChild pushes readings SPOOL_FROM..SPOOL_TO in Pushes of 10, says
// "pushed" on stdout and waits to be killed: a crash with everything
// written and nothing closed.
func writerChild() error {
	from, err := strconv.ParseUint(os.Getenv("SPOOL_FROM"), 10, 64)
	if err != nil {
		return err
	}
	to, err := strconv.ParseUint(os.Getenv("SPOOL_TO"), 10, 64)
	if err != nil {
		return err
	}
	seg, err := strconv.ParseInt(os.Getenv("SPOOL_SEGSIZE"), 10, 64)
	if err != nil {
		return err
	}
	s, err := Open(os.Getenv("SPOOL_DIR"), Options{SegmentSize: seg, MaxAge: -1})
	if err != nil {
		return err
	}
	for q := from; q <= to; q += 10 {
		s.Push(rds(q, min(q+9, to)))
	}
	os.Stdout.WriteString("pushed\n")
	select {}
}

// crashAfterPushing runs writerChild on dir and kills it (SIGKILL) once it
// has pushed seqs from..to.
func crashAfterPushing(t *testing.T, dir string, segSize int64, from, to uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD=writer", "SPOOL_DIR="+dir,
		"SPOOL_FROM="+strconv.FormatUint(from, 10), "SPOOL_TO="+strconv.FormatUint(to, 10),
		"SPOOL_SEGSIZE="+strconv.FormatInt(segSize, 10))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "pushed\n" {
		t.Fatalf("writer child said %q: %s", line, stderr.String())
	}
}

// TestCrashLossesAreCounted: a crash (kill -9) after readings were pushed,
// then the end of the spool cut as a power loss or a damaged card would:
// Open counts every reading written that it cannot read back, under
// "truncated", and the count survives further restarts without being
// counted again.
func TestCrashLossesAreCounted(t *testing.T) {
	const segSize = segHdrSize + 3000
	perSeg := (int64(segSize) - segHdrSize) / recSize
	for _, tc := range []struct {
		name string
		// damage returns the readings kept, and how many of those lost are
		// lost in an older segment (corrupt) rather than at the end.
		damage func(t *testing.T, segs []string) (kept, corrupt uint64)
	}{
		{"newest segment cut mid-record", func(t *testing.T, segs []string) (uint64, uint64) {
			last := segs[len(segs)-1]
			if err := os.Truncate(last, segHdrSize+3*recSize+recSize/2); err != nil {
				t.Fatal(err)
			}
			return uint64(len(segs)-1)*uint64(perSeg) + 3, 0
		}},
		{"newest segment lost", func(t *testing.T, segs []string) (uint64, uint64) {
			if err := os.Remove(segs[len(segs)-1]); err != nil {
				t.Fatal(err)
			}
			return uint64(len(segs)-1) * uint64(perSeg), 0
		}},
		{"two newest segments cut to their header", func(t *testing.T, segs []string) (uint64, uint64) {
			for _, seg := range segs[len(segs)-2:] {
				if err := os.Truncate(seg, segHdrSize); err != nil {
					t.Fatal(err)
				}
			}
			// The older of the two is damage in the middle of the spool.
			return uint64(len(segs)-2) * uint64(perSeg), uint64(perSeg)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const from, to = 200, 399
			crashAfterPushing(t, dir, segSize, from, to)
			segs := segFiles(t, dir)
			if len(segs) < 3 {
				t.Fatalf("segments %v, want at least 3", segs)
			}
			kept, corrupt := tc.damage(t, segs)
			lost := uint64(to-from+1) - kept - corrupt

			s := mustOpen(t, dir, Options{SegmentSize: segSize})
			if got := seqs(peekAll(t, s)); !slices.Equal(got, span64(from, from+kept-1)) {
				t.Fatalf("after recovery got %d readings %v, want %d..%d", len(got), got, from, from+kept-1)
			}
			if st := s.Stats(); st.Dropped[ReasonTruncated] != lost || st.Dropped[ReasonCorrupt] != corrupt {
				t.Fatalf("Dropped %v; want %d truncated (written, cannot be read), %d corrupt", st.Dropped, lost, corrupt)
			}
			// New readings go after the kept ones; a clean restart and a
			// crash each keep the count, and count nothing more.
			s.Push(rds(500, 509))
			s.Close()
			s = mustOpen(t, dir, Options{SegmentSize: segSize})
			assertDropped(t, s, ReasonTruncated, lost)
			assertDropped(t, s, ReasonCorrupt, corrupt)
			s.Close()
			crashAfterPushing(t, dir, segSize, 600, 609)
			s = mustOpen(t, dir, Options{SegmentSize: segSize})
			want := append(span64(from, from+kept-1), append(span64(500, 509), span64(600, 609)...)...)
			if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
				t.Fatalf("after two more restarts got %v, want %v", got, want)
			}
			assertDropped(t, s, ReasonTruncated, lost)
			assertDropped(t, s, ReasonCorrupt, corrupt)
		})
	}
}

// assertDropped checks a drop count in Stats and in the metric.
func assertDropped(t *testing.T, s *Spool, reason string, want uint64) {
	t.Helper()
	if got := s.Stats().Dropped[reason]; got != want {
		t.Errorf("Dropped[%s] = %d, want %d", reason, got, want)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tributary_edge_spool_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				if got := m.GetCounter().GetValue(); got != float64(want) {
					t.Errorf("tributary_edge_spool_dropped_total{reason=%q} = %v, want %d", reason, got, want)
				}
				return
			}
		}
	}
	t.Errorf("no tributary_edge_spool_dropped_total{reason=%q}", reason)
}

// TestCursorVersion1: a cursor written by an earlier version (version 1
// slots: no written index, no counters) is still read: its ack and holes
// hold, the counters start at zero, and the next write is version 2.
func TestCursorVersion1(t *testing.T) {
	dir := t.TempDir()
	writeSpool(t, dir, Options{}, 200, 219)
	b := make([]byte, slotSize)
	copy(b, cursorMagic)
	b[4], b[5] = 1, 1
	binary.LittleEndian.PutUint64(b[8:], 7)  // generation
	binary.LittleEndian.PutUint64(b[16:], 5) // ack: 200..204
	binary.LittleEndian.PutUint64(b[24:], 8) // a hole: 208..209
	binary.LittleEndian.PutUint64(b[32:], 10)
	binary.LittleEndian.PutUint32(b[slotSize-4:], crc32.Checksum(b[:slotSize-4], castagnoli))
	cursor := filepath.Join(dir, "cursor")
	if err := os.WriteFile(cursor, append(make([]byte, slotSize), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir, Options{})
	want := append(span64(205, 207), span64(210, 219)...)
	if got := seqs(peekAll(t, s)); !slices.Equal(got, want) {
		t.Fatalf("with a version 1 cursor got %v, want %v", got, want)
	}
	if st := s.Stats(); st.LastError != nil || st.Dropped[ReasonCorrupt] != 0 || st.Dropped[ReasonTruncated] != 0 {
		t.Fatalf("Stats %+v; want no damage, no loss", st)
	}
	s.Close()
	raw, err := os.ReadFile(cursor)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := decodeSlot(raw[0:slotSize])
	if !ok || raw[4] != slotVersion || c.gen != 8 || c.ack != 5 || c.written != 20 {
		t.Fatalf("the next write: %+v, valid %v, version %d; want version 2, generation 8, ack 5, written 20", c, ok, raw[4])
	}
}
