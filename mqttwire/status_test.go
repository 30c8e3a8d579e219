package mqttwire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStatusRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 0, 0, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		in   Status
		want string
	}{
		{Status{Online: true, Boot: "b-1", FirstSeq: 1001, Time: at},
			`{"v":1,"online":true,"boot":"b-1","first_seq":1001,"ts":"2026-11-27T05:00:00.123Z"}`},
		{Status{Boot: "b-1", FirstSeq: 9, Time: at}, `{"v":1,"online":false,"boot":"b-1"}`},
		// A boot without a trusted clock: no ts.
		{Status{Online: true, Boot: "b-2", FirstSeq: 2001}, `{"v":1,"online":true,"boot":"b-2","first_seq":2001}`},
	} {
		b, err := EncodeStatus(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("EncodeStatus(%+v) = %s, %v; want %s", tc.in, b, err, tc.want)
			continue
		}
		got, err := DecodeStatus(b)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.in
		if want.Online {
			want.Time = want.Time.UTC().Truncate(time.Millisecond)
		} else {
			want.FirstSeq, want.Time = 0, time.Time{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeStatus(%s) = %+v, want %+v", b, got, want)
		}
	}
}

func TestDecodeStatusRejects(t *testing.T) {
	for _, tc := range []struct{ in, contains string }{
		{`{"v":1,"online":true,"boot":"b","ts":"2026-11-27T05:00:00Z"}`, "first_seq"},
		{`{"v":1,"online":true,"boot":"b","first_seq":0,"ts":"2026-11-27T05:00:00Z"}`, "first_seq"},
		{`{"v":1,"online":true,"boot":"b","first_seq":1,"ts":"yesterday"}`, "RFC 3339"},
		{`{"v":1,"online":true,"boot":"b","first_seq":1,"ts":"1970-01-01T00:00:00Z"}`, "2000..9999"},
		{`{"v":1,"online":true,"boot":"b","first_seq":1,"ts":"0001-01-01T00:00:00Z"}`, "2000..9999"},
		{`{"v":1,"online":false}`, "required"},
		{`{"v":1,"boot":"b"}`, "required"},
		{`{"v":2,"online":false,"boot":"b"}`, `"v":1`},
		{`{"online":false,"boot":"b"}`, `"v":1`},
		{`{"v":1,"online":false,"boot":"b c"}`, "boot"},
		{`{"v":1,"online":false,"boot":"b","extra":1}`, "unknown field"},
		{`{"v":1,"online":false,"boot":"b"} {}`, "trailing"},
		{`[]`, "bad status"},
		{`{"v":1,"online":false,"boot":"` + strings.Repeat("b", MaxStatusEncoded) + `"}`, "limit"},
	} {
		_, err := DecodeStatus([]byte(tc.in))
		if !errors.Is(err, ErrBadStatus) || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("DecodeStatus(%s): %v, want ErrBadStatus containing %q", tc.in, err, tc.contains)
		}
	}
	if _, err := EncodeStatus(Status{Online: true, Boot: "b"}); !errors.Is(err, ErrBadStatus) {
		t.Errorf("EncodeStatus of an online status without first_seq: %v", err)
	}
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte(`{"v":1,"online":true,"boot":"b-1","first_seq":1001,"ts":"2026-11-27T05:00:00.123Z"}`))
	f.Add([]byte(`{"v":1,"online":false,"boot":"b-1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeStatus(data)
		if err != nil {
			return
		}
		b, err := EncodeStatus(s)
		if err != nil {
			t.Fatalf("re-encoding decoded %+v: %v", s, err)
		}
		again, err := DecodeStatus(b)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", b, again, err, s)
		}
	})
}
