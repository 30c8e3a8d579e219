package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
)

// health is the JSON of GET /health: what a person (or a fleet tool)
// checking a board wants at a glance.
type health struct {
	Device  string               `json:"device"`
	Boot    string               `json:"boot"`
	Sensors []agent.SensorHealth `json:"sensors"`
	Spool   spoolHealth          `json:"spool"`
}

type spoolHealth struct {
	Readings    int               `json:"readings"`
	Bytes       int64             `json:"bytes"`
	Oldest      time.Time         `json:"oldest,omitzero"`
	Dropped     map[string]uint64 `json:"dropped"`
	WriteErrors uint64            `json:"write_errors"`
	LastError   string            `json:"last_error,omitempty"`
}

func spoolHealthOf(st spool.Stats) spoolHealth {
	h := spoolHealth{Readings: st.Readings, Bytes: st.Bytes, Oldest: st.Oldest, Dropped: st.Dropped, WriteErrors: st.WriteErrors}
	if st.LastError != nil {
		h.LastError = st.LastError.Error()
	}
	return h
}

// healthHandler serves the agent's sensor health and the spool's state.
// It answers 200 while at least one sensor works, else 503.
func healthHandler(device, boot string, a *agent.Agent, q *spool.Spool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := health{Device: device, Boot: boot, Sensors: a.Health(), Spool: spoolHealthOf(q.Stats())}
		code := http.StatusServiceUnavailable
		for _, s := range h.Sensors {
			if s.State == agent.SensorOK || s.State == agent.SensorStarting {
				code = http.StatusOK
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(h)
	})
}
