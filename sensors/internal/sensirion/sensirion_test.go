package sensirion_test

import (
	"testing"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/internal/sensirion"
)

func TestCRC8(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want byte
	}{
		{[]byte{0xBE, 0xEF}, 0x92}, // the datasheets' example (SHT3x 4.12, SHT4x "Checksum Calculation")
		{[]byte{0x00, 0x00}, 0x81},
		{[]byte{}, 0xFF},
	} {
		if got := sensirion.CRC8(tc.in); got != tc.want {
			t.Errorf("CRC8(% x) = %#02x, want %#02x", tc.in, got, tc.want)
		}
	}
}

func TestWord(t *testing.T) {
	if w, err := sensirion.Word([]byte{0xBE, 0xEF, 0x92}); w != 0xBEEF || err != nil {
		t.Errorf("Word(be ef 92) = %#x, %v", w, err)
	}
	_, err := sensirion.Word([]byte{0xBE, 0xEF, 0x93})
	if sensors.ErrorKind(err) != "crc" || err.Error() != "CRC mismatch: word 0xbeef has CRC 0x93, want 0x92" {
		t.Errorf("Word(be ef 93): %v, want a CRC error naming both CRCs", err)
	}
}
