package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/web"
)

func TestResolveDashboard(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		file   string // the file's listen
		listen string // resolved; "" off
		err    string // in the error
	}{
		{args: nil, listen: ""},
		{args: []string{"--listen", "127.0.0.1:8081"}, listen: "127.0.0.1:8081"},
		{file: "127.0.0.1:9000", listen: "127.0.0.1:9000"},
		{args: []string{"--listen", "localhost:8081"}, file: "127.0.0.1:9000", listen: "localhost:8081"},
		{args: []string{"--listen", "0.0.0.0:8081"}, err: "without authentication"},
		{file: "0.0.0.0:8081", err: "without authentication"},
		{args: []string{"--listen", "0.0.0.0:8081", "--insecure-no-auth"}, listen: "0.0.0.0:8081"},
		{args: []string{"--listen", "0.0.0.0:8081", "--auth-user", "tech"}, err: "needs a password"},
		{args: []string{"--listen", "0.0.0.0:8081", "--auth-user", "tech", "--auth-password-file", pw}, listen: "0.0.0.0:8081"},
		{args: []string{"--listen", "127.0.0.1:1", "--auth-password-file", pw}, err: "needs --auth-user"},
		{args: []string{"--auth-user", "tech"}, err: "need --listen"},
		{args: []string{"--listen", "127.0.0.1:1", "--tls-cert", "c.pem"}, err: "go together"},
		{args: []string{"--listen", "127.0.0.1:1", "--local-history-max", "lots"}, err: "--local-history-max"},
		{args: []string{"--listen", "127.0.0.1:1", "--local-history", "0s"}, err: "--local-history"},
		{args: []string{"--listen", "no-port"}, err: "no-port"},
	} {
		t.Run(strings.Join(tc.args, " ")+"|"+tc.file, func(t *testing.T) {
			fs := flag.NewFlagSet("edge", flag.ContinueOnError)
			var f dashFlags
			f.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			s, err := resolveDashboard(f, tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.listen != tc.listen {
				t.Fatalf("listen %q, want %q", s.listen, tc.listen)
			}
			if s.listen != "" && (s.history.Window != 24*time.Hour || s.history.MaxBytes != 32<<20) {
				t.Fatalf("history defaults %+v", s.history)
			}
			if name, _ := os.Hostname(); s.listen == "0.0.0.0:8081" && name != "" && !strings.Contains(name, ".") && !slices.Contains(s.hosts, name+".local") {
				t.Fatalf("hosts %v lack the mDNS name %s.local", s.hosts, name)
			}
			if s.authUser != "" && s.authPassword != "s3cret" {
				t.Fatalf("password %q from the file", s.authPassword)
			}
		})
	}
}

// TestEdgeDashboardMarksItsPage: the edge's page says it is the edge's,
// so that its panel asks for api/edge; every other file is the cloud's.
func TestEdgeDashboardMarksItsPage(t *testing.T) {
	files, err := edgeDashboard(web.DashboardFS())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServerFS(files))
	defer srv.Close()
	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	if page := get("/"); !strings.Contains(page, edgeMarkerTo) || !strings.Contains(page, `src="js/edge.js"`) {
		t.Fatalf("the edge's page is not marked:\n%.400s", page)
	}
	if js := get("/js/edge.js"); !strings.Contains(js, "data-site") && !strings.Contains(js, "dataset.site") {
		t.Fatalf("js/edge.js does not look for the mark")
	}
	cloud := httptest.NewServer(http.FileServerFS(web.DashboardFS()))
	defer cloud.Close()
	resp, err := http.Get(cloud.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "data-site") {
		t.Fatal("the cloud's page is marked as an edge's")
	}
}

// TestRunServesItsDashboard: run() with --listen serves the agent's live
// readings, its history and /api/edge, behind authentication, and its
// metrics count the history; a stop ends the clients' streams.
func TestRunServesItsDashboard(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("field-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const dev = "edge-dash-1"
	r := startRun(t, "--device", dev, "--sim", "--redis", srv.URL(), "--state-dir", t.TempDir(), "--interval", "20ms",
		"--metrics-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--auth-user", "tech", "--auth-password-file", pw)
	base := r.stderr.Await(t, `msg="dashboard serving" .* url=(http://127\.0\.0\.1:\d+)/`, 30*time.Second)
	metrics := r.stderr.Await(t, `metrics=(http://\S+/metrics)`, 30*time.Second)
	get := func(path string, auth bool) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth {
			req.SetBasicAuth("tech", "field-pass")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/api/edge", false); code != http.StatusUnauthorized {
		t.Fatalf("/api/edge without credentials: %d", code)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("tech:field-pass")))
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/stream?device="+dev, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var last uint64
	for n := 0; n < 20; {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		f, err := reading.DecodeFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, rd := range f.Readings {
			if rd.Device != dev || rd.Seq <= last {
				t.Fatalf("live reading %+v after seq %d", rd, last)
			}
			last = rd.Seq
			n++
		}
	}
	var hist struct {
		Readings []reading.Reading `json:"readings"`
	}
	code, body := get("/api/devices/"+dev+"/readings?limit=5", true)
	if err := json.Unmarshal(body, &hist); err != nil || code != http.StatusOK || len(hist.Readings) != 5 {
		t.Fatalf("history: %d %s", code, body)
	}
	var info edgeInfo
	code, body = get("/api/edge", true)
	if err := json.Unmarshal(body, &info); err != nil || code != http.StatusOK || info.Device != dev || len(info.Sensors) == 0 ||
		!strings.HasPrefix(info.Uplink.Via, "redis ") || info.History.Readings == 0 {
		t.Fatalf("/api/edge: %d %s", code, body)
	}
	resp, err := http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"tributary_edge_history_readings", "tributary_edge_history_bytes", "tributary_edge_dashboard_websocket_clients", "tributary_edge_dashboard_http_connections"} {
		if !strings.Contains(string(m), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break // closed by the shutdown
		}
	}
	if strings.Contains(r.stderr.String(), "field-pass") {
		t.Fatal("the password is in the log")
	}
}
