package unit

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		known    bool
	}{
		{"Cel", "Cel", true},
		{"C", "Cel", true},
		{"°C", "Cel", true},
		{"degC", "Cel", true},
		{" Cel ", "Cel", true},
		{"F", "[degF]", true},
		{"°F", "[degF]", true},
		{"K", "K", true},
		{"%RH", "%", true},
		{"%", "%", true},
		{"%EL", "%", true},
		{"/", "1", true},
		{"1", "1", true},
		{"mmHg", "mm[Hg]", true},
		{"inHg", "[in_i'Hg]", true},
		{"mbar", "hPa", true},
		{"hPa", "hPa", true},
		{"ppm", "[ppm]", true},
		{"ppb", "[ppb]", true},
		{"µg/m³", "ug/m3", true},
		{"dBm", "dB[mW]", true},
		{"l", "L", true},
		{"lux", "lx", true},
		{"Wh", "Wh", true},
		{"hpa", "hpa", false}, // case matters
		{"furlong", "furlong", false},
		{"", "", false},
	} {
		got, known := Normalize(tc.in)
		if got != tc.want || known != tc.known {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, known, tc.want, tc.known)
		}
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		v        float64
		from, to string
		want     float64
	}{
		{21.5, "Cel", "Cel", 21.5},
		{70.7, "F", "Cel", 21.5},
		{32, "[degF]", "Cel", 0},
		{212, "°F", "Cel", 100},
		{-40, "F", "C", -40},
		{294.65, "K", "Cel", 21.5},
		{0, "K", "Cel", -273.15},
		{21.5, "Cel", "[degF]", 70.7},
		{21.5, "Cel", "K", 294.65},
		{0, "Cel", "K", 273.15},
		{40, "%RH", "%", 40},
		{40, "%", "1", 0.4},
		{0.4, "1", "%", 40},
		{415, "ppm", "1", 0.000415},
		{1, "[ppm]", "[ppb]", 1000},
		{101325, "Pa", "hPa", 1013.25},
		{101.325, "kPa", "hPa", 1013.25},
		{1013.25, "mbar", "hPa", 1013.25},
		{760, "mmHg", "hPa", 1013.2472},       // UCUM: 760 * 133.322 Pa
		{29.92, "inHg", "hPa", 1013.20453696}, // 29.92 * 25.4 * 133.322 Pa
		{1, "bar", "hPa", 1000},
		{1, "atm", "Pa", 101325},
		{1, "[psi]", "Pa", 6894.75729317},
		{1234.5, "Wh", "kWh", 1.2345},
		{1, "kWh", "J", 3.6e6},
		{3300, "mV", "V", 3.3},
		{150, "mA", "A", 0.15},
		{1.5, "kW", "W", 1500},
		{36, "km/h", "m/s", 10},
		{90, "s", "min", 1.5},
		{1, "h", "s", 3600},
		{1, "[in_i]", "mm", 25.4},
		{2.5, "l", "m3", 0.0025},
		{60, "/min", "/s", 1},
	} {
		got, err := Convert(tc.v, tc.from, tc.to)
		if err != nil || got != tc.want {
			t.Errorf("Convert(%v, %q, %q) = %v, %v; want %v", tc.v, tc.from, tc.to, got, err, tc.want)
		}
	}
}

func TestConvertRefuses(t *testing.T) {
	for _, tc := range []struct {
		v        float64
		from, to string
		want     error
	}{
		{40, "%RH", "Cel", ErrIncompatible},
		{1, "W", "Wh", ErrIncompatible},
		{1, "[ppm]", "ug/m3", ErrIncompatible},
		{1, "dB", "dB[mW]", ErrIncompatible},
		{1, "furlong", "m", ErrUnknown},
		{1, "m", "furlong", ErrUnknown},
		{1, "hpa", "hPa", ErrUnknown},
		{math.MaxFloat64, "MWh", "J", ErrRange},
		{math.NaN(), "Cel", "K", ErrRange},
	} {
		_, err := Convert(tc.v, tc.from, tc.to)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.from) || !strings.Contains(err.Error(), tc.to) {
			t.Errorf("Convert(%v, %q, %q): %v, want %v naming both units", tc.v, tc.from, tc.to, err, tc.want)
		}
	}
	// Identical spellings of an unknown unit are the same unit.
	if v, err := Convert(3, "furlong", "furlong"); v != 3 || err != nil {
		t.Errorf("furlong to furlong: %v, %v", v, err)
	}
}

