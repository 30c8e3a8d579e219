package mqttwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
)

// Status is the retained message on StatusTopic(device):
//
//	{"v":1,"online":true,"boot":"<boot id>","first_seq":<first seq of this boot>,"ts":"<RFC 3339>"}
//	{"v":1,"online":true,"boot":"<boot id>","first_seq":<first seq of this boot>}
//	{"v":1,"online":false,"boot":"<boot id>"}
//
// An online status may also carry the device's actuators,
// "actuators":[{...}] (command.Actuator), which the bridge records.
//
// The first form is published when the agent connects, the second is its
// last will. A boot is one run of the agent (from start to exit or power
// loss); the cloud uses the boots' first seqs to tell a gap in seq caused
// by a restart from readings lost on the way.
type Status struct {
	Online bool
	// Boot identifies this run of the agent: 1 to 64 characters from
	// [A-Za-z0-9._-] starting with a letter or digit (reading.ValidID),
	// such as a UUID. Required.
	Boot string
	// FirstSeq is the seq of the first reading of this boot. Required (>= 1)
	// when Online; not encoded when offline.
	FirstSeq uint64
	// Time is when the boot started, by the agent's clock; zero (not
	// encoded) when the agent has no trusted clock for it, as on a board
	// without an RTC that booted offline. Not encoded when offline. Encoded
	// like a reading's ts (UTC milliseconds).
	Time time.Time
	// Actuators are the device's actuators, as it announces them (only
	// when Online; "actuators" not encoded when none).
	Actuators []command.Actuator
}

// MaxStatusEncoded is the most bytes an encoded status may take: a few
// hundred, and up to 64 KiB more for its actuators.
const MaxStatusEncoded = 512 + 64<<10

// ErrBadStatus is wrapped by every error of DecodeStatus and EncodeStatus.
var ErrBadStatus = errors.New("bad status")

// statusWire mirrors the JSON object.
type statusWire struct {
	V        *int    `json:"v"`
	Online   *bool   `json:"online"`
	Boot     *string `json:"boot"`
	FirstSeq *uint64 `json:"first_seq,omitempty"`
	TS       *string `json:"ts,omitempty"`
	// Actuators stays undecoded until the rest is valid.
	Actuators json.RawMessage `json:"actuators,omitempty"`
}

func (s *Status) validate() error {
	if !reading.ValidID(s.Boot) {
		return fmt.Errorf("mqttwire: %w: boot %q: want 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", ErrBadStatus, s.Boot, reading.MaxIDLen)
	}
	if !s.Online {
		return nil
	}
	if s.FirstSeq == 0 {
		return fmt.Errorf("mqttwire: %w: online status without first_seq >= 1", ErrBadStatus)
	}
	if y := s.Time.UTC().Year(); !s.Time.IsZero() && (y < 2000 || y > 9999) {
		return fmt.Errorf("mqttwire: %w: ts outside years 2000..9999", ErrBadStatus)
	}
	if len(s.Actuators) > command.MaxActuators {
		return fmt.Errorf("mqttwire: %w: %d actuators, limit %d", ErrBadStatus, len(s.Actuators), command.MaxActuators)
	}
	for i := range s.Actuators {
		if err := s.Actuators[i].Validate(); err != nil {
			return fmt.Errorf("mqttwire: %w: actuator %d: %w", ErrBadStatus, i, err)
		}
	}
	return nil
}

// EncodeStatus returns the JSON encoding of s, validating it first.
func EncodeStatus(s Status) ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	v := reading.Version
	w := statusWire{V: &v, Online: &s.Online, Boot: &s.Boot}
	if s.Online {
		w.FirstSeq = &s.FirstSeq
		if !s.Time.IsZero() {
			ts := s.Time.UTC().Format(reading.TimeLayout)
			w.TS = &ts
		}
		if len(s.Actuators) > 0 {
			b, err := command.EncodeActuators(s.Actuators)
			if err != nil {
				return nil, fmt.Errorf("mqttwire: %w: %w", ErrBadStatus, err)
			}
			w.Actuators = b
		}
	}
	return json.Marshal(w)
}

// DecodeStatus parses and validates a status message. Like a reading, it
// rejects unknown fields, versions other than 1, trailing data and input
// over MaxStatusEncoded bytes. An offline status may carry first_seq and
// ts; they are not returned.
func DecodeStatus(data []byte) (Status, error) {
	if len(data) > MaxStatusEncoded {
		return Status{}, fmt.Errorf("mqttwire: %w: %d bytes, limit %d", ErrBadStatus, len(data), MaxStatusEncoded)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w statusWire
	if err := dec.Decode(&w); err != nil {
		return Status{}, fmt.Errorf("mqttwire: %w: %v", ErrBadStatus, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Status{}, fmt.Errorf("mqttwire: %w: trailing data after the object", ErrBadStatus)
	}
	if w.V == nil || *w.V != reading.Version {
		return Status{}, fmt.Errorf("mqttwire: %w: want \"v\":%d", ErrBadStatus, reading.Version)
	}
	if w.Online == nil || w.Boot == nil {
		return Status{}, fmt.Errorf("mqttwire: %w: \"online\" and \"boot\" are required", ErrBadStatus)
	}
	s := Status{Online: *w.Online, Boot: *w.Boot}
	if s.Online {
		if w.FirstSeq != nil {
			s.FirstSeq = *w.FirstSeq
		}
		if w.TS != nil {
			t, err := time.Parse(time.RFC3339Nano, *w.TS)
			if err != nil {
				return Status{}, fmt.Errorf("mqttwire: %w: ts %q is not an RFC 3339 time", ErrBadStatus, *w.TS)
			}
			if y := t.UTC().Year(); y < 2000 || y > 9999 {
				return Status{}, fmt.Errorf("mqttwire: %w: ts outside years 2000..9999", ErrBadStatus)
			}
			s.Time = t.UTC().Truncate(time.Millisecond)
		}
		if len(w.Actuators) > 0 && string(w.Actuators) != "null" {
			as, err := command.DecodeActuators(w.Actuators)
			if err != nil {
				return Status{}, fmt.Errorf("mqttwire: %w: actuators: %w", ErrBadStatus, err)
			}
			s.Actuators = as
		}
	}
	if err := s.validate(); err != nil {
		return Status{}, err
	}
	return s, nil
}
