package reading

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBatchRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	in := []Reading{
		{Device: "pi-1", Sensor: "bme", Metric: "temperature", Value: 21.5, Unit: "Cel", Time: ts, Seq: 7},
		{Device: "pi-1", Sensor: "bme", Metric: "humidity", Value: 40, Unit: "%", Time: ts, Seq: 8},
	}
	b := AppendBatch(nil, in)
	out, err := DecodeBatch(b)
	if err != nil {
		t.Fatalf("DecodeBatch(%s): %v", b, err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d readings, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("reading %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	good := `{"v":1,"device":"pi-1","sensor":"s","metric":"temperature","value":1,"unit":"Cel","ts":"2026-11-27T03:00:00Z","seq":1}`
	for _, tc := range []struct {
		name, in string
		want     error
		contains string
	}{
		{"object, not array", good, ErrInvalid, "not a JSON array"},
		{"empty", `[]`, ErrInvalid, "empty"},
		{"trailing", `[` + good + `] x`, ErrInvalid, "trailing"},
		{"bad reading", `[` + good + `,{"v":1}]`, ErrInvalid, "reading 1"},
		{"unknown field", `[` + strings.Replace(good, `"v":1`, `"v":1,"x":2`, 1) + `]`, ErrUnknownField, "reading 0"},
		{"too many", `[` + strings.Repeat(good+",", MaxBatch) + good + `]`, ErrTooLarge, "limit"},
		{"too large", `[` + strings.Repeat(" ", MaxBatchEncoded) + `]`, ErrTooLarge, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tc.in))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("DecodeBatch: got %v, want %v containing %q", err, tc.want, tc.contains)
			}
		})
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[{"v":1,"device":"pi-1","sensor":"s","metric":"temperature","value":1,"unit":"Cel","ts":"2026-11-27T03:00:00Z","seq":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		again, err := DecodeBatch(AppendBatch(nil, rs))
		if err != nil || len(again) != len(rs) {
			t.Fatalf("re-decoding a decoded batch: %v", err)
		}
	})
}
