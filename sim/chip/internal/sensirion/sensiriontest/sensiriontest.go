// Package sensiriontest checks what the emulated Sensirion chips send,
// with the drivers' CRC-8 (written apart from the emulators'), so that
// each checks the other.
package sensiriontest

import (
	"testing"

	"github.com/tributary-iot/tributary/sensors/sht3x"
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
