package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestCheckMistakes: edge check explains every mistake of a file, each
// with its line, in line order, and exits 1.
func TestCheckMistakes(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", "testdata/check-mistakes.yaml"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is not valid") {
		t.Fatalf("check of a bad file: %v", err)
	}
	if _, isUsage := err.(usageError); isUsage {
		t.Fatal("a bad file is not a usage error (exit 1, not 2)")
	}
	golden(t, "check-mistakes.golden", out.Bytes())
}

// TestCheckValid: edge check prints what it would run, exit 0.
func TestCheckValid(t *testing.T) {
	for _, tc := range []struct{ file, golden string }{
		{"testdata/sim-all.yaml", "check-sim-all.golden"},
		{"../../deploy/edge/pi-greenhouse.yaml", "check-pi-greenhouse.golden"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"check", "--config", tc.file}, &out, io.Discard); err != nil {
			t.Fatalf("check %s: %v", tc.file, err)
		}
		golden(t, tc.golden, out.Bytes())
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "--config"}, {"check", "--config", "a", "b"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if _, isUsage := err.(usageError); !isUsage {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	if err := run(context.Background(), []string{"check", "--config", "testdata/nonexistent.yaml"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "nonexistent.yaml") {
		t.Errorf("check of a missing file: %v", err)
	}
}

// TestCheckMissingFiles: a file the uplink names that cannot be read is a
// warning (the check still passes, as a package's postinst runs it before
// the secrets are in place); once it exists, the warning is gone.
func TestCheckMissingFiles(t *testing.T) {
	dir := t.TempDir()
	ca, pw := dir+"/ca.pem", dir+"/redis.pw"
	conf := dir + "/edge.yaml"
	cfg := "device: pi-1\nuplink:\n  url: rediss://pi-1@redis.example.net:6380\n  ca_file: " + ca + "\n  password_file: " + pw + "\n" +
		"sensors:\n  - name: air\n    driver: bme280\n    address: 0x76\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() string {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"check", "--config", conf}, &out, io.Discard); err != nil {
			t.Fatalf("check: %v\n%s", err, out.String())
		}
		return out.String()
	}
	out := check()
	for _, want := range []string{"warning: uplink.ca_file " + ca + " cannot be read", "warning: uplink.password_file " + pw + " cannot be read"} {
		if !strings.Contains(out, want) {
			t.Errorf("check without the files: no %q in\n%s", want, out)
		}
	}
	for _, f := range []string{ca, pw} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out := check(); strings.Contains(out, "warning") {
		t.Errorf("check with the files still warns:\n%s", out)
	}
}
