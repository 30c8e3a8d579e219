package unit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Errors of Convert.
var (
	// ErrUnknown: a unit is not in the table (and the two are not spelled
	// the same).
	ErrUnknown = errors.New("unit not understood")
	// ErrIncompatible: the units measure different quantities.
	ErrIncompatible = errors.New("units of different quantities")
	// ErrRange: the value to convert, or the result, is not finite.
	ErrRange = errors.New("converted value out of range")
)

// byName indexes the table by code and by alias. Built once, never written
// after: safe for concurrent use.
var byName = func() map[string]*Unit {
	m := map[string]*Unit{}
	add := func(name string, u *Unit) {
		if prev, dup := m[name]; dup {
			panic(fmt.Sprintf("unit: %q is both %s and %s", name, prev.Code, u.Code))
		}
		m[name] = u
	}
	for i := range table {
		u := &table[i]
		add(u.Code, u)
		for _, a := range u.Aliases {
			add(a, u)
		}
	}
	return m
}()

// Normalize returns the UCUM code of a unit spelled code (a UCUM code, or
// an alias: "C", "°C" and "degC" are "Cel"; "%RH" is "%"; "mmHg" is
// "mm[Hg]"), and whether the table knows it. Spaces around code are
// ignored. A unit the table does not know is returned trimmed but
// otherwise as given, with false.
func Normalize(code string) (string, bool) {
	code = strings.TrimSpace(code)
	if u, ok := byName[code]; ok {
		return u.Code, true
	}
	return code, false
}

// Lookup returns the row of the table for code (any spelling Normalize
// understands).
func Lookup(code string) (Unit, bool) {
	u, ok := byName[strings.TrimSpace(code)]
	if !ok {
		return Unit{}, false
	}
	return *u, true
}

// Units returns a copy of the table, in its order (by dimension, each
// dimension's base unit first).
func Units() []Unit {
	out := make([]Unit, len(table))
	for i, u := range table {
		u.Aliases = append([]string(nil), u.Aliases...)
		out[i] = u
	}
	return out
}

// Convert converts v from one unit to another of the same dimension
// (exactly by the table's factors; temperatures by their offsets too), and
// rounds the result to 12 significant digits (of the larger of its terms,
// for temperatures), which removes the noise of
// binary floating point ("21.000000000000004") and lies far below any
// sensor's resolution. Units are given in any spelling Normalize
// understands. Two spellings of one unit, and two identical spellings of an
// unknown unit, return v unchanged. Otherwise the error wraps ErrUnknown
// ErrIncompatible, or ErrRange (v, or the result, not finite), and names
// both units.
func Convert(v float64, from, to string) (float64, error) {
	f, fok := Normalize(from)
	t, tok := Normalize(to)
	if f == t {
		return v, nil
	}
	if !fok || !tok {
		unknown := from
		if fok {
			unknown = to
		}
		return 0, fmt.Errorf("%q to %q: %q: %w", from, to, unknown, ErrUnknown)
	}
	fu, tu := byName[f], byName[t]
	if fu.Dimension != tu.Dimension {
		return 0, fmt.Errorf("%q (%s) to %q (%s): %w", from, fu.Dimension, to, tu.Dimension, ErrIncompatible)
	}
	x := (v + fu.Pre) * fu.Factor / tu.Factor
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, fmt.Errorf("%v %q to %q: %w", v, from, to, ErrRange)
	}
	return Round(x-tu.Pre, max(math.Abs(x), math.Abs(tu.Pre))), nil
}

// Round rounds v to 12 significant digits of mag, the magnitude of the
// terms it was computed from (the larger one's absolute value), which
// removes the noise of binary floating point: 32 °F is 273.15 K - 273.15
// = 0 °C, not 5.7e-14; 14.093 * 0.001 is 0.014093, not
// 0.014093000000000001. A v or mag that is zero, NaN or infinite is
// returned as it is.
func Round(v, mag float64) float64 {
	if v == 0 || mag == 0 || math.IsNaN(v) || math.IsInf(v, 0) || math.IsInf(mag, 0) {
		return v
	}
	s := strconv.FormatFloat(v, 'g', 12, 64)
	if prec := 11 - int(math.Floor(math.Log10(mag))); prec >= 0 {
		s = strconv.FormatFloat(v, 'f', prec, 64)
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return v
	}
	return r
}
