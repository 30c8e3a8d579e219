package bridge

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// valueMappings exercise the value rules of Field one by one.
const valueMappings = `
mappings:
  - name: flat
    topic: flat/+
    format: flat
    device_level: 2
    device_prefix: flat-
    sensor: s
    fields:
      tenths: {metric: temperature, unit: Cel, scale: 0.1}
      raw: {metric: temperature, unit: Cel, scale: 0.1, offset: -40}
      state: {metric: state, unit: "1", scale: 10, values: {true: 5, false: 2, "half": 0.5}}
      flag: {metric: flag, unit: "1"}
      t: {metric: temperature, unit: "deg C", unit_field: tu, values: {"n/a": -1}}
      dist: {metric: distance, unit: furlong, unit_field: du}
  - name: senml
    topic: senml/+
    format: senml
    device_level: 2
    device_prefix: senml-
    sensor: s
    fields:
      any: {metric: any}
      door: {metric: door, values: {true: 0, false: 1}}
      gauge: {metric: gauge, unit: "kPa", scale: 2, offset: 1}
`

func valueMapper(t *testing.T, name string) *mapper {
	t.Helper()
	ms, err := ParseMappings([]byte(valueMappings))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			c, err := compileMapping(m)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("no mapping %s", name)
	return nil
}

func TestFieldValues(t *testing.T) {
	for _, tc := range []struct {
		mapping, payload string
		want             []stored
	}{
		// raw*scale + offset, exactly.
		{"flat", `{"tenths":215}`, []stored{{"s", "temperature", 21.5, "Cel"}}},
		{"flat", `{"raw":650}`, []stored{{"s", "temperature", 25, "Cel"}}},
		{"flat", `{"raw":"650"}`, []stored{{"s", "temperature", 25, "Cel"}}}, // a number in a string too
		// Values state their meaning: neither scaled nor converted.
		{"flat", `{"state":true}`, []stored{{"s", "state", 5, "1"}}},
		{"flat", `{"state":false}`, []stored{{"s", "state", 2, "1"}}},
		{"flat", `{"state":"half"}`, []stored{{"s", "state", 0.5, "1"}}},
		{"flat", `{"state":3}`, []stored{{"s", "state", 30, "1"}}},
		{"flat", `{"t":"n/a","tu":"F"}`, []stored{{"s", "temperature", -1, "Cel"}}},
		// Booleans without values: 1 and 0.
		{"flat", `{"flag":true}`, []stored{{"s", "flag", 1, "1"}}},
		{"flat", `{"flag":false}`, []stored{{"s", "flag", 0, "1"}}},
		// The mapping's unit normalised ("deg C" is Cel); the payload's
		// converted; no unit field in the payload: the mapping's unit.
		{"flat", `{"t":212,"tu":"°F"}`, []stored{{"s", "temperature", 100, "Cel"}}},
		{"flat", `{"t":300,"tu":"K"}`, []stored{{"s", "temperature", 26.85, "Cel"}}},
		{"flat", `{"t":21}`, []stored{{"s", "temperature", 21, "Cel"}}},
		// A unit the table does not know is stored as written, and a
		// payload spelling it the same is accepted.
		{"flat", `{"dist":3,"du":"furlong"}`, []stored{{"s", "distance", 3, "furlong"}}},
		// SenML without a mapping unit: the record's, normalised, known
		// or not; "1" when it has none.
		{"senml", `[{"n":"any","u":"%RH","v":40}]`, []stored{{"s", "any", 40, "%"}}},
		{"senml", `[{"n":"any","u":"furlong","v":3}]`, []stored{{"s", "any", 3, "furlong"}}},
		{"senml", `[{"n":"any","v":3}]`, []stored{{"s", "any", 3, "1"}}},
		{"senml", `[{"n":"door","vb":true},{"n":"door","vb":false}]`, []stored{{"s", "door", 0, "1"}, {"s", "door", 1, "1"}}},
		// Scaled in the record's unit (bv + v), then converted: (1+2)*2+1
		// = 7 hPa is 0.7 kPa.
		{"senml", `[{"bv":1,"n":"gauge","u":"hPa","v":2}]`, []stored{{"s", "gauge", 0.7, "kPa"}}},
	} {
		m := valueMapper(t, tc.mapping)
		d, err := m.decode("dev", []byte(tc.payload), arrival)
		if err != nil {
			t.Errorf("%s: %v", tc.payload, err)
			continue
		}
		if got := storedOf(d.readings); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.payload, got, tc.want)
		}
	}
}

func TestFieldUnitRefused(t *testing.T) {
	for _, tc := range []struct{ mapping, payload, contains string }{
		{"flat", `{"dist":3,"du":"m"}`, `dist: value in "m", the mapping stores "furlong": no conversion`},
		{"flat", `{"t":3,"tu":"hPa"}`, `t: value in "hPa" (pressure), the mapping stores "Cel" (temperature): no exact conversion`},
		// Every refusal of a message is named, and nothing of it is kept.
		{"flat", `{"t":3,"tu":"hPa","dist":1,"du":"s","flag":true}`, `dist: value in "s"`},
		{"senml", `[{"n":"gauge","u":"W","v":1},{"n":"any","v":1}]`, `record 0 (gauge): value in "W" (power), the mapping stores "kPa" (pressure)`},
	} {
		m := valueMapper(t, tc.mapping)
		d, err := m.decode("dev", []byte(tc.payload), arrival)
		if !errors.Is(err, errUnit) || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s: %v, want a unit error containing %q", tc.payload, err, tc.contains)
		}
		if len(d.readings) != 0 {
			t.Errorf("%s: kept %v of a refused message", tc.payload, d.readings)
		}
	}
}

// A number that is out of range, in the payload or once scaled, is a
// dead letter (reason invalid) as one that overflows in unit conversion
// is, never a field silently left out (nor a message "stored" with no
// reading at all).
func TestFieldOverflowRefused(t *testing.T) {
	for _, tc := range []struct{ mapping, payload string }{
		{"flat", `{"state":1e308}`},                               // 1e308 * 10
		{"flat", `{"state":"1e308"}`},                             // in a string
		{"flat", `{"flag":1e309}`},                                // beyond float64 in the payload
		{"flat", `{"flag":"1e309","tenths":215}`},                 // in a string, beside a good field
		{"senml", `[{"n":"gauge","u":"kPa","v":1e308}]`},          // 1e308 * 2 + 1
		{"senml", `[{"bv":1e308,"n":"any","u":"kPa","v":1e308}]`}, // bv + v
		{"senml", `[{"n":"gauge","u":"hPa","v":-1e308}]`},         // * 2 overflows before the conversion
	} {
		m := valueMapper(t, tc.mapping)
		d, err := m.decode("dev", []byte(tc.payload), arrival)
		if !errors.Is(err, errInvalid) && !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v, %d readings, %d ignored; want an invalid message", tc.payload, err, len(d.readings), d.ignored)
		}
	}
}
