package reading

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func valid() Reading {
	return Reading{
		Device: "greenhouse-1", Sensor: "bme280", Metric: "temperature",
		Value: 21.375, Unit: "Cel", Time: time.Date(2026, 11, 26, 23, 1, 13, 123e6, time.UTC), Seq: 42,
	}
}

const validJSON = `{"v":1,"device":"greenhouse-1","sensor":"bme280","metric":"temperature","value":21.375,"unit":"Cel","ts":"2026-11-26T23:01:13.123Z","seq":42}`

func TestEncodeCanonical(t *testing.T) {
	r := valid()
	if got := string(r.AppendJSON(nil)); got != validJSON {
		t.Fatalf("AppendJSON:\n got %s\nwant %s", got, validJSON)
	}
	b, err := json.Marshal(r)
	if err != nil || string(b) != validJSON {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	// Sub-millisecond time and non-UTC zones are normalised.
	r.Time = time.Date(2026, 11, 27, 0, 1, 13, 123456789, time.FixedZone("CET", 3600))
	if got := string(r.AppendJSON(nil)); !strings.Contains(got, `"ts":"2026-11-26T23:01:13.123Z"`) {
		t.Fatalf("time not normalised to UTC ms: %s", got)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	r, err := Decode([]byte(validJSON))
	if err != nil {
		t.Fatal(err)
	}
	if want := valid(); r != want {
		t.Fatalf("Decode = %+v, want %+v", r, want)
	}
	// v is optional on input; any RFC 3339 zone is accepted and normalised.
	r, err = Decode([]byte(`{"device":"d","sensor":"s","metric":"door","value":1,"unit":"1","ts":"2026-11-27T00:01:13.1239+01:00","seq":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Time.Format(TimeLayout); got != "2026-11-26T23:01:13.123Z" {
		t.Fatalf("ts = %s", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("a", MaxIDLen+1)
	cases := []struct {
		name, in, want string
		is             error
	}{
		{"not json", `{"device":`, "malformed JSON", ErrInvalid},
		{"array", `[1,2]`, "wrong JSON type", ErrInvalid},
		{"unknown field", strings.Replace(validJSON, `"value"`, `"vaule"`, 1), `unknown field "vaule"`, ErrUnknownField},
		{"future version", strings.Replace(validJSON, `"v":1`, `"v":2`, 1), "unsupported reading version 2", ErrVersion},
		{"trailing", validJSON + `{}`, "trailing data", ErrInvalid},
		{"missing device", strings.Replace(validJSON, `"device":"greenhouse-1",`, ``, 1), "device: missing", ErrInvalid},
		{"empty device", strings.Replace(validJSON, `"greenhouse-1"`, `""`, 1), "device: missing", ErrInvalid},
		{"long device", strings.Replace(validJSON, `"greenhouse-1"`, `"`+long+`"`, 1), "device: longer than 64", ErrInvalid},
		{"device with slash", strings.Replace(validJSON, `"greenhouse-1"`, `"a/b"`, 1), "device: \"a/b\": byte 1", ErrInvalid},
		{"device with brace", strings.Replace(validJSON, `"greenhouse-1"`, `"a}"`, 1), "not allowed", ErrInvalid},
		{"device leading dash", strings.Replace(validJSON, `"greenhouse-1"`, `"-a"`, 1), "byte 0", ErrInvalid},
		{"bad metric", strings.Replace(validJSON, `"temperature"`, `"Temp"`, 1), "metric: \"Temp\"", ErrInvalid},
		{"missing value", strings.Replace(validJSON, `"value":21.375,`, ``, 1), "value: missing", ErrInvalid},
		{"string value", strings.Replace(validJSON, `21.375`, `"21"`, 1), "value: wrong JSON type string", ErrInvalid},
		{"huge value", strings.Replace(validJSON, `21.375`, `1e999`, 1), "value", ErrInvalid},
		{"empty unit", strings.Replace(validJSON, `"Cel"`, `""`, 1), `unit: missing; use "1"`, ErrInvalid},
		{"unit with space", strings.Replace(validJSON, `"Cel"`, `"deg C"`, 1), "unit: \"deg C\"", ErrInvalid},
		{"bad ts", strings.Replace(validJSON, `2026-11-26T23:01:13.123Z`, `yesterday`, 1), `ts: "yesterday" is not an RFC 3339 time`, ErrInvalid},
		{"1970 ts", strings.Replace(validJSON, `2026-11-26`, `1970-01-01`, 1), "ts: year 1970", ErrInvalid},
		{"zero seq", strings.Replace(validJSON, `"seq":42`, `"seq":0`, 1), "seq: must be >= 1", ErrInvalid},
		{"negative seq", strings.Replace(validJSON, `"seq":42`, `"seq":-1`, 1), "seq: wrong JSON type", ErrInvalid},
		{"too large", `{"device":"` + strings.Repeat("x", MaxEncoded) + `"}`, "reading too large", ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.in))
			if err == nil {
				t.Fatalf("Decode(%s) succeeded", c.in)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
}

func TestValidateValue(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		r := valid()
		r.Value = v
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "finite") {
			t.Errorf("Validate(%v) = %v", v, err)
		}
		if _, err := json.Marshal(r); err == nil {
			t.Errorf("Marshal(%v) succeeded", v)
		}
	}
}

func TestFrame(t *testing.T) {
	a, b := valid(), valid()
	b.Seq, b.Metric, b.Unit, b.Value = 43, "humidity", "%", 55.5
	raw := [][]byte{a.AppendJSON(nil), b.AppendJSON(nil)}
	f, err := DecodeFrame(AppendReadingsFrame(nil, raw))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != FrameReadings || len(f.Readings) != 2 || f.Readings[0] != a || f.Readings[1] != b {
		t.Fatalf("frame = %+v", f)
	}
	if _, err := DecodeFrame([]byte(`{"v":1,"type":"readings","readings":[{"device":"x"}]}`)); err == nil {
		t.Fatal("frame with an invalid reading decoded")
	}
	if _, err := DecodeFrame([]byte(`{"v":9,"type":"status"}`)); !errors.Is(err, ErrVersion) {
		t.Fatalf("frame v9: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Add([]byte(`{"device":"d","sensor":"s","metric":"m","value":-0,"unit":"1","ts":"2026-01-01T00:00:00Z","seq":18446744073709551615}`))
	f.Add([]byte(`{"v":1,"device":"\u00e9"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes is valid, and its canonical form decodes to itself.
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded reading invalid: %v", err)
		}
		enc := r.AppendJSON(nil)
		r2, err := Decode(enc)
		if err != nil {
			t.Fatalf("canonical form %s does not decode: %v", enc, err)
		}
		if r2 != r && !(r.Value != r.Value) {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
		if string(r2.AppendJSON(nil)) != string(enc) {
			t.Fatalf("canonical form not stable: %s", enc)
		}
	})
}
