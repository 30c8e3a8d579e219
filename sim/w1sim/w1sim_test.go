package w1sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestCRC8(t *testing.T) {
	// Scratchpads read from real probes.
	for _, tc := range []struct {
		b   []byte
		crc byte
	}{
		{[]byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10}, 0x57},
		{powerOnScratchpad[:8], 0x1c},
		{make([]byte, 8), 0x00},
		// A ROM code: family 28, serial, CRC.
		{[]byte{0x28, 0xff, 0x64, 0x1e, 0x15, 0x15, 0x02}, CRC8([]byte{0x28, 0xff, 0x64, 0x1e, 0x15, 0x15, 0x02})},
	} {
		if got := CRC8(tc.b); got != tc.crc {
			t.Errorf("CRC8(% x) = %#02x, want %#02x", tc.b, got, tc.crc)
		}
	}
	// A CRC over data and its own CRC is 0.
	sp := Scratchpad(-12.3)
	if CRC8(sp[:]) != 0 {
		t.Errorf("CRC8 over a scratchpad with its CRC = %#02x, want 0", CRC8(sp[:]))
	}
}

func TestScratchpad(t *testing.T) {
	for _, tc := range []struct {
		c     float64
		milli int
	}{
		{23.125, 23125},
		{0, 0},
		{-10.125, -10125},
		{-0.5625, -562}, // the kernel truncates towards zero
		{125, 125000},
		{-55, -55000},
		{21.37, 21375}, // rounded to 1/16 °C
	} {
		sp := Scratchpad(tc.c)
		if got := Millidegrees(sp); got != tc.milli {
			t.Errorf("%v °C: %d m°C, want %d", tc.c, got, tc.milli)
		}
	}
	if got, want := Scratchpad(23.125), [9]byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10, 0x57}; got != want {
		t.Errorf("Scratchpad(23.125) = % x, want a real probe's % x", got, want)
	}
}

func read(t *testing.T, tr *Tree, id, file string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tr.Root(), id, file))
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func TestFaults(t *testing.T) {
	const id = "28-0123456789ab"
	tr, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	temp := 23.125
	if err := tr.Add(id, func(time.Time) float64 { return temp }, AllFiles); err != nil {
		t.Fatal(err)
	}
	good := "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
	for _, tc := range []struct {
		fault       Fault
		slave, temp string // "-": the file is missing
	}{
		{OK, good, "23125\n"},
		{CRCError, "76 01 4b 46 7f ff 0e 10 57 : crc=" + hex(CRC8([]byte{0x76, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10})) +
			" NO\n72 01 4b 46 7f ff 0e 10 57 t=23375\n", ""},
		{Empty, "", ""},
		{PowerOnReset, "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n", "85000\n"},
		{Shorted, "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", "0\n"},
		{Truncated, good[:len(good)/4], "23125\n"},
		{Vanished, "-", "-"},
		{OK, good, "23125\n"}, // back
	} {
		if err := tr.SetFault(id, tc.fault); err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ file, want string }{{"w1_slave", tc.slave}, {"temperature", tc.temp}} {
			got, ok := read(t, tr, id, f.file)
			if !ok {
				got = "-"
			}
			if got != f.want {
				t.Errorf("%s: %s = %q, want %q", tc.fault, f.file, got, f.want)
			}
		}
	}
	// Stuck: the value freezes, whatever the probe's temperature does.
	if err := tr.SetFault(id, Stuck); err != nil {
		t.Fatal(err)
	}
	temp = 30
	if err := tr.Update(t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(t, tr, id, "temperature"); got != "23125\n" {
		t.Errorf("stuck: temperature %q, want the frozen 23125", got)
	}
	if err := tr.SetFault(id, OK); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(t, tr, id, "temperature"); got != "30000\n" {
		t.Errorf("unstuck: temperature %q, want 30000", got)
	}
	if err := tr.SetFault("28-000000000000", CRCError); err == nil {
		t.Error("SetFault on a missing probe succeeded")
	}
}

func hex(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func TestTreeLayout(t *testing.T) {
	tr, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    string
		files Files
	}{{"28-00000a000002", W1SlaveOnly}, {"28-00000a000001", TemperatureOnly}} {
		if err := tr.Add(tc.id, Fixed(20), tc.files); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Add("28-00000a000001", Fixed(1), AllFiles); err == nil {
		t.Error("added the same id twice")
	}
	for _, bad := range []string{"28-0123", "w1_bus_master1", "28-0123456789AB"} {
		if err := tr.Add(bad, Fixed(1), AllFiles); err == nil {
			t.Errorf("Add(%q) succeeded", bad)
		}
	}
	if got := strings.Join(tr.IDs(), " "); got != "28-00000a000001 28-00000a000002" {
		t.Errorf("IDs = %s", got)
	}
	entries, err := os.ReadDir(tr.Root())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "28-00000a000001 28-00000a000002 w1_bus_master1" {
		t.Errorf("tree holds %s", got)
	}
	if _, ok := read(t, tr, "28-00000a000002", "temperature"); ok {
		t.Error("an old kernel's probe has a temperature file")
	}
	if _, ok := read(t, tr, "28-00000a000001", "w1_slave"); ok {
		t.Error("a temperature-only probe has w1_slave")
	}
	if got, _ := read(t, tr, "28-00000a000001", "name"); got != "28-00000a000001\n" {
		t.Errorf("name = %q", got)
	}
}

func TestRunFollowsClimate(t *testing.T) {
	tr, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const id = "28-0000000000c1"
	climate := sim.NewClimate(sim.ClimateOptions{Seed: 1})
	if err := tr.Add(id, ClimateTemperature(climate, -2), AllFiles); err != nil {
		t.Fatal(err)
	}
	// A fake clock an hour a tick: Run writes the climate's temperature
	// (2 °C cooler) each time.
	now := t0
	ticks := 0
	ctx, cancel := context.WithCancel(context.Background())
	clock := func() time.Time {
		ticks++
		if ticks == 24 {
			cancel()
		}
		now = now.Add(time.Hour)
		return now
	}
	if err := tr.Run(ctx, time.Millisecond, clock); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	got, _ := read(t, tr, id, "temperature")
	var milli int
	if _, err := fmt.Sscan(got, &milli); err != nil {
		t.Fatal(err)
	}
	want := climate.DailyCycle(now) - 2
	if c := float64(milli) / 1000; c < want-3 || c > want+3 {
		t.Errorf("probe at %.3f °C, climate's daily cycle minus 2 is %.2f", c, want)
	}
}
