package spool

import (
	"os"
	"path/filepath"
	"testing"
)

// validSegment is a segment of base holding rd(seq) for count seqs from
// first.
func validSegment(base, first uint64, count int) []byte {
	b := segHeader(base)
	for i := range count {
		r := rd(first + uint64(i))
		b = appendRecord(b, &r, uint32(i))
	}
	return b
}

// FuzzRecover opens a spool whose segment holds arbitrary bytes, alone (so
// it is the newest, with a tail to truncate) or followed by a valid one.
// Recovery must never fail or panic, and every reading it returns must be
// one that was written, in order.
func FuzzRecover(f *testing.F) {
	f.Add(validSegment(0, 200, 20), false)
	f.Add(validSegment(0, 200, 20), true)
	f.Add(validSegment(0, 200, 20)[:300], true)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 100), true)
	f.Fuzz(func(t *testing.T, seg []byte, older bool) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(0)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if older {
			if err := os.WriteFile(filepath.Join(dir, segName(100)), validSegment(100, 300, 5), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir, Options{MaxAge: -1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		got := peekAll(t, s)
		for i, r := range got {
			if !sameReading(r, rd(r.Seq)) || i > 0 && r.Seq <= got[i-1].Seq {
				t.Fatalf("reading %d: %+v (after seq %d) was never written", i, r, got[max(i-1, 0)].Seq)
			}
		}
		if older && (len(got) < 5 || got[len(got)-1].Seq != 304) {
			t.Fatalf("the valid segment after the damaged one did not come back whole: %v", seqs(got))
		}
		if st := s.Stats(); st.Readings != len(got) {
			t.Fatalf("Stats.Readings %d, Peek returned %d", st.Readings, len(got))
		}
	})
}
