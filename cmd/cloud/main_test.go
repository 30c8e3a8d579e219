package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// logTimeout bounds each wait for a log line.
const logTimeout = 10 * time.Second

// startRun runs run with args until the test ends and returns its log.
func startRun(t *testing.T, args ...string) *proctest.Log {
	t.Helper()
	return proctest.Go(t, func(ctx context.Context, log io.Writer) error { return run(ctx, args, io.Discard, log) }).Log
}

func httpGet(t *testing.T, url, user, password string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestRunWithEmbeddedRedis(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	logs := startRun(t, "--listen", "127.0.0.1:0")
	redisAddr := logs.Await(t, `embedded, in-memory Redis.* addr=(127\.0\.0\.1:\d+)`, logTimeout)
	base := logs.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+/)`, logTimeout)

	// A browser's view: the dashboard, then the live stream.
	code, body := httpGet(t, base, "", "")
	if code != 200 || !bytes.Contains(body, []byte("<html")) {
		t.Fatalf("GET /: %d %.200s", code, body)
	}
	c := fanouttest.Dialer{}.Dial(t, "ws"+strings.TrimPrefix(base, "http")+"api/stream?device=field-1")
	c.AwaitLive(t)

	rdb, err := store.NewClient(store.ClientOptions{URL: "redis://" + redisAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	r := reading.Reading{Device: "field-1", Sensor: "sht31", Metric: "humidity", Value: 61.5, Unit: "%", Time: time.Now().UTC().Truncate(time.Millisecond), Seq: 1}
	if _, err := store.New(rdb, store.Options{}).Ingest(context.Background(), []reading.Reading{r}); err != nil {
		t.Fatal(err)
	}
	if got := c.Readings(t, 1); got[0] != r {
		t.Fatalf("live reading %+v, want %+v", got[0], r)
	}

	code, body = httpGet(t, base+"api/devices", "", "")
	var devs []struct {
		ID     string `json:"id"`
		Online bool   `json:"online"`
	}
	if err := json.Unmarshal(body, &devs); code != 200 || err != nil {
		t.Fatalf("GET /api/devices: %d %s (%v)", code, body, err)
	}
	if len(devs) != 1 || devs[0].ID != "field-1" || !devs[0].Online {
		t.Errorf("devices %s", body)
	}
	if code, _ := httpGet(t, base+"readyz", "", ""); code != 200 {
		t.Errorf("readyz %d", code)
	}
	code, body = httpGet(t, base+"metrics", "", "")
	if code != 200 || !bytes.Contains(body, []byte("tributary_cloud_redis_up 1")) || !bytes.Contains(body, []byte("tributary_cloud_build_info{")) {
		t.Errorf("metrics: %d %s", code, body)
	}
}

func TestRunWithRedisServerAndAuth(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{Password: "redis-secret"})
	dir := t.TempDir()
	redisPw, authPw := filepath.Join(dir, "redis-pw"), filepath.Join(dir, "auth-pw")
	if err := os.WriteFile(redisPw, []byte("redis-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authPw, []byte("dash-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The URL carries a wrong password that the file overrides; neither
	// may be logged.
	url := "redis://:url-secret@" + redis.Addr()
	logs := startRun(t, "--listen", "127.0.0.1:0", "--redis", url, "--redis-password-file", redisPw,
		"--auth-user", "field", "--auth-password-file", authPw, "--log-level", "debug")
	base := logs.Await(t, `url=(http://127\.0\.0\.1:\d+/)`, logTimeout)
	logs.Await(t, `subscribed to live readings`, logTimeout)
	if code, _ := httpGet(t, base+"api/devices", "", ""); code != 401 {
		t.Errorf("devices without credentials: %d", code)
	}
	if code, body := httpGet(t, base+"api/devices", "field", "dash-secret"); code != 200 || string(body) != "[]\n" {
		t.Errorf("devices with credentials: %d %s", code, body)
	}
	if code, _ := httpGet(t, base+"healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := httpGet(t, base+"readyz", "", ""); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	out := logs.String()
	for _, secret := range []string{"redis-secret", "url-secret", "dash-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "redis://:xxxxx@"+redis.Addr()) {
		t.Errorf("log lacks the redacted Redis URL:\n%s", out)
	}
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(*testing.T, *config)
	}{
		{name: "defaults", check: func(t *testing.T, c *config) {
			if c.listen != "127.0.0.1:8080" || c.redis.URL != "" || c.authUser != "" || c.offlineAfter != 30*time.Second || c.store.MaxLen != store.DefaultMaxLen {
				t.Errorf("%+v", c)
			}
		}},
		{name: "REDIS_URL", env: map[string]string{"REDIS_URL": "redis://r:6379"}, check: func(t *testing.T, c *config) {
			if c.redis.URL != "redis://r:6379" {
				t.Errorf("redis URL %q", c.redis.URL)
			}
		}},
		{name: "flag beats REDIS_URL", args: []string{"--redis", "redis://flag:1"}, env: map[string]string{"REDIS_URL": "redis://env:2"}, check: func(t *testing.T, c *config) {
			if c.redis.URL != "redis://flag:1" {
				t.Errorf("redis URL %q", c.redis.URL)
			}
		}},
		{name: "public without auth", args: []string{"--listen", "0.0.0.0:8080"}, wantErr: "--insecure-no-auth"},
		{name: "all interfaces without auth", args: []string{"--listen", ":8080"}, wantErr: "refusing to serve"},
		{name: "public, insecure on purpose", args: []string{"--listen", "0.0.0.0:8080", "--insecure-no-auth"}},
		{name: "localhost without auth", args: []string{"--listen", "localhost:9000"}},
		{name: "ipv6 loopback without auth", args: []string{"--listen", "[::1]:9000"}},
		{name: "public with auth file", args: []string{"--listen", "0.0.0.0:8080", "--auth-user", "field", "--auth-password-file", pw}, check: func(t *testing.T, c *config) {
			if c.authUser != "field" || c.authPassword != "s3cret" {
				t.Errorf("auth %q/%q", c.authUser, c.authPassword)
			}
		}},
		{name: "auth password from env", args: []string{"--auth-user", "field"}, env: map[string]string{"TRIBUTARY_AUTH_PASSWORD": "envpw"}, check: func(t *testing.T, c *config) {
			if c.authPassword != "envpw" {
				t.Errorf("password %q", c.authPassword)
			}
		}},
		{name: "user without password", args: []string{"--auth-user", "field"}, wantErr: "needs a password"},
		{name: "password file without user", args: []string{"--auth-password-file", pw}, wantErr: "needs --auth-user"},
		{name: "empty password file", args: []string{"--auth-user", "u", "--auth-password-file", empty}, wantErr: "is empty"},
		{name: "missing password file", args: []string{"--auth-user", "u", "--auth-password-file", filepath.Join(dir, "nope")}, wantErr: "--auth-password-file"},
		{name: "tls cert without key", args: []string{"--tls-cert", pw}, wantErr: "--tls-key"},
		{name: "bad tls files", args: []string{"--tls-cert", pw, "--tls-key", pw}, wantErr: "--tls-cert/--tls-key"},
		{name: "bridge client id of another", args: []string{"--mqtt", "mqtt://b", "--mqtt-username", "tributary-bridge-2", "--mqtt-client-id", "tributary-bridge-1"},
			wantErr: `--mqtt-client-id: MQTT client id "tributary-bridge-1" differs from the user name "tributary-bridge-2"`},
		{name: "bridge client id of its user", args: []string{"--mqtt", "mqtt://b", "--mqtt-username", "tributary-bridge-2", "--mqtt-client-id", "tributary-bridge-2"}},
		{name: "redis files without redis", args: []string{"--redis-password-file", pw}, wantErr: "need --redis"},
		{name: "redis cert without key", args: []string{"--redis", "rediss://r:1", "--redis-cert", pw}, wantErr: "--redis-key"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--demo-not-yet"}, wantErr: "not defined"},
		{name: "zero offline-after", args: []string{"--offline-after", "0s"}, wantErr: "--offline-after"},
		{name: "default hosts", args: []string{"--listen", "192.0.2.7:8080", "--insecure-no-auth"}, check: func(t *testing.T, c *config) {
			if !slices.Equal(c.allowedHosts, []string{"localhost", "127.0.0.1", "::1", "192.0.2.7"}) || c.allowedOrigins != nil ||
				c.maxConns != web.DefaultMaxConns || c.authFailures != web.DefaultAuthFailureLimit {
				t.Errorf("hosts %q, origins %q, max conns %d, auth failures %d", c.allowedHosts, c.allowedOrigins, c.maxConns, c.authFailures)
			}
		}},
		{name: "every address", args: []string{"--listen", ":8080", "--insecure-no-auth"}, check: func(t *testing.T, c *config) {
			name, _ := os.Hostname()
			if !slices.Contains(c.allowedHosts, "127.0.0.1") || !slices.Contains(c.allowedHosts, name) || slices.Contains(c.allowedHosts, "") {
				t.Errorf("hosts %q", c.allowedHosts)
			}
		}},
		{name: "public origin", args: []string{"--public-origin", "https://dash.example", "--allowed-origin", "https://other.example"}, check: func(t *testing.T, c *config) {
			if !slices.Equal(c.allowedHosts, []string{"localhost", "127.0.0.1", "::1", "dash.example", "127.0.0.1"}) ||
				!slices.Equal(c.allowedOrigins, []string{"https://dash.example", "https://other.example"}) {
				t.Errorf("hosts %q, origins %q", c.allowedHosts, c.allowedOrigins)
			}
		}},
		{name: "allowed hosts", args: []string{"--allowed-host", "*", "--public-origin", "https://dash.example", "--max-connections", "10", "--auth-failure-limit", "0"}, check: func(t *testing.T, c *config) {
			if !slices.Equal(c.allowedHosts, []string{"*", "dash.example"}) || c.maxConns != 10 || c.authFailures >= 0 {
				t.Errorf("hosts %q, max conns %d, auth failures %d", c.allowedHosts, c.maxConns, c.authFailures)
			}
		}},
		{name: "bad public origin", args: []string{"--public-origin", "dash.example"}, wantErr: "--public-origin"},
		{name: "zero connections", args: []string{"--max-connections", "0"}, wantErr: "--max-connections"},
		{name: "retention", args: []string{"--history-maxlen", "-1", "--history-maxage", "24h", "--dedup-window", "1h", "--max-future", "-1s", "--device-retention", "2160h"}, check: func(t *testing.T, c *config) {
			if c.store.MaxLen != -1 || c.store.MaxAge != 24*time.Hour || c.store.DedupWindow != time.Hour || c.store.MaxFuture != -time.Second || c.store.DeviceRetention != 90*24*time.Hour {
				t.Errorf("store options %+v", c.store)
			}
		}},
		{name: "retention defaults", args: nil, check: func(t *testing.T, c *config) {
			if c.store.MaxFuture != store.DefaultMaxFuture || c.store.DeviceRetention != store.DefaultDeviceRetention {
				t.Errorf("store options %+v", c.store)
			}
		}},
		{name: "zero device-retention", args: []string{"--device-retention", "0s"}, wantErr: "--device-retention"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			cfg, err := parseFlags(tc.args, io.Discard, getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || cfg == nil {
				t.Fatalf("got %v, %v", cfg, err)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	// The usage text must not show a password from the environment.
	t.Setenv("REDIS_URL", "redis://:env-secret-42@127.0.0.1:1")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "tributary cloud ") {
		t.Errorf("--version printed %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"--help"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "env-secret-42") {
		t.Errorf("--help shows the password of $REDIS_URL:\n%s", out.String())
	}
	for _, want := range []string{"Usage: cloud", "-redis URL", "-insecure-no-auth", "-auth-password-file", "-allowed-host host", "-public-origin origin", "-max-connections connections", "-auth-failure-limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRefusesUnsafeListen(t *testing.T) {
	err := run(context.Background(), []string{"--listen", "0.0.0.0:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "without authentication") {
		t.Fatalf("got %v", err)
	}
}

// TestRunChecksHost: by default the cloud answers its loopback names and
// refuses a foreign Host (DNS rebinding) with 421, and counts its
// connections in /metrics.
func TestRunChecksHost(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	logs := startRun(t, "--listen", "127.0.0.1:0", "--public-origin", "https://dash.example")
	base := logs.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+/)`, logTimeout)
	for host, want := range map[string]int{"evil.example": 421, "localhost": 200, "dash.example": 200} {
		req, err := http.NewRequest("GET", base+"api/devices", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %s, want %d", host, resp.Status, want)
		}
	}
	if code, body := httpGet(t, base+"metrics", "", ""); code != 200 || !bytes.Contains(body, []byte("tributary_cloud_http_connections ")) {
		t.Errorf("GET /metrics: %d, no tributary_cloud_http_connections in %.300s", code, body)
	}
}
