package main

import (
	"sync"

	"github.com/tributary-iot/tributary/command"
)

// localLogSize is how many recent commands the edge's dashboard lists.
const localLogSize = 200

// localLog is the edge's memory of its recent commands and what became of
// them, newest last, for its own dashboard while the uplink may be down
// (the cloud's audit trail, store.CommandLog, is the lasting one). Safe for
// concurrent use.
type localLog struct {
	mu    sync.Mutex
	max   int
	order []string // ids, oldest first
	recs  map[string]*command.Record
}

func newLocalLog(max int) *localLog { return &localLog{max: max, recs: map[string]*command.Record{}} }

// command records c as received (local: given on the device itself).
func (l *localLog) command(c command.Command, local bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.recs[c.ID]; ok {
		r.Command, r.Local = c, r.Local || local
		return
	}
	l.insert(&command.Record{Command: c, Local: local})
}

// add records an event the controller reported.
func (l *localLog) add(ev command.Event) {
	if ev.Command != nil {
		l.command(*ev.Command, true)
		return
	}
	s := ev.Status
	if s == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.recs[s.ID]
	if !ok {
		r = &command.Record{Command: command.Command{ID: s.ID, Device: s.Device, Actuator: s.Actuator, Value: s.Value}}
		l.insert(r)
	}
	if n := len(r.Statuses); n > 0 && r.Statuses[n-1].State == s.State && r.Statuses[n-1].Time.Equal(s.Time) {
		return // a repeat re-reported
	}
	if len(r.Statuses) < 8 {
		r.Statuses = append(r.Statuses, *s)
	}
}

func (l *localLog) insert(r *command.Record) {
	if len(l.order) >= l.max {
		delete(l.recs, l.order[0])
		l.order = l.order[1:]
	}
	l.order = append(l.order, r.Command.ID)
	l.recs[r.Command.ID] = r
}

// list returns up to limit records, newest first.
func (l *localLog) list(limit int) []command.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []command.Record
	for i := len(l.order) - 1; i >= 0 && len(out) < limit; i-- {
		r := *l.recs[l.order[i]]
		r.Statuses = append([]command.Status(nil), r.Statuses...)
		out = append(out, r)
	}
	return out
}