// Every code and alias normalises to its row's code, codes are valid
// reading units (printable ASCII, at most 16 bytes), and every row converts
// to its dimension's base and back.
func TestTable(t *testing.T) {
	bases := map[string]string{}
	for _, u := range Units() {
		if u.Factor <= 0 || u.Name == "" || u.Dimension == "" {
			t.Errorf("%s: incomplete row %+v", u.Code, u)
		}
		if len(u.Code) > 16 {
			t.Errorf("%s: longer than a reading's unit may be", u.Code)
		}
		for i := 0; i < len(u.Code); i++ {
			if u.Code[i] <= ' ' || u.Code[i] > '~' {
				t.Errorf("%s: not printable ASCII", u.Code)
			}
		}
		for _, s := range append([]string{u.Code}, u.Aliases...) {
			if got, ok := Normalize(s); got != u.Code || !ok {
				t.Errorf("Normalize(%q) = %q, %v; want %q", s, got, ok, u.Code)
			}
		}
		if _, ok := bases[u.Dimension]; !ok {
			if u.Factor != 1 || u.Pre != 0 {
				t.Errorf("%s: the first unit of %s is not its base", u.Code, u.Dimension)
			}
			bases[u.Dimension] = u.Code
		}
		for _, v := range []float64{0, 1, -17.5, 1234.5678} {
			b, err := Convert(v, u.Code, bases[u.Dimension])
			if err != nil {
				t.Fatal(err)
			}
			back, err := Convert(b, bases[u.Dimension], u.Code)
			if err != nil || math.Abs(back-v) > 1e-9*math.Max(1, math.Abs(v)) {
				t.Errorf("%v %s -> %v %s -> %v, %v", v, u.Code, b, bases[u.Dimension], back, err)
			}
		}
	}
}

func FuzzConvert(f *testing.F) {
	f.Add(21.5, "F", "Cel")
	f.Add(760.0, "mmHg", "hPa")
	f.Add(1.0, "%RH", "1")
	f.Add(1e308, "MWh", "J")
	f.Fuzz(func(t *testing.T, v float64, from, to string) {
		got, err := Convert(v, from, to)
		if err != nil {
			if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrIncompatible) && !errors.Is(err, ErrRange) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		f, _ := Normalize(from)
		tt, _ := Normalize(to)
		if f != tt && (math.IsNaN(got) || math.IsInf(got, 0)) {
			t.Fatalf("Convert(%v, %q, %q) = %v", v, from, to, got)
		}
		if f != tt && !math.IsNaN(v) && math.Abs(v) < 1e12 {
			back, err := Convert(got, to, from)
			if err != nil || math.Abs(back-v) > 1e-6*math.Max(1, math.Abs(v)) {
				t.Fatalf("%v %q -> %v %q -> %v, %v", v, from, got, to, back, err)
			}
		}
	})
}

func TestRound(t *testing.T) {
	for _, tc := range []struct{ v, mag, want float64 }{
		{14.093 * 0.001, 14.093 * 0.001, 0.014093},
		{0.1 + 0.2, 0.3, 0.3},
		{5.684341886080802e-14, 273.15, 0},
		{21.000000000000004, 294.15, 21},
		{1e-9, 1e-9, 1e-9},
		{0, 1, 0},
	} {
		if got := Round(tc.v, tc.mag); got != tc.want {
			t.Errorf("Round(%v, %v) = %v, want %v", tc.v, tc.mag, got, tc.want)
		}
	}
}
