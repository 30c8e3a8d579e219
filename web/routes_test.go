package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tributary-iot/tributary/fanout"
)

// TestRoutesBehindTheGuards: a route added by Options.Routes is served
// behind authentication and the Host allowlist, like the API.
func TestRoutesBehindTheGuards(t *testing.T) {
	h, err := New(Options{Store: memStore{}, Hub: fanout.NewHub(fanout.Options{}), AuthUser: "tech", AuthPassword: "pw",
		Routes: map[string]http.Handler{"GET /api/edge": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "edge")
		})}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range []struct {
		user, host string
		method     string
		want       int
	}{
		{"", "", "GET", http.StatusUnauthorized},
		{"tech", "", "GET", http.StatusOK},
		{"tech", "evil.example", "GET", http.StatusMisdirectedRequest},
		{"tech", "", "POST", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+"/api/edge", nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, "pw")
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == http.StatusOK && string(body) != "edge" {
			t.Errorf("%s as %q, Host %q: %s %s, want %d", tc.method, tc.user, tc.host, resp.Status, body, tc.want)
		}
	}
}
