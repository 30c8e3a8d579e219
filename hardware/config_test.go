package hardware

import (
	"testing"
	"time"
)

// TestValidatePlaces: each mistake names its sensor and key, and says
// whether it is the value written at the key or the sensor as a whole (a
// key missing, a name taken), so that the caller can point at its line.
func TestValidatePlaces(t *testing.T) {
	cs := []SensorConfig{
		{Name: "air", Driver: "bme280"},
		{Name: "air", Driver: "sht3x", Address: "0x44"},
		{Name: "x"},
		{Name: "y", Driver: "relay"},
		{Name: "probe", Driver: "ds18b20"},
		{Name: "dup", Driver: "bmp280", Address: "0x76"},
		{Name: "door", Driver: "gpio-input", Pin: "GPIO4"},
		{Name: "slow", Driver: "sht3x", Address: "0x45", Timeout: 50 * time.Millisecond},
	}
	written := func(i int) []string {
		if i == 6 {
			return []string{"name", "driver", "pin", "address"} // "address: 0x00", zero but written
		}
		return nil
	}
	got := Validate(cs, 500*time.Millisecond, written)
	want := []ConfigError{
		{Index: 1, Key: "name", Whole: true, Msg: `sensor "air" already defined by sensors[0]`},
		{Index: 2, Key: "driver", Whole: true},
		{Index: 3, Key: "driver"},
		{Index: 4, Key: "interval", Whole: true},
		{Index: 5, Key: "address", Msg: "0x76 on bus 1 is already sensors[0]'s (a bme280)"},
		{Index: 6, Key: "address", Msg: "driver gpio-input does not take address (besides name, driver, interval, timeout and fallback, it takes pin, metric, pull, debounce, invert)"},
		{Index: 7, Key: "timeout", Msg: "50ms is below the minimum 100ms (leave it out for the agent's default)"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d mistakes, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Index != w.Index || g.Key != w.Key || g.Whole != w.Whole || (w.Msg != "" && g.Msg != w.Msg) {
			t.Errorf("mistake %d: %+v, want %+v", i, *g, w)
		}
	}
}
