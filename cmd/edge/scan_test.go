package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2creg"
)

// TestScanSim: edge scan --sim prints a snippet that edge check accepts
// (hardware's tests pin the rest of its output).
func TestScanSim(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"scan", "--sim"}, &out, io.Discard); err != nil {
		t.Fatalf("scan --sim: %v\n%s", err, out.String())
	}
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
