package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://:s3cret@h:6379/0":      "redis://:xxxxx@h:6379/0",
		"mqtts://u:s3cret@h:8883":       "mqtts://u:xxxxx@h:8883",
		"mqtt://h:1883":                 "mqtt://h:1883",
		"mqtt:/u:s3cret@h":              "xxxxx@h",
		"mqtt//u:s3cret@h":              "xxxxx@h",
		"mqtt://u:1234/s3cret@h":        "mqtt://xxxxx@h",
		"mqtt://h:1883?password=s3cret": "mqtt://h:1883?xxxxx",
		"mqtt://h:1883#s3cret":          "mqtt://h:1883?xxxxx",
		"mqtt://u:p@h/x@y":              "mqtt://xxxxx@y",
		"http://[::1":                   "(unparsable URL)",
	} {
		got := RedactURL(raw)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("RedactURL(%q) shows the secret: %q", raw, got)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadFile(p); err != nil || s != "s3cret" {
		t.Errorf("ReadFile = %q, %v", s, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(empty); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("ReadFile of an empty file: %v", err)
	}
}
