package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
