package web

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file holds what every request goes through before its handler: the
// refusal of bodies, the per-route deadlines, the query check and the Host
// allowlist.

// guard refuses a request body, checks the query and sets the write
// deadline of every response; routes that stream relax it themselves
// (unlimitWrite, pacedWrites).
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		hasBody := r.ContentLength != 0 || len(r.TransferEncoding) > 0
		if hasBody && s.takesBody(r) {
			// A command: small, read within ReadTimeout.
			rc.SetReadDeadline(time.Now().Add(s.opt.ReadTimeout))
			if r.ContentLength > MaxCommandBody {
				w.Header().Set("Connection", "close")
				writeError(w, http.StatusRequestEntityTooLarge, "a command is at most "+strconv.Itoa(MaxCommandBody)+" bytes")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, MaxCommandBody)
			hasBody = false
		}
		// No other route takes a body. One that is not refused would be
		// drained (up to 256 KiB) after the handler, at the client's pace.
		if hasBody {
			rc.SetReadDeadline(time.Now().Add(s.opt.ReadTimeout))
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, "this endpoint takes no request body")
			return
		}
		rc.SetWriteDeadline(time.Now().Add(s.opt.WriteTimeout))
		// r.URL.Query() drops what it cannot parse: ?device=%zz would
		// select every device, ?limit=%zz the whole history.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeError(w, http.StatusBadRequest, "query string: "+err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// takesBody reports whether r is for the one route that takes a body:
// POST /api/devices/{id}/commands, on a server that takes commands.
func (s *server) takesBody(r *http.Request) bool {
	if s.opt.Commands == nil || r.Method != http.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/devices/")
	if !ok {
		return false
	}
	dev, ok := strings.CutSuffix(rest, "/commands")
	return ok && dev != "" && !strings.Contains(dev, "/")
}

// unlimitWrite lifts the write deadline for a handler that sets its own
// (the WebSocket stream: the hub bounds each write).
func unlimitWrite(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		next(w, r)
	}
}

// pacedWrites gives each write of a streamed answer (history) its own
// WriteTimeout, instead of one for the whole answer: a long answer to a
// client that reads goes on; one that stops reading is cut.
func (s *server) pacedWrites(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(&pacedWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.opt.WriteTimeout}, r)
	}
}

type pacedWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (p *pacedWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// loopbackHosts are the names AllowedHosts defaults to.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostOf returns the host name of a Host header (or an origin's host),
// without port or brackets, lower case and without a final dot.
func hostOf(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(h, "]"), "["), ".")
	return strings.ToLower(h)
}

// validHost reports whether h is a host name or an IP address (an IPv6
// one perhaps in brackets), without scheme, port or path.
func validHost(h string) bool {
	if ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"); net.ParseIP(ip) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hostAllowed reports whether a request's Host is one of AllowedHosts,
// and whether by name (not only through "*").
func (s *server) hostAllowed(host string) (allowed, named bool) {
	named = host != "" && s.hosts[hostOf(host)]
	return named || s.anyHost, named
}

// checkHost answers 421 to a request whose Host is not allowed: a page of
// another site whose name an attacker points at this server (DNS
// rebinding) cannot use it.
func (s *server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, _ := s.hostAllowed(r.Host); !ok {
			s.refusals.log(r, "request for a host not allowed refused", "host", clipQuote(r.Host, maxLoggedValue))
			writeError(w, http.StatusMisdirectedRequest, "host "+clipQuote(r.Host, maxLoggedValue)+" is not served here (see --allowed-host)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
