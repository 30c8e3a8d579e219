package agent

import (
	"sync"
	"time"
	"unicode/utf8"
)

// UplinkState is what the agent knows of its uplink, from its sends.
type UplinkState struct {
	// Connected is whether the last send succeeded.
	Connected bool `json:"connected"`
	// Since is when Connected last changed (by Options.Now); zero before
	// the first send ended.
	Since time.Time `json:"since,omitzero"`
	// LastSent is when a send last succeeded; zero if none has.
	LastSent time.Time `json:"last_sent,omitzero"`
	// LastError is the error of the last failed send (clipped), and
	// LastErrorAt when; they stay after a recovery.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Errors counts the failed sends since the last success.
	Errors int `json:"errors"`
}

// uplinkState tracks UplinkState; it is safe for concurrent use.
type uplinkState struct {
	mu sync.Mutex
	st UplinkState
}

// maxUplinkError bounds UplinkState.LastError, in bytes.
const maxUplinkError = 300

func (u *uplinkState) sent(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.st.Connected || u.st.Since.IsZero() {
		u.st.Connected, u.st.Since = true, now
	}
	u.st.LastSent, u.st.Errors = now, 0
}

func (u *uplinkState) failed(err error, now time.Time) {
	msg := err.Error()
	if len(msg) > maxUplinkError {
		msg = msg[:maxUplinkError]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
		msg += "..."
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.st.Connected || u.st.Since.IsZero() {
		u.st.Connected, u.st.Since = false, now
	}
	u.st.LastError, u.st.LastErrorAt = msg, now
	u.st.Errors++
}

// Uplink reports the uplink's state as the agent's sends found it. It is
// safe to call at any time.
func (a *Agent) Uplink() UplinkState {
	a.upState.mu.Lock()
	defer a.upState.mu.Unlock()
	return a.upState.st
}
