package reading

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Version is the wire format version this package reads and writes.
const Version = 1

// Limits on the fields of a reading.
const (
	MaxIDLen     = 64   // device and sensor ids
	MaxMetricLen = 64   // metric names
	MaxUnitLen   = 16   // unit codes
	MaxEncoded   = 1024 // bytes of one encoded reading; larger input is refused unread
)

// TimeLayout is the layout of the ts field: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Reading is one sampled value. The zero value is not valid; see Validate.
type Reading struct {
	Device string    // device id
	Sensor string    // sensor on the device
	Metric string    // quantity measured
	Value  float64   // finite
	Unit   string    // UCUM-style unit code
	Time   time.Time // when it was sampled; encoded as UTC milliseconds
	Seq    uint64    // per-device sequence number, >= 1
}

// Errors returned by Validate and Decode, wrapped with the offending field.
var (
	ErrInvalid      = errors.New("invalid reading")
	ErrVersion      = errors.New("unsupported reading version")
	ErrTooLarge     = errors.New("reading too large")
	ErrUnknownField = errors.New("unknown field")
)

// FieldError reports which field of a reading is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "reading: " + e.Field + ": " + e.Reason }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem with r, as a *FieldError, or nil.
func (r *Reading) Validate() error {
	if err := checkID("device", r.Device); err != nil {
		return err
	}
	if err := checkID("sensor", r.Sensor); err != nil {
		return err
	}
	if err := checkMetric(r.Metric); err != nil {
		return err
	}
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return fieldErr("value", "must be a finite number, got %v", r.Value)
	}
	if err := checkUnit(r.Unit); err != nil {
		return err
	}
	if r.Time.IsZero() {
		return fieldErr("ts", "missing")
	}
	if y := r.Time.UTC().Year(); y < 2000 || y > 9999 {
		return fieldErr("ts", "year %d outside 2000..9999", y)
	}
	if r.Seq == 0 {
		return fieldErr("seq", "must be >= 1")
	}
	return nil
}

// ValidID reports whether s is a valid device or sensor id.
func ValidID(s string) bool { return checkID("", s) == nil }

func checkID(field, s string) error {
	if s == "" {
		return fieldErr(field, "missing")
	}
	if len(s) > MaxIDLen {
		return fieldErr(field, "longer than %d bytes", MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && (c == '.' || c == '_' || c == '-') {
			continue
		}
		return fieldErr(field, "%q: byte %d (%q) not allowed; use letters, digits, '.', '_' and '-', starting with a letter or digit", s, i, c)
	}
	return nil
}

func checkMetric(s string) error {
	if s == "" {
		return fieldErr("metric", "missing")
	}
	if len(s) > MaxMetricLen {
		return fieldErr("metric", "longer than %d bytes", MaxMetricLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			continue
		}
		return fieldErr("metric", "%q: byte %d (%q) not allowed; use lower-case letters, digits and '_'", s, i, c)
	}
	return nil
}

func checkUnit(s string) error {
	if s == "" {
		return fieldErr("unit", `missing; use "1" for a dimensionless value`)
	}
	if len(s) > MaxUnitLen {
		return fieldErr("unit", "longer than %d bytes", MaxUnitLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return fieldErr("unit", "%q: byte %d not printable ASCII", s, i)
		}
	}
	return nil
}

// AppendJSON appends the canonical encoding of r to b. It does not validate r;
// call Validate first for input that did not come from Decode.
func (r *Reading) AppendJSON(b []byte) []byte {
	b = append(b, `{"v":1,"device":`...)
	b = strconv.AppendQuote(b, r.Device)
	b = append(b, `,"sensor":`...)
	b = strconv.AppendQuote(b, r.Sensor)
	b = append(b, `,"metric":`...)
	b = strconv.AppendQuote(b, r.Metric)
	b = append(b, `,"value":`...)
	b = strconv.AppendFloat(b, r.Value, 'g', -1, 64)
	b = append(b, `,"unit":`...)
	b = strconv.AppendQuote(b, r.Unit)
	b = append(b, `,"ts":"`...)
	b = r.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	return append(b, '}')
}

// MarshalJSON encodes r canonically, validating it first.
func (r Reading) MarshalJSON() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.AppendJSON(make([]byte, 0, 160)), nil
}

// wire mirrors the JSON object for decoding.
type wire struct {
	V      *int     `json:"v"`
	Device *string  `json:"device"`
	Sensor *string  `json:"sensor"`
	Metric *string  `json:"metric"`
	Value  *float64 `json:"value"`
	Unit   *string  `json:"unit"`
	TS     *string  `json:"ts"`
	Seq    *uint64  `json:"seq"`
}

// UnmarshalJSON decodes and validates one reading.
func (r *Reading) UnmarshalJSON(data []byte) error {
	got, err := Decode(data)
	if err != nil {
		return err
	}
	*r = got
	return nil
}

// Decode parses and validates one encoded reading. It rejects input larger
// than MaxEncoded, unknown fields, unknown versions, missing fields, trailing
// data and every problem Validate finds.
func Decode(data []byte) (Reading, error) {
	if len(data) > MaxEncoded {
		return Reading{}, fmt.Errorf("reading: %w: %d bytes, limit %d", ErrTooLarge, len(data), MaxEncoded)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return Reading{}, decodeErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Reading{}, fmt.Errorf("reading: %w: trailing data after the object", ErrInvalid)
	}
	if w.V != nil && *w.V != Version {
		return Reading{}, fmt.Errorf("reading: %w %d (this build reads %d)", ErrVersion, *w.V, Version)
	}
	var r Reading
	for _, f := range []struct {
		name string
		src  *string
		dst  *string
	}{{"device", w.Device, &r.Device}, {"sensor", w.Sensor, &r.Sensor}, {"metric", w.Metric, &r.Metric}, {"unit", w.Unit, &r.Unit}} {
		if f.src == nil {
			return Reading{}, fieldErr(f.name, "missing")
		}
		*f.dst = *f.src
	}
	if w.Value == nil {
		return Reading{}, fieldErr("value", "missing")
	}
	r.Value = *w.Value
	if w.TS == nil {
		return Reading{}, fieldErr("ts", "missing")
	}
	t, err := time.Parse(time.RFC3339Nano, *w.TS)
	if err != nil {
		return Reading{}, fieldErr("ts", "%q is not an RFC 3339 time", *w.TS)
	}
	r.Time = t.UTC().Truncate(time.Millisecond)
	if w.Seq == nil {
		return Reading{}, fieldErr("seq", "missing")
	}
	r.Seq = *w.Seq
	if err := r.Validate(); err != nil {
		return Reading{}, err
	}
	return r, nil
}

func decodeErr(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fieldErr(typeErr.Field, "wrong JSON type %s", typeErr.Value)
	case bytes.HasPrefix([]byte(err.Error()), []byte("json: unknown field")):
		return fmt.Errorf("reading: %w %s", ErrUnknownField, err.Error()[len("json: unknown field "):])
	}
	return fmt.Errorf("reading: %w: malformed JSON: %v", ErrInvalid, err)
}
