package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/internal/testcert"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// TestRunTLSEverywhere is the secure deployment: Redis over TLS with a
// password, the cloud serving HTTPS with Basic authentication, a browser
// stream over wss:// with credentials.
func TestRunTLSEverywhere(t *testing.T) {
	certs := testcert.New(t)
	srv := redistest.Start(t, redistest.Options{Password: "redis-secret", TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, TLSCAFile: certs.CA})
	dir := t.TempDir()
	redisPw, authPw := filepath.Join(dir, "redis-pw"), filepath.Join(dir, "auth-pw")
	for p, v := range map[string]string{redisPw: "redis-secret\n", authPw: "dash-secret\n"} {
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := startRun(t, "--listen", "127.0.0.1:0", "--redis", "rediss://"+srv.Addr(), "--redis-ca", certs.CA,
		"--redis-password-file", redisPw, "--tls-cert", certs.Cert, "--tls-key", certs.Key,
		"--auth-user", "field", "--auth-password-file", authPw)
	base := logs.Await(t, `url=(https://127\.0\.0\.1:\d+/)`, logTimeout)
	logs.Await(t, `subscribed to live readings`, logTimeout)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: certs.TLSConfig()}, Timeout: 10 * time.Second}
	get := func(path, user, pw string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("api/devices", "", ""); code != 401 {
		t.Errorf("no credentials: %d", code)
	}
	if code := get("api/devices", "field", "wrong"); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code := get("api/devices", "field", "dash-secret"); code != 200 {
		t.Errorf("right password: %d", code)
	}
	// Nothing is served in the clear (Go answers plain HTTP on a TLS port
	// with a 400).
	if code := getPlain(t, strings.Replace(base, "https", "http", 1)+"api/devices"); code == 200 {
		t.Error("api served over plain HTTP on the TLS port")
	}

	// A reading stored over TLS reaches a wss:// client that authenticated.
	header := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("field:dash-secret"))}}
	d := websocket.Dialer{TLSClientConfig: certs.TLSConfig(), HandshakeTimeout: 10 * time.Second}
	if _, resp, err := d.Dial("wss"+strings.TrimPrefix(base, "https")+"api/stream", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("wss without credentials: %v %v", err, resp)
	}
	c := fanouttest.Dialer{TLS: certs.TLSConfig(), Header: header}.Dial(t, "wss"+strings.TrimPrefix(base, "https")+"api/stream")
	rdb, err := store.NewClient(store.ClientOptions{URL: "rediss://" + srv.Addr(), CAFile: certs.CA, Password: "redis-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	want := reading.Reading{Device: "secure-1", Sensor: "s", Metric: "temperature", Value: 4.5, Unit: "Cel", Time: time.Now(), Seq: 1}
	if _, err := store.New(rdb, store.Options{}).Ingest(context.Background(), []reading.Reading{want}); err != nil {
		t.Fatal(err)
	}
	for {
		if f := c.Frame(t); len(f.Readings) > 0 {
			if got := f.Readings[0]; got.Device != "secure-1" || got.Value != 4.5 {
				t.Fatalf("got %+v", got)
			}
			break
		}
	}
	if out := logs.String(); strings.Contains(out, "redis-secret") || strings.Contains(out, "dash-secret") {
		t.Errorf("a secret reached the log:\n%s", out)
	}
}

func getPlain(t *testing.T, url string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
