package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConnFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := Conn{Name: "mqtt"}
	c.Register(fs, "broker `URL`", true, "user `name`")
	if err := fs.Parse([]string{"--mqtt", "mqtts://b:8883", "--mqtt-username", "u", "--mqtt-password-file", pw, "--mqtt-cert", "c.pem"}); err != nil {
		t.Fatal(err)
	}
	if c.URL != "mqtts://b:8883" || c.Username != "u" || !c.Given() {
		t.Errorf("parsed %+v", c)
	}
	if err := c.Check(); err == nil || err.Error() != "--mqtt-cert and --mqtt-key go together" {
		t.Errorf("Check with a cert and no key = %v", err)
	}
	got, err := c.Password()
	if err != nil || got != "s3cret" {
		t.Errorf("Password() = %q, %v", got, err)
	}
	c.PasswordFile = filepath.Join(dir, "missing")
	if _, err := c.Password(); err == nil || !strings.HasPrefix(err.Error(), "--mqtt-password-file: ") {
		t.Errorf("Password() of a missing file = %v", err)
	}
	r := Conn{Name: "redis"}
	fs = flag.NewFlagSet("y", flag.ContinueOnError)
	r.Register(fs, "Redis `URL`", false, "")
	if fs.Lookup("redis-username") != nil {
		t.Error("--redis-username registered without withUsername")
	}
	for _, n := range []string{"redis", "redis-ca", "redis-cert", "redis-key", "redis-password-file"} {
		if fs.Lookup(n) == nil {
			t.Errorf("--%s not registered", n)
		}
	}
	if r.Given() || r.Check() != nil {
		t.Errorf("empty Conn: Given %v, Check %v", r.Given(), r.Check())
	}
}

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want slog.Level
		err  string
	}{
		{nil, slog.LevelInfo, ""},
		{[]string{"--log-level", "debug"}, slog.LevelDebug, ""},
		{[]string{"--log-level", "WARN"}, slog.LevelWarn, ""},
		{[]string{"--log-level", "loud"}, 0, `--log-level "loud": want debug, info, warn or error`},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		l := RegisterLogLevel(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := l.Level()
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}

func TestServeBackground(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cli_test_gauge", Help: "A gauge."})
	g.Set(42)
	reg.MustRegister(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := ServeBackground(ln, MetricsMux(reg), slog.New(slog.DiscardHandler))
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{"/metrics": "cli_test_gauge 42", "/healthz": "ok"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}
	b.Stop(5 * time.Second)
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after Stop")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		answered bool
		out, err string
	}{
		{[]string{"--version"}, true, "tributary x", ""},
		{[]string{"--help"}, true, "Usage: x\n", ""},
		{[]string{"--n", "3"}, false, "", ""},
		{[]string{"extra"}, false, "", `unexpected arguments ["extra"] (flags only; see --help)`},
		{[]string{"--nope"}, false, "", "flag provided but not defined: -nope"},
	} {
		var out strings.Builder
		fs, version := NewFlagSet("x", "Usage: x\n", &out)
		n := fs.Int("n", 0, "a `number`")
		answered, err := Parse(fs, version, tc.args, &out)
		if answered != tc.answered || !strings.Contains(out.String(), tc.out) || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%v: answered %v, err %v, out %q", tc.args, answered, err, out.String())
		}
		if tc.args[0] == "--n" && *n != 3 {
			t.Errorf("--n 3: %d", *n)
		}
	}
	if err := fmt.Errorf("wrapped: %w", UsageError{Err: io.EOF}); !errors.As(err, new(UsageError)) || err.Error() != "wrapped: EOF" {
		t.Errorf("UsageError: %v", err)
	}
}
