package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tributary-iot/tributary/internal/lograte"
)

// basicAuth requires HTTP Basic credentials of one of accts for next,
// and gives next the request with its identity (identityOf). The password
// is never logged. A client address with limits.max failures in the
// current window gets 429 without its credentials being checked.
func basicAuth(next http.Handler, accts *accounts, limits *addrLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait, blocked := limits.blocked(r); blocked {
			limits.log(r, "authentication refused: too many failures from this address", "path", clipQuote(r.URL.Path, maxLoggedValue))
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, "too many failed authentications from your address; retry later")
			return
		}
		u, p, ok := r.BasicAuth()
		var id identity
		if ok {
			var err error
			if id, ok, err = accts.check(r.Context(), u, p); err != nil {
				return // the client went away while waiting
			}
			if !ok {
				limits.fail(r, "authentication failed", "user", clipQuote(u, maxLoggedValue), "user_bytes", len(u), "path", clipQuote(r.URL.Path, maxLoggedValue))
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="Tributary", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// maxLoggedValue bounds what is logged of a value a client chose (a user
// name, a path, a Host, an Origin).
const maxLoggedValue = 64

// clipQuote quotes s for a log line, cut to at most n bytes (on a rune
// boundary) with "..." after the quote when cut.
func clipQuote(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(clip(s, n)) + "..."
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// addrLimits counts failures per client address (an IPv6 client by its
// /64) in windows of a minute: it logs at most one line per address per
// window, with the count of the lines left out, and says when an address
// has failed max times in its window. It tracks at most maxAddrs
// addresses; beyond that, new addresses share one entry, which blocks
// them all after overflowShare*max failures in its window: guesses spread
// over many addresses stay bounded, at the price of refusing new
// addresses for the rest of such a window. It is safe for concurrent use.
type addrLimits struct {
	max    int // failures per window before blocked; 0: never blocked
	logger *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	addrs    map[string]*addrState
	overflow addrState
	purged   time.Time // last scan for expired entries
}

type addrState struct {
	start    time.Time // of the window
	failures int       // in the window
	lines    lograte.Limiter
}

const (
	limitWindow   = time.Minute
	maxAddrs      = 4096
	overflowShare = 10
)

func newAddrLimits(max int, log *slog.Logger, now func() time.Time) *addrLimits {
	return &addrLimits{max: max, logger: log, now: now, addrs: map[string]*addrState{}}
}

// clientKey is the address r came from: its IP, or an IPv6 address's /64,
// which one client usually holds whole.
func clientKey(r *http.Request) string { return addrKey(r.RemoteAddr) }

// addrKey is clientKey of a remote address ("host:port").
func addrKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail for an IPv6 address
		return p.String()
	}
	return ip.String()
}

// state returns key's entry, in a window that includes now. Call with mu
// held.
func (l *addrLimits) state(key string, now time.Time) (st *addrState, tracked bool) {
	st, ok := l.addrs[key]
	if !ok {
		if len(l.addrs) >= maxAddrs && now.Sub(l.purged) >= time.Second { // a scan a second at most
			l.purged = now
			for k, s := range l.addrs {
				if now.Sub(s.start) >= limitWindow {
					delete(l.addrs, k)
				}
			}
		}
		if len(l.addrs) >= maxAddrs {
			st, tracked = &l.overflow, false
		} else {
			st, tracked = &addrState{start: now, lines: lograte.Limiter{Every: limitWindow}}, true
			l.addrs[key] = st
		}
	} else {
		tracked = true
	}
	if d := now.Sub(st.start); d >= limitWindow || d < 0 {
		st.start, st.failures = now, 0
	}
	if st.lines.Every == 0 {
		st.lines.Every = limitWindow
	}
	return st, tracked
}

// blocked reports whether r's address has failed max times in its window,
// and how long until the window ends.
func (l *addrLimits) blocked(r *http.Request) (time.Duration, bool) {
	if l.max <= 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st, ok := l.addrs[clientKey(r)]
	limit := l.max
	if !ok {
		if len(l.addrs) < maxAddrs {
			return 0, false
		}
		st, limit = &l.overflow, overflowShare*l.max
	}
	if now.Sub(st.start) >= limitWindow || st.failures < limit {
		return 0, false
	}
	return limitWindow - now.Sub(st.start), true
}

// fail counts a failure of r's address and logs msg with args, unless its
// address has had a line logged within the window.
func (l *addrLimits) fail(r *http.Request, msg string, args ...any) {
	l.record(r, true, msg, args)
}

// log logs msg with args at most once per window per address, counting
// no failure.
func (l *addrLimits) log(r *http.Request, msg string, args ...any) {
	l.record(r, false, msg, args)
}

func (l *addrLimits) record(r *http.Request, failure bool, msg string, args []any) {
	key := clientKey(r)
	l.mu.Lock()
	now := l.now()
	st, _ := l.state(key, now)
	if failure {
		st.failures++ // the shared overflow entry too
	}
	failures := st.failures
	suppressed, show := st.lines.Fail(now)
	l.mu.Unlock()
	if !show {
		return
	}
	attrs := append([]any{"remote", r.RemoteAddr}, args...)
	if failure {
		attrs = append(attrs, "failures_this_minute", failures)
	}
	if suppressed > 0 {
		attrs = append(attrs, "similar_lines_left_out", suppressed)
	}
	l.logger.Info(msg, attrs...)
}
