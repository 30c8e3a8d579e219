package lograte

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := Limiter{Every: time.Minute}
	type step struct {
		at             time.Duration
		wantSuppressed int
		wantLog        bool
	}
	for i, s := range []step{
		{0, 0, true},
		{time.Second, 0, false},
		{59 * time.Second, 0, false},
		{time.Minute, 2, true}, // two left out since the last logged one
		{time.Minute + time.Second, 0, false},
		{-time.Hour, 1, true}, // the clock stepped back: logged
	} {
		n, ok := l.Fail(t0.Add(s.at))
		if n != s.wantSuppressed || ok != s.wantLog {
			t.Errorf("step %d: Fail = (%d, %v), want (%d, %v)", i, n, ok, s.wantSuppressed, s.wantLog)
		}
	}
	if n, ok := l.OK(); n != 6 || !ok {
		t.Errorf("OK after 6 failures = (%d, %v), want (6, true)", n, ok)
	}
	if n, ok := l.OK(); n != 0 || ok {
		t.Errorf("OK again = (%d, %v), want (0, false)", n, ok)
	}
	if _, ok := l.Fail(t0.Add(time.Minute + 2*time.Second)); !ok {
		t.Error("the first failure after a success was not logged")
	}
	var zero Limiter
	for i := range 3 {
		if _, ok := zero.Fail(t0); !ok {
			t.Errorf("zero Limiter: failure %d not logged", i)
		}
	}
}
