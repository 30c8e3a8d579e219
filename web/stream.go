package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
)

// stream upgrades to a WebSocket and hands the connection to the hub, which
// owns it from then on. An invalid ?device= is refused with 400 before the
// upgrade; a cross-origin browser with 403.
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query string: "+err.Error())
		return
	}
	sel, err := fanout.ParseSelection(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeError(w, http.StatusUpgradeRequired, "/api/stream is a WebSocket endpoint; connect with a WebSocket client")
		return
	}
	conn, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		s.opt.Logger.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
		return // the upgrader has answered
	}
	s.opt.Hub.ServeMessages(r.Context(), conn, sel, s.messages(s.identityOf(r)))
}

// checkOrigin allows requests without an Origin header (not from a
// browser), the configured origins, and a page's own origin when the Host
// it was served from is named in AllowedHosts. Under "*" a page's own
// origin proves nothing: any name can point here.
func (s *server) checkOrigin(r *http.Request) bool {
	return s.originAllowed(r, "websocket from a foreign origin refused")
}

// originAllowed is checkOrigin, logging refusal (at most once a minute per
// address) when it refuses.
func (s *server) originAllowed(r *http.Request, refusal string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if norm, err := normalizeOrigin(origin); err == nil && s.origins[norm] {
		return true
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		if _, named := s.hostAllowed(r.Host); named {
			return true
		}
	}
	s.refusals.log(r, refusal, "origin", clipQuote(origin, maxLoggedValue), "host", clipQuote(r.Host, maxLoggedValue))
	return false
}
