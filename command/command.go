package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tributary-iot/tributary/reading"
)

// Version is the wire format version this package reads and writes.
const Version = 1

// Limits.
const (
	// MaxEncoded bounds one encoded command or status; larger input is
	// refused unread.
	MaxEncoded = 1024
	// MaxLifetime bounds a command's deadline: at most this long after it
	// was recorded (At). The edge forgets a command's id once its deadline
	// has passed (a later copy is refused as expired), so this also bounds
	// how long the edge remembers ids.
	MaxLifetime = 24 * time.Hour
	// MaxByLen bounds Command.By.
	MaxByLen = 64
	// MaxDetailLen bounds Status.Detail.
	MaxDetailLen = 256
)

// ErrInvalid is wrapped by every validation and decoding error.
var ErrInvalid = errors.New("invalid command")

// Command asks one actuator of one device to take a value before a deadline.
type Command struct {
	ID       string    // chosen by the sender, unique per device (reading.ValidID)
	Device   string    // the device that must run it
	Actuator string    // the actuator's name on the device
	Value    float64   // a switch: 0 off, 1 on; a level: its unit (PWM duty in %)
	Deadline time.Time // never applied after this instant (UTC ms)
	By       string    // who sent it: set by the server that authenticated the sender, never by the sender
	At       time.Time // when it was recorded (UTC ms)
}

// State is where a command is in its life.
type State string

// States of a command; see the package documentation.
const (
	Accepted State = "accepted"
	Applied  State = "applied"
	Refused  State = "refused"
	Expired  State = "expired"
	Failed   State = "failed"
)

// Final reports whether s ends a command's life.
func (s State) Final() bool { return s == Applied || s == Refused || s == Expired || s == Failed }

func (s State) valid() bool { return s == Accepted || s.Final() }

// Reasons of a refused, expired or failed command (Status.Reason).
const (
	ReasonUnknownActuator = "unknown_actuator" // the device has no actuator of that name
	ReasonOutOfRange      = "out_of_range"     // the value is outside the actuator's allowed range
	ReasonInterlock       = "interlock"        // another actuator's state forbids it (Detail names it)
	ReasonRateLimited     = "rate_limited"     // more commands a minute than the actuator allows
	ReasonMinOffTime      = "min_off_time"     // switched off too recently to switch on again
	ReasonMaxOnTime       = "max_on_time"      // it has been on as long as it may in one go
	ReasonDeadline        = "deadline"         // its deadline passed before it could run (state expired)
	ReasonClock           = "clock_untrusted"  // the edge's clock is not trusted, so deadlines cannot be checked
	ReasonInterrupted     = "interrupted"      // accepted, then the agent stopped before it was applied
	ReasonWrongDevice     = "wrong_device"     // addressed to another device
	ReasonInvalid         = "invalid"          // malformed (Detail says how)
	ReasonHardware        = "hardware"         // the output would not take the value (state failed)
	ReasonBusy            = "busy"             // too many commands pending at the edge
	ReasonDuplicateID     = "duplicate_id"     // its id was already used for another command (Detail says which)
)

// Validate reports the first problem with c, wrapping ErrInvalid, or nil.
func (c *Command) Validate() error {
	for _, f := range []struct{ name, v string }{{"id", c.ID}, {"device", c.Device}, {"actuator", c.Actuator}} {
		if !reading.ValidID(f.v) {
			return fieldErr(f.name, "%q is not a valid id (1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit)", clip(f.v, 80), reading.MaxIDLen)
		}
	}
	if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
		return fieldErr("value", "must be a finite number")
	}
	if c.Deadline.IsZero() {
		return fieldErr("deadline", "missing")
	}
	if c.At.IsZero() {
		return fieldErr("at", "missing")
	}
	if !c.Deadline.After(c.At) {
		return fieldErr("deadline", "not after at")
	}
	if c.Deadline.Sub(c.At) > MaxLifetime {
		return fieldErr("deadline", "more than %v after at", MaxLifetime)
	}
	if y := c.At.UTC().Year(); y < 2000 || y > 9999 {
		return fieldErr("at", "year %d outside 2000..9999", y)
	}
	if err := checkText("by", c.By, MaxByLen); err != nil {
		return err
	}
	return nil
}

