package ds18b20_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/ds18b20"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

const id = "28-0123456789ab"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tree returns an emulated bus with one probe at *temp °C.
func tree(t testing.TB, temp *float64, files w1sim.Files) *w1sim.Tree {
	t.Helper()
	tr, err := w1sim.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(id, func(time.Time) float64 { return *temp }, files); err != nil {
		t.Fatal(err)
	}
	return tr
}

// readT reads s once and returns the value or the error's kind.
func readT(t *testing.T, s *ds18b20.Sensor) (float64, string) {
	t.Helper()
	ss, err := s.Read(context.Background())
	if err != nil {
		return 0, sensors.ErrorKind(err)
	}
	if len(ss) != 1 || ss[0].Metric != sensors.MetricTemperature || ss[0].Unit != sensors.UnitCelsius {
		t.Fatalf("Read = %+v, want one temperature in Cel", ss)
	}
	if err := ss[0].Validate(); err != nil {
		t.Fatal(err)
	}
	return ss[0].Value, ""
}

func TestValues(t *testing.T) {
	for _, files := range []w1sim.Files{w1sim.AllFiles, w1sim.W1SlaveOnly, w1sim.TemperatureOnly} {
		temp := 21.375
		tr := tree(t, &temp, files)
		s, err := ds18b20.New(ds18b20.Options{Root: tr.Root(), ID: strings.ToUpper(id)})
		if err != nil {
			t.Fatal(err)
		}
		if s.ID() != id || s.Name() != "ds18b20" {
			t.Errorf("id %q name %q", s.ID(), s.Name())
		}
		for _, tc := range []struct{ in, want float64 }{
			{21.375, 21.375},
			{-10.125, -10.125},
			{0, 0},
			{21.37, 21.375}, // 1/16 °C steps
			{125, 125},
			{-55, -55},
			{84.9, 84.875},
		} {
			temp = tc.in
			if err := tr.Update(t0); err != nil {
				t.Fatal(err)
			}
			if got, kind := readT(t, s); kind != "" || got != tc.want {
				t.Errorf("files %d: %v °C read as %v (%s), want %v", files, tc.in, got, kind, tc.want)
			}
		}
		// Close to 85 °C already, 85.000 can be real.
		temp = 85
		if err := tr.Update(t0); err != nil {
			t.Fatal(err)
		}
		if got, kind := readT(t, s); kind != "" || got != 85 {
			t.Errorf("85 °C after 84.875: %v (%s), want it accepted", got, kind)
		}
	}
}

func TestFaults(t *testing.T) {
	// Every fault the kernel shows, each to its kind of error, and the
	// probe read again once it behaves.
	temp := 20.5
	tr := tree(t, &temp, w1sim.AllFiles)
	s, err := ds18b20.New(ds18b20.Options{Root: tr.Root(), StuckAfter: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault w1sim.Fault
		temp  float64
		kind  string
	}{
		{w1sim.OK, 20.5, ""},
		{w1sim.CRCError, 20.5, "crc"},
		{w1sim.Empty, 20.5, "bus"},
		{w1sim.PowerOnReset, 20.5, "out_of_range"},
		{w1sim.Shorted, 20.5, "bus"},
		{w1sim.Truncated, 20.5, "bus"},
		{w1sim.Vanished, 20.5, "no_device"},
		{w1sim.OK, 21, ""}, // came back
		{w1sim.OK, 130, "out_of_range"},
		{w1sim.OK, -60, "out_of_range"},
		{w1sim.OK, -127, "out_of_range"},
		{w1sim.OK, 22, ""},
	} {
		temp = tc.temp
		if err := tr.SetFault(id, tc.fault); err != nil {
			t.Fatal(err)
		}
		got, kind := readT(t, s)
		if kind != tc.kind {
			t.Errorf("%s at %v °C: kind %q, want %q", tc.fault, tc.temp, kind, tc.kind)
		}
		if kind == "" && got != tc.temp {
			t.Errorf("%s: %v °C, want %v", tc.fault, got, tc.temp)
		}
	}
	// Stuck: the same raw value StuckAfter times in a row.
	if err := tr.SetFault(id, w1sim.Stuck); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := range 6 {
		temp = 22 + float64(i)
		if err := tr.Update(t0); err != nil {
			t.Fatal(err)
		}
		_, kind := readT(t, s)
		kinds = append(kinds, kind)
	}
	// The 22 read before counts: stuck from the 4th read on.
	if got := strings.Join(kinds, ","); got != ",,,stuck,stuck,stuck" {
		t.Errorf("stuck probe read as %q", got)
	}
	if err := tr.SetFault(id, w1sim.OK); err != nil {
		t.Fatal(err)
	}
	if got, kind := readT(t, s); kind != "" || got != 27 {
		t.Errorf("unstuck: %v (%s), want 27", got, kind)
	}
}

func TestPowerOnResetOldKernel(t *testing.T) {
	// Where only w1_slave exists, the same kinds come from its lines.
	temp := 20.0
	tr := tree(t, &temp, w1sim.W1SlaveOnly)
	s, err := ds18b20.New(ds18b20.Options{Root: tr.Root(), ID: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault w1sim.Fault
		kind  string
	}{{w1sim.PowerOnReset, "out_of_range"}, {w1sim.CRCError, "crc"}, {w1sim.Vanished, "no_device"}, {w1sim.OK, ""}} {
		if err := tr.SetFault(id, tc.fault); err != nil {
			t.Fatal(err)
		}
		if _, kind := readT(t, s); kind != tc.kind {
			t.Errorf("%s: kind %q, want %q", tc.fault, kind, tc.kind)
		}
	}
}

func TestNewAndScan(t *testing.T) {
	temp := 20.0
	tr := tree(t, &temp, w1sim.AllFiles)
	if err := tr.Add("28-00000000000b", w1sim.Fixed(5), w1sim.AllFiles); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add("10-000000000001", w1sim.Fixed(5), w1sim.AllFiles); err != nil { // a DS18S20: not ours
		t.Fatal(err)
	}
	ids, err := ds18b20.Scan(tr.Root())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids, " "); got != "28-00000000000b "+id {
		t.Errorf("Scan = %s", got)
	}
	if _, err := ds18b20.New(ds18b20.Options{Root: tr.Root()}); err == nil || !strings.Contains(err.Error(), "28-00000000000b") {
		t.Errorf("New without ID among two probes: %v, want an error naming them", err)
	}
	s, err := ds18b20.New(ds18b20.Options{Root: tr.Root(), ID: "28-00000000000b", Name: "soil"})
	if err != nil {
		t.Fatal(err)
	}
	if v, kind := readT(t, s); v != 5 || kind != "" || s.Name() != "soil" {
		t.Errorf("read %v (%s) from %s", v, kind, s.Name())
	}

	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		opt  ds18b20.Options
		kind string
	}{
		{"no bus", ds18b20.Options{Root: filepath.Join(empty, "nope")}, "no_device"},
		{"no probe", ds18b20.Options{Root: empty}, "no_device"},
		{"absent id", ds18b20.Options{Root: tr.Root(), ID: "28-ffffffffffff"}, "no_device"},
		{"bad id", ds18b20.Options{Root: tr.Root(), ID: "28-xyz"}, "other"},
		{"bad name", ds18b20.Options{Root: tr.Root(), ID: id, Name: "a b"}, "other"},
	} {
		_, err := ds18b20.New(tc.opt)
		if got := sensors.ErrorKind(err); got != tc.kind {
			t.Errorf("%s: %v (kind %q), want %q", tc.name, err, got, tc.kind)
		}
	}
	if _, err := ds18b20.Scan(filepath.Join(empty, "nope")); sensors.ErrorKind(err) != "no_device" || !strings.Contains(err.Error(), "w1-gpio") {
		t.Errorf("Scan of a missing root: %v, want no_device and a hint", err)
	}
}

