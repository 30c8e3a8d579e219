package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxFlatDepth bounds the nesting a flat message may have.
const maxFlatDepth = 8

// decodeFlat reads one JSON object, flattened by path, into readings.
func (m *mapper) decodeFlat(device string, payload []byte, arrival time.Time) (decoded, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return decoded{}, fmt.Errorf("%w: not a JSON object: %v", errMalformed, err)
	}
	if dec.More() {
		return decoded{}, fmt.Errorf("%w: trailing data after the object", errMalformed)
	}
	if obj == nil {
		return decoded{}, fmt.Errorf("%w: null, not a JSON object", errMalformed)
	}
	leaves := map[string]any{}
	if err := flatten("", obj, leaves, 0); err != nil {
		return decoded{}, err
	}
	var t time.Time // none: arrival (mapper.stamp)
	if m.TimeField != "" {
		if v, ok := leaves[m.TimeField]; ok {
			t = m.flatTime(v)
		}
	}
	var d decoded
	var unitErrs []string
	for _, path := range sortedKeys(leaves) {
		if path == m.TimeField || m.ignore[path] || m.unitFields[path] {
			continue
		}
		f, ok := m.Fields[path]
		if !ok {
			d.ignored++
			continue
		}
		from, err := flatUnit(f, leaves)
		if err != nil {
			unitErrs = append(unitErrs, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		var v float64
		switch x := leaves[path].(type) {
		case json.Number:
			var n float64
			if n, err = x.Float64(); err != nil || math.IsInf(n, 0) {
				return decoded{}, fmt.Errorf("%s: %w: value %s beyond the range of a float64", path, errInvalid, x)
			}
			v, ok, err = f.numberValue(n, from)
		case bool:
			v = f.boolValue(x)
		case string:
			v, ok, err = f.stringValue(x, from)
		default: // null
			ok = false
		}
		var ue *unitError
		switch {
		case errors.As(err, &ue):
			unitErrs = append(unitErrs, fmt.Sprintf("%s: %v", path, ue))
			continue
		case err != nil:
			return decoded{}, fmt.Errorf("%s: %w", path, err)
		case !ok:
			d.ignored++
			continue
		}
		d.readings = append(d.readings, m.reading(device, f, v, f.Unit, t))
	}
	if len(unitErrs) > 0 {
		return decoded{}, fmt.Errorf("%w: %s", errUnit, joinUnitErrors(unitErrs))
	}
	return d, nil
}

// flatUnit returns the unit the payload states for field f: the string at
// f.UnitField, or "" when f has none or the payload lacks it.
func flatUnit(f Field, leaves map[string]any) (string, error) {
	if f.UnitField == "" {
		return "", nil
	}
	switch u := leaves[f.UnitField].(type) {
	case nil:
		return "", nil
	case string:
		return u, nil
	default:
		return "", fmt.Errorf("unit field %s holds %v, not a unit", f.UnitField, u)
	}
}

// flatten adds the leaves of v to out under their paths.
func flatten(prefix string, v any, out map[string]any, depth int) error {
	if depth > maxFlatDepth {
		return fmt.Errorf("%w: nested deeper than %d levels at %q", errMalformed, maxFlatDepth, prefix)
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := flatten(join(k), e, out, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := flatten(join(strconv.Itoa(i)), e, out, depth+1); err != nil {
				return err
			}
		}
	default:
		out[prefix] = v
	}
	return nil
}

// zonelessLayouts are the times without a zone that devices send (Tasmota:
// "2026-11-27T06:00:00", local time).
var zonelessLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// flatTime reads a time field; the zero time if it is none.
func (m *mapper) flatTime(v any) time.Time {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t
		}
		for _, l := range zonelessLayouts {
			if t, err := time.ParseInLocation(l, x, m.loc); err == nil {
				return t
			}
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e15 {
			return time.Time{}
		}
		if f > 1e12 { // milliseconds
			return time.UnixMilli(int64(f))
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), fracNanos(frac))
	}
	return time.Time{}
}
