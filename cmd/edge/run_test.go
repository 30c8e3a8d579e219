package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running is run() in a goroutine, its log in stderr.
type running struct {
	*proctest.Run
	stderr *proctest.Log
}

func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	r := proctest.Go(t, func(ctx context.Context, log io.Writer) error { return run(ctx, args, io.Discard, log) })
	return &running{Run: r, stderr: r.Log}
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	return r.Stop(t)
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func history(t *testing.T, srv *redistest.Server, dev string) []reading.Reading {
	t.Helper()
	st := store.New(srv.Client(t), store.Options{})
	raw, err := st.History(context.Background(), dev, store.Query{})
	if err != nil {
		return nil
	}
	out := make([]reading.Reading, len(raw))
	for i, b := range raw {
		if out[i], err = reading.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestRunSimulatedToRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	r := startRun(t, "--device", "edge-test-1", "--redis", srv.URL(), "--state-dir", t.TempDir(),
		"--interval", "10ms", "--metrics-listen", "127.0.0.1:0")
	await(t, "readings in Redis", func() bool { return len(history(t, srv, "edge-test-1")) >= 20 })

	// The metrics endpoint is logged; it serves the agent's metrics.
	url := r.stderr.Await(t, `metrics=(http://\S+/metrics)`, 20*time.Second)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tributary_edge_readings_total{sensor="climate"}`, "tributary_edge_uplink_up 1", "go_goroutines",
		"tributary_edge_spool_readings", `tributary_edge_sensor_up{sensor="climate"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// /health beside it: every sensor ok, the spool's state.
	resp, err = http.Get(strings.TrimSuffix(url, "metrics") + "health")
	if err != nil {
		t.Fatal(err)
	}
	var h health
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || h.Device != "edge-test-1" || h.Boot == "" || len(h.Sensors) == 0 || h.Spool.Dropped == nil {
		t.Fatalf("/health: %d %+v %v", resp.StatusCode, h, err)
	}
	for _, sh := range h.Sensors {
		if sh.State != "ok" || sh.LastOK.IsZero() {
			t.Errorf("/health: sensor %+v, want ok", sh)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	got := history(t, srv, "edge-test-1")
	series := map[string]bool{}
	for i, rd := range got {
		if rd.Seq != uint64(i+1) {
			t.Fatalf("reading %d seq %d", i, rd.Seq)
		}
		series[rd.Sensor+"/"+rd.Metric] = true
	}
	for _, s := range []string{"climate/temperature", "climate/humidity", "climate/pressure", "door/door"} {
		if !series[s] {
			t.Errorf("no %s readings; got %v", s, series)
		}
	}
	if !strings.Contains(r.stderr.String(), "using simulated sensors") {
		t.Errorf("log does not say that it uses simulated sensors:\n%s", r.stderr.String())
	}
}

func TestRunConfigFileAndPassword(t *testing.T) {
	const secret = "s3cret-pw"
	srv := redistest.Start(t, redistest.Options{Password: secret})
	dir := t.TempDir()
	pwf := filepath.Join(dir, "pw")
	cfg := filepath.Join(dir, "edge.yaml")
	write(t, pwf, secret+"\n")
	write(t, cfg, `device: from-file
interval: 1h
uplink:
  url: redis://`+srv.Addr()+`
  password_file: `+pwf+`
metrics_listen: ""
sensors:
  - name: t1
    driver: sim-temperature
    interval: 10ms
  - name: front
    driver: sim-door
    interval: 20ms
`)
	// The flag overrides the file's device; the URL with a password is logged redacted.
	r := startRun(t, "--config", cfg, "--device", "from-flag", "--state-dir", dir,
		"--redis", "redis://:"+secret+"@"+srv.Addr())
	await(t, "readings of both sensors", func() bool {
		seen := map[string]bool{}
		for _, rd := range history(t, srv, "from-flag") {
			seen[rd.Sensor] = true
		}
		return seen["t1"] && seen["front"]
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	logs := r.stderr.String()
	if strings.Contains(logs, secret) {
		t.Fatalf("the password appears in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "redis://:xxxxx@") || !strings.Contains(logs, "metrics=disabled") {
		t.Fatalf("log lacks the redacted URL or disabled metrics:\n%s", logs)
	}
	if n := len(history(t, srv, "from-file")); n != 0 {
		t.Fatalf("%d readings under the file's device id, which the flag overrode", n)
	}

	// Without the URL's password, the password file is what authenticates;
	// --sim keeps the file's sensors (simulations already: they stay as
	// they are; hardware sensors would run over emulated chips).
	r2 := startRun(t, "--config", cfg, "--device", "pw-file", "--state-dir", dir, "--sim")
	await(t, "readings authenticated by the password file", func() bool { return len(history(t, srv, "pw-file")) > 0 })
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, rd := range history(t, srv, "pw-file") {
		if rd.Sensor != "t1" && rd.Sensor != "front" {
			t.Fatalf("with --sim, a reading of sensor %q, not of the file's", rd.Sensor)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "tributary edge ") {
		t.Fatalf("--version printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"--help"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Usage: edge", "-redis URL", "-redis-password-file", "-state-dir", "-metrics-listen", "sim-door"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "device: a\nsensors:\n  - name: x\n    driver: nope\n")
	for _, tc := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"--no-such-flag"}, "flag provided but not defined", true},
		{[]string{"extra"}, `unexpected argument "extra"`, true},
		{[]string{"--device", "bad id", "--state-dir", dir}, `--device "bad id"`, true},
		{[]string{"--config", bad}, `bad.yaml: line 4: sensors[0].driver: "nope" is not a known driver`, false},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml", false},
		{[]string{"--device", "d", "--state-dir", dir, "--redis", "http://x"}, "redis URL", false},
		{[]string{"--device", "d", "--state-dir", dir, "--redis-password-file", filepath.Join(dir, "nope")}, "--redis-password-file: ", false},
		{[]string{"--device", "d", "--state-dir", dir, "--redis-cert", "c.pem"}, "--redis-cert and --redis-key go together", true},
		{[]string{"--device", "d", "--state-dir", dir, "--redis", "redis://x", "--mqtt", "mqtt://x"}, "choose one uplink", true},
		{[]string{"--device", "d", "--state-dir", dir, "--mqtt", "redis://x"}, "mqtt:// or mqtts://", true},
		{[]string{"--device", "d", "--state-dir", dir, "--mqtt", "mqtt://u:hunter2@x"}, "credentials", false},
		{[]string{"--device", "d", "--state-dir", dir, "--mqtt", "mqtt://x", "--mqtt-cert", "c.pem"}, "--mqtt-cert and --mqtt-key go together", true},
		{[]string{"--device", "d", "--state-dir", dir, "--mqtt", "mqtt://x", "--mqtt-ca", "ca.pem"}, "need an mqtts:// URL", true},
		{[]string{"--device", "d", "--state-dir", dir, "--clock", "ntp"}, `clock policy "ntp"`, true},
		{[]string{"--device", "d", "--state-dir", dir, "--mqtt", "mqtt://x", "--mqtt-username", "other"}, "differs from the device id", true},
	} {
		err := run(context.Background(), tc.args, io.Discard, io.Discard)
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("run(%q) error shows the password: %v", tc.args, err)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			continue
		}
		if _, isUsage := err.(usageError); isUsage != tc.usage {
			t.Errorf("run(%q): usage error %v, want %v", tc.args, isUsage, tc.usage)
		}
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/a:/var/lib/b")
	if d := defaultStateDir(); d != "/var/lib/a" {
		t.Errorf("with $STATE_DIRECTORY: %q", d)
	}
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if d := defaultStateDir(); d != "/x/state/tributary-edge" {
		t.Errorf("with $XDG_STATE_HOME: %q", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/pi")
	if d := defaultStateDir(); d != "/home/pi/.local/state/tributary-edge" {
		t.Errorf("with $HOME: %q", d)
	}
}
