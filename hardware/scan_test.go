package hardware

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	sht3xsim "github.com/tributary-iot/tributary/sim/chip/sht3x"
	sht4xsim "github.com/tributary-iot/tributary/sim/chip/sht4x"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

var update = flag.Bool("update", false, "rewrite testdata/scan-sim.golden")

// TestScanSim: Scan of the emulated board (one chip of each kind on bus 1,
// a DS18B20) probes it through the same code as a real one, identifies
// every chip and writes a snippet whose sensors are valid.
func TestScanSim(t *testing.T) {
	var out bytes.Buffer
	if err := Scan(context.Background(), &out, ScanOptions{Sim: true}); err != nil {
		t.Fatalf("Scan: %v\n%s", err, out.String())
	}
	const goldenFile = "testdata/scan-sim.golden"
	if *update {
		if err := os.WriteFile(goldenFile, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(goldenFile); err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (%v; go test -update rewrites it):\n%s", goldenFile, err, out.String())
	}

	_, snippet, ok := strings.Cut(out.String(), "names are yours to choose):\n\n")
	snippet, _, _ = strings.Cut(snippet, "\n(emulated")
	if !ok {
		t.Fatal("no snippet")
	}
	var file struct{ Sensors []SensorConfig }
	dec := yaml.NewDecoder(strings.NewReader(snippet))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil || len(file.Sensors) != 6 {
		t.Fatalf("the snippet does not decode (%v), or not to 6 sensors: %+v\n%s", err, file.Sensors, snippet)
	}
	if errs := Validate(file.Sensors, 0, nil); len(errs) > 0 {
		t.Fatalf("the snippet does not validate: %v\n%s", errs, snippet)
	}
	if refs := i2creg.All(); len(refs) != 0 {
		t.Fatalf("Scan left %d buses registered", len(refs))
	}
}

// TestScanProblems: no bus (not a Pi, I²C not enabled), permission denied
// and no 1-wire each say what to do, and exit 1.
func TestScanProblems(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := scan(context.Background(), &out, filepath.Join(dir, "w1-missing"), false)
	if err == nil || !strings.Contains(err.Error(), "no I²C bus found") || !strings.Contains(err.Error(), "raspi-config nonint do_i2c 0") {
		t.Errorf("no bus: %v", err)
	}
	if !strings.Contains(out.String(), "not enabled: enable it with `sudo raspi-config nonint do_onewire 0`") {
		t.Errorf("no 1-wire: output lacks how to enable it:\n%s", out.String())
	}

	if err := i2creg.Register("PERMTEST", nil, 7, func() (i2c.BusCloser, error) {
		return nil, &os.PathError{Op: "open", Path: "/dev/i2c-7", Err: syscall.EACCES}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i2creg.Unregister("PERMTEST") })
	w1 := filepath.Join(dir, "w1")
	if err := os.MkdirAll(filepath.Join(w1, "w1_bus_master1"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = scan(context.Background(), &out, w1, false)
	if err == nil || !strings.Contains(err.Error(), "permission denied on I²C bus 7: add your user to group i2c") {
		t.Errorf("permission denied: %v", err)
	}
	if !strings.Contains(out.String(), "no DS18B20 found") {
		t.Errorf("an empty 1-wire bus is not reported:\n%s", out.String())
	}
}

// foreignChip acknowledges everything and sends zeros (wrong CRCs): a chip
// no supported driver knows, at their address.
type foreignChip struct{}

func (foreignChip) Tx(w, r []byte) error { clear(r); return nil }

// TestProbeSharedAddresses: at 0x44 and 0x45, where an SHT3x and an SHT4x
// may sit, scan tries both identifications and reports the chip that one
// of them recognises, whichever family it is; an address neither
// recognises is reported once, naming both.
func TestProbeSharedAddresses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chips map[uint16]i2csim.Chip
		fault map[uint16]i2csim.Fault
		found []found
		lines []string // in the output
		not   []string // not in the output
	}{
		{
			name:  "SHT4x at 0x44, SHT3x at 0x45",
			chips: map[uint16]i2csim.Chip{0x44: sht4xsim.New(sht4xsim.Options{}), 0x45: sht3xsim.New(sht3xsim.Options{})},
			found: []found{{driver: "sht4x", bus: "T", addr: 0x44}, {driver: "sht3x", bus: "T", addr: 0x45}},
			lines: []string{"0x44  SHT4x    by its serial number", "0x45  SHT3x    by its serial number"},
			not:   []string{"something answered", "error while probing"},
		},
		{
			name:  "SHT3x at 0x44, SHT4x at 0x46",
			chips: map[uint16]i2csim.Chip{0x44: sht3xsim.New(sht3xsim.Options{}), 0x46: sht4xsim.New(sht4xsim.Options{})},
			found: []found{{driver: "sht3x", bus: "T", addr: 0x44}, {driver: "sht4x", bus: "T", addr: 0x46}},
			lines: []string{"0x44  SHT3x ", "0x46  SHT4x "},
			not:   []string{"something answered", "error while probing"},
		},
		{
			name:  "another chip at 0x44, a bus error at 0x45",
			chips: map[uint16]i2csim.Chip{0x44: foreignChip{}, 0x45: sht4xsim.New(sht4xsim.Options{})},
			fault: map[uint16]i2csim.Fault{0x45: i2csim.BusError},
			lines: []string{
				"0x44  something answered, but not as a sht3x or sht4x does (another chip at a sht3x or sht4x address)",
				"0x45  sht3x?  error while probing", "0x45  sht4x?  error while probing",
			},
			not: []string{"SHT4x ", "SHT3x "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := i2csim.NewBus("T")
			for a, c := range tc.chips {
				b.Attach(a, c)
			}
			for a, f := range tc.fault {
				b.SetFault(a, f)
			}
			var out bytes.Buffer
			got := probeBus(&out, b, "T")
			if !slices.Equal(got, tc.found) {
				t.Errorf("found %+v, want %+v", got, tc.found)
			}
			for _, l := range tc.lines {
				if !strings.Contains(out.String(), l) {
					t.Errorf("output lacks %q:\n%s", l, out.String())
				}
			}
			for _, l := range tc.not {
				if strings.Contains(out.String(), l) {
					t.Errorf("output has %q:\n%s", l, out.String())
				}
			}
			if !strings.Contains(out.String(), "(probed 0x23 0x44 0x45 0x46 0x48") {
				t.Errorf("each address is listed once:\n%s", out.String())
			}
		})
	}
}
