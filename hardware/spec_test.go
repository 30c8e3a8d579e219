package hardware

import (
	"strings"
	"testing"
)

// An address says what is wrong with it: not a number, or a number no
// device can have.
func TestParseAddrMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0x76", ""},
		{"118", ""},
		{"0x99", "outside the 7-bit I²C addresses"},
		{"0x02", "outside the 7-bit I²C addresses"},
		{"seventy", "write it in hex"},
	} {
		_, err := parseAddr(tc.in)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseAddr(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}