// Status is one state change of a command, reported by the device.
type Status struct {
	ID       string
	Device   string
	Actuator string
	State    State
	Reason   string    // one of the Reason constants, for refused, expired and failed
	Detail   string    // words for a person, optional
	Value    float64   // the actuator's value once applied; the command's otherwise
	Time     time.Time // when it changed, by the edge's clock (UTC ms)
}

// Validate reports the first problem with s, wrapping ErrInvalid, or nil.
func (s *Status) Validate() error {
	for _, f := range []struct{ name, v string }{{"id", s.ID}, {"device", s.Device}, {"actuator", s.Actuator}} {
		if !reading.ValidID(f.v) {
			return fieldErr(f.name, "%q is not a valid id", clip(f.v, 80))
		}
	}
	if !s.State.valid() {
		return fieldErr("state", "%q is not a state", clip(string(s.State), 40))
	}
	if (s.State == Refused || s.State == Expired || s.State == Failed) != (s.Reason != "") {
		return fieldErr("reason", "required for refused, expired and failed only")
	}
	if err := checkText("reason", s.Reason, 32); err != nil {
		return err
	}
	if err := checkText("detail", s.Detail, MaxDetailLen); err != nil {
		return err
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return fieldErr("value", "must be a finite number")
	}
	if s.Time.IsZero() {
		return fieldErr("ts", "missing")
	}
	if y := s.Time.UTC().Year(); y < 2000 || y > 9999 {
		return fieldErr("ts", "year %d outside 2000..9999", y)
	}
	return nil
}

// AppendJSON appends c's canonical encoding to b. It does not validate c.
func (c *Command) AppendJSON(b []byte) []byte {
	b = append(b, `{"v":1,"id":`...)
	b = strconv.AppendQuote(b, c.ID)
	b = append(b, `,"device":`...)
	b = strconv.AppendQuote(b, c.Device)
	b = append(b, `,"actuator":`...)
	b = strconv.AppendQuote(b, c.Actuator)
	b = append(b, `,"value":`...)
	b = strconv.AppendFloat(b, c.Value, 'g', -1, 64)
	b = append(b, `,"deadline":"`...)
	b = c.Deadline.UTC().AppendFormat(b, reading.TimeLayout)
	b = append(b, `","by":`...)
	b = strconv.AppendQuote(b, c.By)
	b = append(b, `,"at":"`...)
	b = c.At.UTC().AppendFormat(b, reading.TimeLayout)
	return append(b, `"}`...)
}

// MarshalJSON encodes c canonically, validating it first.
func (c Command) MarshalJSON() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.AppendJSON(nil), nil
}

// UnmarshalJSON decodes and validates one command.
func (c *Command) UnmarshalJSON(data []byte) error {
	got, err := Decode(data)
	if err == nil {
		*c = got
	}
	return err
}

// AppendJSON appends s's canonical encoding to b. It does not validate s.
func (s *Status) AppendJSON(b []byte) []byte {
	b = append(b, `{"v":1,"id":`...)
	b = strconv.AppendQuote(b, s.ID)
	b = append(b, `,"device":`...)
	b = strconv.AppendQuote(b, s.Device)
	b = append(b, `,"actuator":`...)
	b = strconv.AppendQuote(b, s.Actuator)
	b = append(b, `,"state":`...)
	b = strconv.AppendQuote(b, string(s.State))
	if s.Reason != "" {
		b = append(b, `,"reason":`...)
		b = strconv.AppendQuote(b, s.Reason)
	}
	if s.Detail != "" {
		b = append(b, `,"detail":`...)
		b = strconv.AppendQuote(b, s.Detail)
	}
	b = append(b, `,"value":`...)
	b = strconv.AppendFloat(b, s.Value, 'g', -1, 64)
	b = append(b, `,"ts":"`...)
	b = s.Time.UTC().AppendFormat(b, reading.TimeLayout)
	return append(b, `"}`...)
}

// MarshalJSON encodes s canonically, validating it first.
func (s Status) MarshalJSON() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.AppendJSON(nil), nil
}

// UnmarshalJSON decodes and validates one status.
func (s *Status) UnmarshalJSON(data []byte) error {
	got, err := DecodeStatus(data)
	if err == nil {
		*s = got
	}
	return err
}

