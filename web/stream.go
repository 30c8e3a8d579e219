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
	sel, err := fanout.ParseSelection(r.URL.Query())
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
	s.opt.Hub.Serve(r.Context(), conn, sel)
}

// checkOrigin allows requests without an Origin header (not from a
// browser), same-origin requests, and the configured origins.
func (s *server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if norm, err := normalizeOrigin(origin); err == nil && s.origins[norm] {
		return true
	}
	s.opt.Logger.Info("websocket from a foreign origin refused", "origin", origin, "host", r.Host)
	return false
}
