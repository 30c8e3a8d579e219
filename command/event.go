package command

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Event is what a device reports about commands: one state change
// (Status) or, for a command given on the device itself (the edge's own
// dashboard), the command as given (Command), reported once before its
// first status so that the audit trail upstream names who sent it.
// Exactly one of the two is set.
//
//	{"status":{...}}
//	{"command":{...}}
type Event struct {
	Command *Command
	Status  *Status
}

// Validate reports the first problem with e, wrapping ErrInvalid, or nil.
func (e *Event) Validate() error {
	switch {
	case (e.Command == nil) == (e.Status == nil):
		return fmt.Errorf("command: %w: an event holds a command or a status", ErrInvalid)
	case e.Command != nil:
		return e.Command.Validate()
	}
	return e.Status.Validate()
}

// Device returns the device the event is about.
func (e *Event) Device() string {
	if e.Command != nil {
		return e.Command.Device
	}
	if e.Status != nil {
		return e.Status.Device
	}
	return ""
}

// AppendJSON appends e's canonical encoding to b. It does not validate e.
func (e *Event) AppendJSON(b []byte) []byte {
	if e.Command != nil {
		b = append(b, `{"command":`...)
		b = e.Command.AppendJSON(b)
	} else {
		b = append(b, `{"status":`...)
		b = e.Status.AppendJSON(b)
	}
	return append(b, '}')
}

// MarshalJSON encodes e canonically, validating it first.
func (e Event) MarshalJSON() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e.AppendJSON(nil), nil
}

// UnmarshalJSON decodes and validates one event.
func (e *Event) UnmarshalJSON(data []byte) error {
	got, err := DecodeEvent(data)
	if err == nil {
		*e = got
	}
	return err
}

// DecodeEvent parses and validates one encoded event (at most
// MaxEncoded+16 bytes).
func DecodeEvent(data []byte) (Event, error) {
	var w struct {
		Command json.RawMessage `json:"command"`
		Status  json.RawMessage `json:"status"`
	}
	if err := decodeLimited(data, &w, MaxEncoded+16); err != nil {
		return Event{}, err
	}
	null := func(m json.RawMessage) bool { return len(m) == 0 || bytes.Equal(m, []byte("null")) }
	switch {
	case null(w.Command) == null(w.Status):
		return Event{}, fmt.Errorf("command: %w: an event holds a command or a status", ErrInvalid)
	case !null(w.Command):
		c, err := Decode(w.Command)
		if err != nil {
			return Event{}, err
		}
		return Event{Command: &c}, nil
	}
	s, err := DecodeStatus(w.Status)
	if err != nil {
		return Event{}, err
	}
	return Event{Status: &s}, nil
}

// Record is a command with what became of it, as an audit trail shows it.
type Record struct {
	Command Command `json:"command"`
	// Local is true for a command given on the device itself (reported by
	// the device), false for one recorded by the cloud.
	Local bool `json:"local"`
	// Statuses are its state changes as reported, oldest first; empty while
	// the device has said nothing.
	Statuses []Status `json:"statuses"`
}

// State returns the record's latest state, "" before any status.
func (r *Record) State() State {
	if len(r.Statuses) == 0 {
		return ""
	}
	return r.Statuses[len(r.Statuses)-1].State
}
