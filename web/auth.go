package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
)

// basicAuth requires HTTP Basic credentials user and password for next.
// Both are compared in constant time, by their SHA-256 digests so that
// their lengths do not leak either. The password is never logged.
func basicAuth(next http.Handler, user, password string, log *slog.Logger) http.Handler {
	wantUser := sha256.Sum256([]byte(user))
	wantPass := sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(u))
		gotPass := sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passOK := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || userOK&passOK != 1 {
			if ok {
				log.Info("authentication failed", "remote", r.RemoteAddr, "user", u, "path", r.URL.Path)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="Tributary", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		next.ServeHTTP(w, r)
	})
}
