package fanout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"

	"github.com/tributary-iot/tributary/reading"
)

// Selection says which devices' readings a client receives.
type Selection struct {
	// All selects every device, present and future; Devices is then empty.
	All bool
	// Devices lists the selected device ids, sorted and without repeats. An
	// empty list (with All false) selects nothing: the client gets only
	// status frames.
	Devices []string
}

// SelectDevices returns the selection of the given devices. Every id must be
// valid (reading.ValidID); repeats are dropped.
func SelectDevices(ids ...string) (Selection, error) {
	if len(ids) > MaxSelectedDevices {
		return Selection{}, fmt.Errorf("fanout: %d devices selected, limit %d", len(ids), MaxSelectedDevices)
	}
	devs := make([]string, 0, len(ids))
	for _, id := range ids {
		if !reading.ValidID(id) {
			return Selection{}, fmt.Errorf("fanout: invalid device id %q: use 1 to %d letters, digits, '.', '_' and '-', starting with a letter or digit", clip(id, 80), reading.MaxIDLen)
		}
		devs = append(devs, id)
	}
	slices.Sort(devs)
	return Selection{Devices: slices.Compact(devs)}, nil
}

// MaxSelectedDevices is the most devices one selection may name.
const MaxSelectedDevices = 1000

// MaxControlSize is the size of the largest valid control message written
// without white space: MaxSelectedDevices ids of reading.MaxIDLen bytes.
// DefaultMaxMessageSize is above it.
const MaxControlSize = len(`{"type":"subscribe","devices":[]}`) + MaxSelectedDevices*(reading.MaxIDLen+3) - 1

// ParseSelection reads a client's selection from its request's query: every
// `device` parameter names one device; none means all devices. An invalid
// id is an error (answer it with 400 Bad Request before upgrading). Parse q
// with url.ParseQuery and refuse its error: URL.Query drops the pairs it
// cannot parse, so ?device=%zz would select every device.
func ParseSelection(q url.Values) (Selection, error) {
	ids, ok := q["device"]
	if !ok {
		return Selection{All: true}, nil
	}
	return SelectDevices(ids...)
}

// A control message is the only thing a client may send, as a text frame:
//
//	{"type":"subscribe","devices":["greenhouse-1","shed"]}
//	{"type":"subscribe","all":true}
//
// It replaces the client's selection. "devices":[] selects nothing.
type control struct {
	Type    string    `json:"type"`
	All     bool      `json:"all"`
	Devices *[]string `json:"devices"`
}

// ErrControl is wrapped by every error about a malformed control message.
var ErrControl = errors.New("bad control message")

// DecodeControl parses a control message sent by a client and returns the
// selection it asks for. Unknown fields, unknown types, trailing data,
// invalid ids and "all" together with "devices" are errors wrapping
// ErrControl.
func DecodeControl(data []byte) (Selection, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m control
	if err := dec.Decode(&m); err != nil {
		return Selection{}, fmt.Errorf("%w: %v", ErrControl, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Selection{}, fmt.Errorf("%w: trailing data after the object", ErrControl)
	}
	if m.Type != "subscribe" {
		return Selection{}, fmt.Errorf("%w: type %q, want \"subscribe\"", ErrControl, clip(m.Type, 40))
	}
	switch {
	case m.All && m.Devices != nil:
		return Selection{}, fmt.Errorf("%w: give either \"all\":true or \"devices\", not both", ErrControl)
	case m.All:
		return Selection{All: true}, nil
	case m.Devices == nil:
		return Selection{}, fmt.Errorf("%w: give \"all\":true or \"devices\":[...]", ErrControl)
	}
	sel, err := SelectDevices(*m.Devices...)
	if err != nil {
		return Selection{}, fmt.Errorf("%w: %v", ErrControl, err)
	}
	return sel, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
