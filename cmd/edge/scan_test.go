package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
)

// TestScanSim: edge scan --sim probes an emulated board (one chip of each
// kind on bus 1, a DS18B20) through the same code as a real one, identifies
// every chip and prints a snippet that edge check accepts.
func TestScanSim(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"scan", "--sim"}, &out, io.Discard); err != nil {
		t.Fatalf("scan --sim: %v\n%s", err, out.String())
	}
	golden(t, "scan-sim.golden", out.Bytes())

	// The snippet is a valid configuration.
	_, snippet, ok := strings.Cut(out.String(), "names are yours to choose):\n\n")
	snippet, _, _ = strings.Cut(snippet, "\n(emulated")
	if !ok {
		t.Fatal("no snippet")
	}
	if _, err := parseConfig([]byte(snippet)); err != nil {
		t.Fatalf("the snippet does not validate: %v\n%s", err, snippet)
	}
	// It released what it registered.
	if refs := i2creg.All(); len(refs) != 0 {
		t.Fatalf("scan --sim left %d buses registered", len(refs))
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