func TestReadHonoursContext(t *testing.T) {
	// A FIFO for w1_slave blocks the read as a real conversion does, until
	// the test writes the scratchpad.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, id, "w1_slave")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ds18b20.New(ds18b20.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read of a blocked file: %v, want the deadline", err)
	}
	// The conversion completes: the read left running gets its data...
	line := "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// ...and the next Read waits for it, then reads anew (a plain file
	// now, with another value).
	tmp := filepath.Join(dir, id, "new")
	if err := os.WriteFile(tmp, []byte(w1Slave(w1sim.Scratchpad(-1.5))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, fifo); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if ss, err := s.Read(ctx2); err != nil || ss[0].Value != -1.5 {
		t.Errorf("second Read: %v, %v; want the new file's -1.5 °C", ss, err)
	}
}

// w1Slave renders a scratchpad as w1_therm prints it when the CRC holds.
func w1Slave(rom [9]byte) string {
	var b strings.Builder
	for range 2 {
		for _, x := range rom {
			fmt.Fprintf(&b, "%02x ", x)
		}
		if b.Len() < 30 {
			fmt.Fprintf(&b, ": crc=%02x YES\n", rom[8])
		}
	}
	fmt.Fprintf(&b, "t=%d\n", w1sim.Millidegrees(rom))
	return b.String()
}

func TestFollowsClimate(t *testing.T) {
	// A probe in the shade of a simulated climate, rewritten every
	// simulated minute for a day: the driver reads what the climate says,
	// to 1/16 °C.
	climate := sim.NewClimate(sim.ClimateOptions{Seed: 2})
	twin := sim.NewClimate(sim.ClimateOptions{Seed: 2})
	tr, err := w1sim.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The tree's time first, so that Add asks the climate about t0.
	if err := tr.Update(t0); err != nil {
		t.Fatal(err)
	}
	if err := tr.Add(id, w1sim.ClimateTemperature(climate, -1.5), w1sim.AllFiles); err != nil {
		t.Fatal(err)
	}
	twin.At(t0)
	s, err := ds18b20.New(ds18b20.Options{Root: tr.Root()})
	if err != nil {
		t.Fatal(err)
	}
	for m := 1; m < 24*60; m++ {
		now := t0.Add(time.Duration(m) * time.Minute)
		if err := tr.Update(now); err != nil {
			t.Fatal(err)
		}
		got, kind := readT(t, s)
		want := twin.At(now).Temperature - 1.5
		// 1/16 °C steps, then m°C truncated.
		if kind != "" || got < want-1.0/32-0.001 || got > want+1.0/32+0.001 {
			t.Fatalf("minute %d: read %v (%s), climate says %.4f", m, got, kind, want)
		}
	}
}
