package bridge

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tributary-iot/tributary/reading/unit"
)

// compileField checks f and returns it normalised: Unit as its UCUM code,
// Scale 1 when unset.
func compileField(format string, f Field) (Field, error) {
	if f.Unit != "" {
		f.Unit, _ = unit.Normalize(f.Unit)
	}
	if f.Scale == 0 {
		f.Scale = 1
	}
	switch {
	case !finite(f.Scale):
		return Field{}, fmt.Errorf("scale %v: not a finite number", f.Scale)
	case !finite(f.Offset):
		return Field{}, fmt.Errorf("offset %v: not a finite number", f.Offset)
	case f.UnitField != "" && format != FormatFlat:
		return Field{}, errors.New("unit_field is for the flat format (SenML records carry their units in u and bu)")
	}
	_, t := f.Values["true"]
	_, fa := f.Values["false"]
	if t != fa {
		return Field{}, errors.New(`values: give both "true" and "false", or neither (JSON true is 1 and false 0 by default)`)
	}
	for _, k := range sortedKeys(f.Values) {
		if !finite(f.Values[k]) {
			return Field{}, fmt.Errorf("values %q: %v is not a finite number", k, f.Values[k])
		}
	}
	return f, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// boolValue is the value of a JSON boolean: Values["true"] or
// Values["false"], else 1 or 0.
func (f Field) boolValue(b bool) float64 {
	key := strconv.FormatBool(b)
	if v, ok := f.Values[key]; ok {
		return v
	}
	if b {
		return 1
	}
	return 0
}

// stringValue is the value of a string: Values[s], else s read as a
// number and passed through numberValue. It reports false for a string
// that is neither (ignored).
func (f Field) stringValue(s, from string) (float64, bool, error) {
	if v, ok := f.Values[s]; ok {
		return v, true, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%w: value %q beyond the range of a float64", errInvalid, s)
	}
	if err != nil || !finite(v) {
		return 0, false, nil
	}
	return f.numberValue(v, from)
}

// numberValue scales a numeric value (raw*Scale + Offset, rounded to 12
// significant digits as unit.Convert rounds, when they are not 1 and 0)
// and converts it from the unit the payload states ("" when it states
// none) to f.Unit. The error is a *unitError when the payload's unit
// cannot be converted to f.Unit, and wraps errInvalid when raw, the scaled
// value or the converted one is not finite (out of range: a dead letter,
// as the message holds a number it cannot store, not a field ignored).
func (f Field) numberValue(raw float64, from string) (float64, bool, error) {
	if !finite(raw) {
		return 0, false, fmt.Errorf("%w: value %v out of range", errInvalid, raw)
	}
	v := raw
	if f.Scale != 1 || f.Offset != 0 {
		x := raw * f.Scale
		v = unit.Round(x+f.Offset, max(math.Abs(x), math.Abs(f.Offset)))
	}
	if !finite(v) {
		return 0, false, fmt.Errorf("%w: value %v * scale %v + offset %v out of range", errInvalid, raw, f.Scale, f.Offset)
	}
	if from == "" || f.Unit == "" {
		return v, true, nil
	}
	c, err := unit.Convert(v, from, f.Unit)
	switch {
	case err == nil:
		return c, true, nil
	case errors.Is(err, unit.ErrRange):
		return 0, false, fmt.Errorf("%w: %v", errInvalid, err)
	case errors.Is(err, unit.ErrUnknown):
		return 0, false, &unitError{fmt.Sprintf("value in %q, the mapping stores %q: no conversion (a unit not in package reading/unit's table converts only to itself)", from, f.Unit)}
	default:
		pu, _ := unit.Lookup(from)
		mu, _ := unit.Lookup(f.Unit)
		return 0, false, &unitError{fmt.Sprintf("value in %q (%s), the mapping stores %q (%s): no exact conversion", from, pu.Dimension, f.Unit, mu.Dimension)}
	}
}

// A unitError says why a field's value cannot be converted to its unit;
// the decoders gather those of a message into one error wrapping errUnit.
type unitError struct{ msg string }

func (e *unitError) Error() string { return e.msg }

// maxUnitErrors is how many unit errors of one message its error names;
// the others are counted.
const maxUnitErrors = 5

// joinUnitErrors joins the first maxUnitErrors of errs and counts the rest.
func joinUnitErrors(errs []string) string {
	if len(errs) <= maxUnitErrors {
		return strings.Join(errs, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(errs[:maxUnitErrors], "; "), len(errs)-maxUnitErrors)
}
