package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// pusherChild pushes and commits readings in a loop, saying on stdout what
// returned, until it is killed:
//
//	P <seq>  Push of readings up to seq returned
//	c <seq>  about to Commit readings up to seq
//	C <seq>  Commit of readings up to seq returned
func pusherChild() error {
	next, err := strconv.ParseUint(os.Getenv("SPOOL_NEXT"), 10, 64)
	if err != nil {
		return err
	}
	s, err := Open(os.Getenv("SPOOL_DIR"), Options{Sync: SyncPolicy(os.Getenv("SPOOL_SYNC")), SegmentSize: 8192, MaxAge: -1})
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(os.Stdout, 64)
	say := func(kind string, seq uint64) {
		fmt.Fprintf(out, "%s %d\n", kind, seq)
		out.Flush()
	}
	rng := rand.New(rand.NewPCG(next, uint64(os.Getpid())))
	ctx := context.Background()
	for {
		k := 1 + rng.IntN(20)
		rs := make([]reading.Reading, k)
		for i := range rs {
			rs[i] = rd(next + uint64(i))
		}
		if d := s.Push(rs); d != 0 {
			return fmt.Errorf("Push dropped %d", d)
		}
		next += uint64(k)
		say("P", next-1)
		if rng.IntN(2) == 0 {
			batch, err := s.Peek(ctx, 1+rng.IntN(40))
			if err != nil {
				return err
			}
			last := batch[len(batch)-1].Seq
			say("c", last)
			s.Commit(len(batch))
			say("C", last)
		}
	}
}

// TestKill9LosesNothing runs a child that pushes and commits in a loop,
// kills it with SIGKILL at random moments, and after each kill reopens the
// spool: no committed reading may come back, no reading whose Push returned
// may be missing, and the rest must be in order without gaps.
func TestKill9LosesNothing(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(7, uint64(len(policy))))
			next := uint64(1)      // the first seq the next child pushes
			committed := uint64(0) // every seq up to it was committed
			for round := range 8 {
				st := killChild(t, dir, policy, next, time.Duration(rng.IntN(40))*time.Millisecond)
				lastP, lastC, lastc := max(st.lastP, next-1), max(st.lastC, committed), max(st.lastc, committed)

				s, err := Open(dir, Options{Sync: policy, MaxAge: -1})
				if err != nil {
					t.Fatalf("round %d: reopen: %v", round, err)
				}
				got := seqs(peekAll(t, s))
				stats := s.Stats()
				s.Close()
				t.Logf("round %d: %d P lines; pushed up to %d, committed %d (or %d); spool holds %d readings, torn tails %d",
					round, st.pushes, lastP, lastC, lastc, len(got), stats.TornTails)
				if stats.Dropped[ReasonCorrupt] != 0 || stats.Dropped[ReasonTruncated] != 0 {
					t.Errorf("round %d: %d readings lost to damage, %d to truncation; kill -9 loses none", round, stats.Dropped[ReasonCorrupt], stats.Dropped[ReasonTruncated])
				}
				for i := 1; i < len(got); i++ {
					if got[i] != got[i-1]+1 {
						t.Fatalf("round %d: seq %d follows %d", round, got[i], got[i-1])
					}
				}
				if len(got) == 0 {
					if lastP > lastc {
						t.Fatalf("round %d: spool empty, but readings up to %d were pushed and at most %d committed", round, lastP, lastc)
					}
					committed, next = lastc, lastc+1
					continue
				}
				first, last := got[0], got[len(got)-1]
				if first-1 != lastC && first-1 != lastc {
					t.Fatalf("round %d: spool starts at %d; committed up to %d (or %d): a committed reading came back or one is missing", round, first, lastC, lastc)
				}
				if last < lastP {
					t.Fatalf("round %d: spool ends at %d, but the Push of readings up to %d returned", round, last, lastP)
				}
				if last > lastP+20 {
					t.Fatalf("round %d: spool ends at %d, beyond the last Push (%d) and the one in progress", round, last, lastP)
				}
				committed, next = first-1, last+1
			}
		})
	}
}

type childState struct {
	pushes              int
	lastP, lastC, lastc uint64
}

// killChild runs pusherChild on dir from seq next, kills it (SIGKILL)
// delay after it has reported 10 Pushes, and returns what it reported.
func killChild(t *testing.T, dir string, policy SyncPolicy, next uint64, delay time.Duration) childState {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SPOOL_TEST_CHILD=pusher", "SPOOL_DIR="+dir,
		"SPOOL_SYNC="+string(policy), "SPOOL_NEXT="+strconv.FormatUint(next, 10))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		st    childState
		ready = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			kind, num, ok := strings.Cut(sc.Text(), " ")
			seq, err := strconv.ParseUint(num, 10, 64)
			if !ok || err != nil {
				continue // a line cut by the kill
			}
			mu.Lock()
			switch kind {
			case "P":
				st.lastP = seq
				if st.pushes++; st.pushes == 10 {
					close(ready)
				}
			case "c":
				st.lastc = seq
			case "C":
				st.lastC = seq
			}
			mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case <-done:
		cmd.Wait()
		t.Fatalf("child exited early: %s", stderr.String())
	}
	time.Sleep(delay) // a random moment
	cmd.Process.Kill()
	<-done
	cmd.Wait()
	if strings.Contains(stderr.String(), "pusher:") {
		t.Fatalf("child failed: %s", stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return st
}
