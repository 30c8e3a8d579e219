package fanout

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/reading"
)

func TestDecodeControl(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		want    Selection
		wantErr string
	}{
		{`{"type":"subscribe","all":true}`, Selection{All: true}, ""},
		{`{"type":"subscribe","devices":["b","a","b"]}`, Selection{Devices: []string{"a", "b"}}, ""},
		{`{"type":"subscribe","devices":[]}`, Selection{Devices: []string{}}, ""},
		{` {"type":"subscribe","all":false,"devices":["a"]} `, Selection{Devices: []string{"a"}}, ""},
		{`{"type":"subscribe"}`, Selection{}, `give "all":true or "devices"`},
		{`{"type":"subscribe","all":false}`, Selection{}, `give "all":true or "devices"`},
		{`{"type":"subscribe","all":true,"devices":["a"]}`, Selection{}, "not both"},
		{`{"type":"unsubscribe","all":true}`, Selection{}, `type "unsubscribe"`},
		{`{"all":true}`, Selection{}, `type ""`},
		{`{"type":"subscribe","all":true}{}`, Selection{}, "trailing data"},
		{`{"type":"subscribe","all":"yes"}`, Selection{}, "cannot unmarshal"},
		{`{"type":"subscribe","devices":["a b"]}`, Selection{}, "invalid device id"},
		{`{"type":"subscribe","devices":"a"}`, Selection{}, "cannot unmarshal"},
		{`{"type":"subscribe","all":true,"extra":1}`, Selection{}, "unknown field"},
		{`[]`, Selection{}, "cannot unmarshal"},
		{``, Selection{}, "EOF"},
	} {
		got, err := DecodeControl([]byte(tc.msg))
		if tc.wantErr != "" {
			if !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got %+v, %v; want ErrControl with %q", tc.msg, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.All != tc.want.All || !slices.Equal(got.Devices, tc.want.Devices) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.msg, got, err, tc.want)
		}
	}
}

func FuzzDecodeControl(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","all":true}`,
		`{"type":"subscribe","devices":["greenhouse-1","shed"]}`,
		`{"type":"subscribe","devices":[]}`,
		`{"type":"subscribe","devices":["a","a"],"all":false}`,
		`{"type":"subscribe","devices":[""]}`,
		`{"type":"x"}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sel, err := DecodeControl(data)
		if err != nil {
			if !errors.Is(err, ErrControl) {
				t.Fatalf("error %v does not wrap ErrControl", err)
			}
			return
		}
		if sel.All && len(sel.Devices) > 0 {
			t.Fatalf("%q: both all and devices: %+v", data, sel)
		}
		if !slices.IsSorted(sel.Devices) || len(slices.Compact(slices.Clone(sel.Devices))) != len(sel.Devices) {
			t.Fatalf("%q: devices not sorted and unique: %q", data, sel.Devices)
		}
		for _, d := range sel.Devices {
			if !reading.ValidID(d) {
				t.Fatalf("%q: invalid id %q accepted", data, d)
			}
		}
		// What was accepted round-trips.
		m := map[string]any{"type": "subscribe"}
		if sel.All {
			m["all"] = true
		} else {
			m["devices"] = sel.Devices
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		sel2, err := DecodeControl(again)
		if err != nil || sel2.All != sel.All || !slices.Equal(sel2.Devices, sel.Devices) {
			t.Fatalf("%q: round trip %s gave %+v, %v; want %+v", data, again, sel2, err, sel)
		}
	})
}
