// Package sensiriontest drives the emulated Sensirion chips in their tests
// and checks what they send with the drivers' CRC-8 (written apart from
// the emulators'), so that each checks the other.
package sensiriontest

import (
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sensors/sht3x"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

// Words checks the CRC of each 3-byte group of b (a word, most significant
// byte first, and its CRC) and returns the words; a bad CRC fails t.
func Words(t testing.TB, b []byte) []uint16 {
	t.Helper()
	var out []uint16
	for i := 0; i+3 <= len(b); i += 3 {
		if got, want := b[i+2], sht3x.CRC8(b[i:i+2]); got != want {
			t.Fatalf("word %d % x: CRC %#02x, want %#02x", i/3, b[i:i+2], got, want)
		}
		out = append(out, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return out
}

// GoodCRC reports whether b[2] is the CRC of the word b[0:2].
func GoodCRC(b []byte) bool { return b[2] == sht3x.CRC8(b[:2]) }

// Measure sends command to c, lets d pass on clk and reads the six bytes
// of the result (two words and their CRCs); a failed transfer fails t.
func Measure(t testing.TB, c i2csim.Chip, clk *sensorstest.Clock, command []byte, d time.Duration) []byte {
	t.Helper()
	if err := c.Tx(command, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(d)
	r := make([]byte, 6)
	if err := c.Tx(nil, r); err != nil {
		t.Fatal(err)
	}
	return r
}
