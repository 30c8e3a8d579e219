package web

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAddrLimitsBounded: the table of client addresses never holds more
// than maxAddrs; addresses beyond share one entry, which logs once a
// window and blocks them all after overflowShare*max failures (before, an
// attacker spreading guesses over more addresses than the table holds was
// never blocked); an IPv6 client counts by its /64; a new window forgets
// the failures.
func TestAddrLimitsBounded(t *testing.T) {
	var logs syncBuffer
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	l := newAddrLimits(3, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
	req := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if _, blocked := l.blocked(r); blocked {
			return nil
		}
		l.fail(r, "authentication failed")
		return httptest.NewRecorder()
	}
	served := 0
	for i := range maxAddrs + 500 {
		if req(fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)) != nil {
			served++
		}
	}
	if want := maxAddrs + overflowShare*3; served != want {
		t.Errorf("%d failures let through, want %d (one per tracked address, then %d shared)", served, want, overflowShare*3)
	}
	if n := len(l.addrs); n > maxAddrs {
		t.Errorf("%d addresses tracked, max %d", n, maxAddrs)
	}
	if n := strings.Count(logs.String(), "\n"); n != maxAddrs+1 {
		t.Errorf("%d lines logged, want one per tracked address and one for the rest (%d)", n, maxAddrs+1)
	}
	if req("192.0.2.1:1") != nil {
		t.Error("a new address beyond the table let through once the shared entry is spent")
	}

	// A new window: the table has room again, and an IPv6 /64 is one client.
	now = now.Add(limitWindow)
	for i := range 3 {
		if req(fmt.Sprintf("[2001:db8::%x]:443", i+1)) == nil {
			t.Fatalf("failure %d blocked", i+1)
		}
	}
	if req("[2001:db8::ffff]:443") != nil {
		t.Error("a fourth failure from the same /64 was not blocked")
	}
	if req("[2001:db8:0:1::1]:443") == nil {
		t.Error("another /64 blocked")
	}
	now = now.Add(limitWindow)
	if req("[2001:db8::1]:443") == nil {
		t.Error("still blocked in the next window")
	}
}