type commandWire struct {
	V        *int     `json:"v"`
	ID       *string  `json:"id"`
	Device   *string  `json:"device"`
	Actuator *string  `json:"actuator"`
	Value    *float64 `json:"value"`
	Deadline *string  `json:"deadline"`
	By       *string  `json:"by"`
	At       *string  `json:"at"`
}

type statusWire struct {
	V        *int     `json:"v"`
	ID       *string  `json:"id"`
	Device   *string  `json:"device"`
	Actuator *string  `json:"actuator"`
	State    *string  `json:"state"`
	Reason   *string  `json:"reason"`
	Detail   *string  `json:"detail"`
	Value    *float64 `json:"value"`
	TS       *string  `json:"ts"`
}

// Decode parses and validates one encoded command. It rejects input larger
// than MaxEncoded, unknown fields and versions, missing fields, trailing
// data and everything Validate rejects.
func Decode(data []byte) (Command, error) {
	var w commandWire
	if err := decodeStrict(data, &w); err != nil {
		return Command{}, err
	}
	if err := checkVersion(w.V); err != nil {
		return Command{}, err
	}
	var c Command
	var err error
	if c.ID, err = need("id", w.ID); err != nil {
		return Command{}, err
	}
	if c.Device, err = need("device", w.Device); err != nil {
		return Command{}, err
	}
	if c.Actuator, err = need("actuator", w.Actuator); err != nil {
		return Command{}, err
	}
	if w.Value == nil {
		return Command{}, fieldErr("value", "missing")
	}
	c.Value = *w.Value
	if c.Deadline, err = parseTime("deadline", w.Deadline); err != nil {
		return Command{}, err
	}
	if w.By != nil {
		c.By = *w.By
	}
	if c.At, err = parseTime("at", w.At); err != nil {
		return Command{}, err
	}
	return c, c.Validate()
}

// DecodeStatus parses and validates one encoded status, with the same
// rules as Decode.
func DecodeStatus(data []byte) (Status, error) {
	var w statusWire
	if err := decodeStrict(data, &w); err != nil {
		return Status{}, err
	}
	if err := checkVersion(w.V); err != nil {
		return Status{}, err
	}
	var s Status
	var err error
	if s.ID, err = need("id", w.ID); err != nil {
		return Status{}, err
	}
	if s.Device, err = need("device", w.Device); err != nil {
		return Status{}, err
	}
	if s.Actuator, err = need("actuator", w.Actuator); err != nil {
		return Status{}, err
	}
	st, err := need("state", w.State)
	if err != nil {
		return Status{}, err
	}
	s.State = State(st)
	if w.Reason != nil {
		s.Reason = *w.Reason
	}
	if w.Detail != nil {
		s.Detail = *w.Detail
	}
	if w.Value == nil {
		return Status{}, fieldErr("value", "missing")
	}
	s.Value = *w.Value
	if s.Time, err = parseTime("ts", w.TS); err != nil {
		return Status{}, err
	}
	return s, s.Validate()
}

func decodeStrict(data []byte, v any) error { return decodeLimited(data, v, MaxEncoded) }

// decodeLimited decodes one JSON value of at most limit bytes into v,
// refusing unknown fields and trailing data.
func decodeLimited(data []byte, v any, limit int) error {
	if len(data) > limit {
		return fmt.Errorf("command: %w: %d bytes, limit %d", ErrInvalid, len(data), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("command: %w: %v", ErrInvalid, clip(err.Error(), 200))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("command: %w: trailing data after the object", ErrInvalid)
	}
	return nil
}

func checkVersion(v *int) error {
	if v != nil && *v != Version {
		return fmt.Errorf("command: %w: version %d (this build reads %d)", ErrInvalid, *v, Version)
	}
	return nil
}

func need(field string, p *string) (string, error) {
	if p == nil {
		return "", fieldErr(field, "missing")
	}
	return *p, nil
}

func parseTime(field string, p *string) (time.Time, error) {
	if p == nil {
		return time.Time{}, fieldErr(field, "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, *p)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 time", clip(*p, 40))
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// checkText accepts printable UTF-8 of at most n bytes (no control characters).
func checkText(field, s string, n int) error {
	if len(s) > n {
		return fieldErr(field, "longer than %d bytes", n)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "not UTF-8")
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fieldErr(field, "control character %U", r)
		}
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("command: %w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
