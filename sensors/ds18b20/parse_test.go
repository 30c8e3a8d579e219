package ds18b20

import (
	"testing"

	"github.com/tributary-iot/tributary/sensors"
)

func TestParseW1Slave(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		milli int
		kind  string
	}{
		{"real probe", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 23125, ""},
		{"negative", "5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n", -10125, ""},
		{"shift rounding", "f7 ff 4b 46 7f ff 09 10 c6 : crc=c6 YES\nf7 ff 4b 46 7f ff 09 10 c6 t=-563\n", -563, ""},
		{"no final newline", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125", 23125, ""},
		{"crc NO", "ff ff ff ff ff ff ff ff ff : crc=c9 NO\n72 01 4b 46 7f ff 0e 10 57 t=-62\n", 0, "crc"},
		{"says YES, bytes disagree", "73 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n73 01 4b 46 7f ff 0e 10 57 t=23187\n", 0, "crc"},
		{"empty", "", 0, "bus"},
		{"all zero", "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", 0, "bus"},
		{"truncated", "72 01 4b 46 7f ff 0e", 0, "bus"},
		{"one line", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", 0, "bus"},
		{"t disagrees", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=25000\n", 0, "bus"},
		{"bad hex", "7g 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 0, "bus"},
		{"bad verdict", "72 01 4b 46 7f ff 0e 10 57 : crc=57 MAYBE\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 0, "bus"},
		{"bad t", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=2x\n", 0, "bus"},
	} {
		r, err := parseW1Slave([]byte(tc.in))
		if got := sensors.ErrorKind(err); got != tc.kind {
			t.Errorf("%s: error %v (kind %q), want kind %q", tc.name, err, got, tc.kind)
			continue
		}
		if err == nil && r.milli != tc.milli {
			t.Errorf("%s: %d m°C, want %d", tc.name, r.milli, tc.milli)
		}
	}
}

func TestParseTemperature(t *testing.T) {
	for _, tc := range []struct {
		in    string
		milli int
		kind  string
	}{
		{"23125\n", 23125, ""},
		{"-10125\n", -10125, ""},
		{"", 0, "bus"},
		{"\n", 0, "bus"},
		{"hot\n", 0, "bus"},
	} {
		r, err := parseTemperature([]byte(tc.in))
		if got := sensors.ErrorKind(err); got != tc.kind || (err == nil && r.milli != tc.milli) {
			t.Errorf("%q: %d m°C, %v; want %d, kind %q", tc.in, r.milli, err, tc.milli, tc.kind)
		}
	}
}

func TestCRC8(t *testing.T) {
	if got := crc8([]byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10}); got != 0x57 {
		t.Errorf("crc8 of a real scratchpad = %#02x, want 0x57", got)
	}
}

// FuzzParseW1Slave: whatever the file holds, the parser returns a reading
// or an error of a known kind, never panics, and a reading's temperature
// is the scratchpad's.
func FuzzParseW1Slave(f *testing.F) {
	f.Add([]byte("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"))
	f.Add([]byte("ff ff ff ff ff ff ff ff ff : crc=c9 NO\n72 01 4b 46 7f ff 0e 10 57 t=-62\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseW1Slave(b)
		if err != nil {
			if k := sensors.ErrorKind(err); k != "bus" && k != "crc" {
				t.Fatalf("error %v of kind %q", err, k)
			}
			return
		}
		want := int(int16(uint16(r.rom[0])|uint16(r.rom[1])<<8)) * 1000 / 16
		if r.milli < want-1 || r.milli > want+1 || crc8(r.rom[:]) != 0 {
			t.Fatalf("accepted %q: %d m°C from scratchpad % x", b, r.milli, r.rom)
		}
	})
}
