package bridge

import (
	"bytes"
	"encoding/json"
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
	for _, path := range sortedKeys(leaves) {
		if path == m.TimeField || m.ignore[path] {
			continue
		}
		f, ok := m.Fields[path]
		if !ok {
			d.ignored++
			continue
		}
		var v float64
		switch x := leaves[path].(type) {
		case json.Number:
			var err error
			if v, err = x.Float64(); err != nil || math.IsInf(v, 0) {
				d.ignored++
				continue
			}
		case bool:
			if x {
				v = 1
			}
		case string:
			if v, ok = stringValue(f, x); !ok {
				d.ignored++
				continue
			}
		default: // null
			d.ignored++
			continue
		}
		d.readings = append(d.readings, m.reading(device, f, v, f.Unit, t))
	}
	return d, nil
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
