package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

func TestDevices(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	var empty []map[string]any
	f.getJSON(t, "/api/devices", 200, &empty)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("devices of an empty Redis: %v, want []", empty)
	}
	before := time.Now().Add(-time.Second)
	f.ingest(t,
		temp("greenhouse-1", 1, 21.5),
		testReading("greenhouse-1", "bme280", "humidity", "%", 2, 55),
		temp("greenhouse-1", 3, 21.75),
		testReading("shed", "door", "door", "1", 7, 1),
	)
	type dev struct {
		ID       string            `json:"id"`
		LastSeen time.Time         `json:"last_seen"`
		LastSeq  uint64            `json:"last_seq"`
		Online   bool              `json:"online"`
		Latest   []reading.Reading `json:"latest"`
	}
	var devs []dev
	f.getJSON(t, "/api/devices", 200, &devs)
	if len(devs) != 2 || devs[0].ID != "greenhouse-1" || devs[1].ID != "shed" {
		t.Fatalf("devices %+v", devs)
	}
	g := devs[0]
	if g.LastSeq != 3 || !g.Online || g.LastSeen.Before(before) {
		t.Errorf("greenhouse-1: %+v", g)
	}
	if len(g.Latest) != 2 || g.Latest[0].Metric != "humidity" || g.Latest[0].Unit != "%" ||
		g.Latest[1].Metric != "temperature" || g.Latest[1].Value != 21.75 {
		t.Errorf("greenhouse-1 latest: %+v", g.Latest)
	}
	if devs[1].LastSeq != 7 || len(devs[1].Latest) != 1 || devs[1].Latest[0].Value != 1 {
		t.Errorf("shed: %+v", devs[1])
	}
	// 31s later by the cloud's clock, nothing is online.
	f.skew.Store(int64(31 * time.Second))
	f.getJSON(t, "/api/devices", 200, &devs)
	for _, d := range devs {
		if d.Online {
			t.Errorf("%s online 31s after its last reading", d.ID)
		}
	}
	// The dashboard learns the threshold from a header.
	resp, err := http.Get(f.srv.URL + "/api/devices")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(OfflineAfterHeader); got != "30000" {
		t.Errorf("%s = %q, want 30000", OfflineAfterHeader, got)
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	rdb := f.redis.Client(t)
	ctx := context.Background()
	// Three batches with distinct Redis arrival milliseconds.
	var all []reading.Reading
	for b := range 3 {
		t0, err := rdb.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for { // await the next millisecond of Redis's clock
			t1, err := rdb.Time(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if t1.UnixMilli() > t0.UnixMilli() {
				break
			}
		}
		var rs []reading.Reading
		for i := range 4 {
			rs = append(rs, temp("a", uint64(b*4+i+1), float64(b*4+i)))
		}
		f.ingest(t, rs...)
		all = append(all, rs...)
	}
	// Arrival time of each reading, from the stream ids.
	msgs, err := rdb.XRange(ctx, f.st.StreamKey("a"), "-", "+").Result()
	if err != nil || len(msgs) != 12 {
		t.Fatalf("stream: %d entries, %v", len(msgs), err)
	}
	arrival := make([]int64, len(msgs))
	for i, m := range msgs {
		arrival[i], _ = strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
	}
	since, until := arrival[4], arrival[7] // the middle batch
	rfc := func(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }
	between := func(lo, hi int64) []reading.Reading {
		var out []reading.Reading
		for i, r := range all {
			if arrival[i] >= lo && arrival[i] <= hi {
				out = append(out, r)
			}
		}
		return out
	}

	type hist struct {
		Device   string            `json:"device"`
		Readings []reading.Reading `json:"readings"`
	}
	for _, tc := range []struct {
		query string
		want  []reading.Reading
	}{
		{"", all},
		{"?limit=3", all[9:]},
		{"?limit=100", all},
		{"?since=" + strconv.FormatInt(since, 10), between(since, 1<<62)},
		{"?until=" + strconv.FormatInt(until, 10), between(0, until)},
		{"?since=" + strconv.FormatInt(since, 10) + "&until=" + strconv.FormatInt(until, 10), between(since, until)},
		{"?since=" + rfc(since) + "&until=" + rfc(until), between(since, until)},
		{"?since=" + rfc(since) + "&until=" + rfc(until) + "&limit=2", between(since, until)[len(between(since, until))-2:]},
		{"?until=" + strconv.FormatInt(arrival[0]-1, 10), nil},
	} {
		var h hist
		f.getJSON(t, "/api/devices/a/readings"+tc.query, 200, &h)
		if h.Device != "a" || len(h.Readings) != len(tc.want) {
			t.Errorf("%s: device %q, %d readings, want %d", tc.query, h.Device, len(h.Readings), len(tc.want))
			continue
		}
		for i := range h.Readings {
			if h.Readings[i] != tc.want[i] {
				t.Errorf("%s: reading %d: got %+v, want %+v", tc.query, i, h.Readings[i], tc.want[i])
			}
		}
	}
	// The middle batch really is apart from the others.
	if n := len(between(since, until)); n != 4 {
		t.Errorf("middle batch spans %d readings, want 4", n)
	}

	// An unknown device has an empty history.
	code, body := f.get(t, "/api/devices/nobody/readings")
	if code != 200 || strings.TrimSpace(body) != `{"device":"nobody","readings":[]}` {
		t.Errorf("unknown device: %d %s", code, body)
	}
}

func TestHistoryBadRequests(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct{ path, want string }{
		{"/api/devices/a/readings?limit=0", "limit"},
		{"/api/devices/a/readings?limit=-3", "limit"},
		{"/api/devices/a/readings?limit=ten", "limit"},
		{"/api/devices/a/readings?limit=1&limit=2", "limit given 2 times"},
		{"/api/devices/a/readings?since=yesterday", "since"},
		{"/api/devices/a/readings?until=2026-13-01T00:00:00Z", "until"},
		{"/api/devices/a/readings?since=-5", "since"},
		{"/api/devices/a/readings?since=2026-11-27T00:00:00Z&until=1700000000000", "before since"},
		{"/api/devices/no%20spaces/readings", "invalid device id"},
		{"/api/devices/-a/readings", "invalid device id"},
		{"/api/devices/" + strings.Repeat("x", 65) + "/readings", "invalid device id"},
	} {
		code, body := f.get(t, tc.path)
		if code != http.StatusBadRequest || !strings.HasPrefix(body, `{"error":`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 with an error about %q", tc.path, code, body, tc.want)
		}
	}
	code, body := f.get(t, "/api/nothing")
	if code != http.StatusNotFound || !strings.HasPrefix(body, `{"error":`) {
		t.Errorf("/api/nothing: %d %s", code, body)
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t, fixtureOptions{web: func(o *Options) {
		o.AuthUser, o.AuthPassword = "field", "correct horse"
		o.Dashboard = fstest.MapFS{"index.html": {Data: []byte("<h1>dash</h1>")}}
	}})
	for _, path := range []string{"/", "/api/devices", "/api/devices/a/readings", "/metrics", "/api/stream"} {
		for _, cred := range [][2]string{{}, {"field", "wrong"}, {"other", "correct horse"}, {"field", "correct horse "}} {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			if cred[0] != "" {
				req.SetBasicAuth(cred[0], cred[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s as %q: %d, want 401 with a Basic challenge", path, cred[0], resp.StatusCode)
			}
		}
		if path == "/api/stream" {
			continue
		}
		if code, body := f.get(t, path); code != 200 {
			t.Errorf("%s with credentials: %d %s", path, code, body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if code, body := do(t, req); code != 200 {
			t.Errorf("%s without credentials: %d %s", path, code, body)
		}
	}
	// The WebSocket handshake needs them too (a browser sends them along).
	if _, status, _ := f.dialHeader("", nil); status != http.StatusUnauthorized {
		t.Errorf("stream without credentials: %d, want 401", status)
	}
	c := f.dial(t, "") // with credentials
	c.Status(t, true)
}

func TestNewRejectsBadOptions(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for name, o := range map[string]Options{
		"no store":           {Hub: f.hub},
		"no hub":             {Store: f.st},
		"user, no password":  {Store: f.st, Hub: f.hub, AuthUser: "u"},
		"password, no user":  {Store: f.st, Hub: f.hub, AuthPassword: "p"},
		"origin with a path": {Store: f.st, Hub: f.hub, AllowedOrigins: []string{"https://x.example/app"}},
		"origin sans scheme": {Store: f.st, Hub: f.hub, AllowedOrigins: []string{"x.example"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.dial(t, "")
	c.Status(t, true)
	f.ingest(t, temp("a", 1, 1), temp("a", 2, 2))
	c.Readings(t, 2)
	code, body := f.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range []string{
		"tributary_cloud_websocket_clients 1",
		"tributary_cloud_readings_received_total 2",
		"tributary_cloud_readings_delivered_total 2",
		"tributary_cloud_websocket_slow_disconnects_total 0",
		"tributary_cloud_redis_up 1",
		"tributary_cloud_live_subscriptions_total 1",
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "tributary_cloud_") {
			t.Errorf("metric not named tributary_cloud_*: %s", l)
		}
	}
}

func TestDashboardAndHealth(t *testing.T) {
	f := newFixture(t, fixtureOptions{web: func(o *Options) {
		o.Dashboard = fstest.MapFS{
			"index.html": {Data: []byte("<!doctype html><title>Tributary</title>")},
			"js/app.js":  {Data: []byte("console.log('hi')")},
		}
	}})
	for _, tc := range []struct {
		path, body, ctype string
		code              int
	}{
		{"/", "<title>Tributary</title>", "text/html", 200},
		{"/js/app.js", "console.log", "javascript", 200},
		{"/missing.css", "", "", 404},
		{"/healthz", "ok", "text/plain", 200},
		{"/readyz", "ready", "text/plain", 200},
	} {
		resp, err := http.Get(f.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff header", tc.path)
		}
	}
	// Without a dashboard, / is simply not found.
	g := newFixture(t, fixtureOptions{})
	if code, _ := g.get(t, "/"); code != 404 {
		t.Errorf("/ without a dashboard: %d", code)
	}
}

// TestHistoryStreamsManyPages: a history longer than a store page arrives
// whole, in order, as one JSON document.
func TestHistoryStreamsManyPages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	const total = 2*store.HistoryPage + 300
	batch := make([]reading.Reading, 0, total)
	for seq := uint64(1); seq <= total; seq++ {
		batch = append(batch, temp("long", seq, float64(seq)/10))
	}
	f.ingest(t, batch...)
	for _, c := range []struct {
		query       string
		first, last uint64
	}{{"", 1, total}, {"?limit=2100", total - 2099, total}} {
		var h struct {
			Device   string            `json:"device"`
			Readings []reading.Reading `json:"readings"`
		}
		f.getJSON(t, "/api/devices/long/readings"+c.query, 200, &h)
		n := uint64(len(h.Readings))
		if h.Device != "long" || n != c.last-c.first+1 || h.Readings[0].Seq != c.first || h.Readings[n-1].Seq != c.last {
			t.Fatalf("%q: %d readings, want %d..%d", c.query, n, c.first, c.last)
		}
	}
}

func TestBoots(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	for i, b := range []struct {
		id    string
		first uint64
	}{{"1-aaaa", 1}, {"2-bbbb", 1001}} {
		if err := f.st.RecordBoot(ctx, "a", b.id, b.first, at.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	code, body := f.get(t, "/api/devices/a/boots")
	var got struct {
		Device string
		Boots  []struct {
			Boot     string
			FirstSeq uint64 `json:"first_seq"`
			TS       time.Time
		}
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("boots: %d %s (%v)", code, body, err)
	}
	if got.Device != "a" || len(got.Boots) != 2 || got.Boots[1].Boot != "2-bbbb" || got.Boots[1].FirstSeq != 1001 || !got.Boots[1].TS.Equal(at.Add(time.Hour)) {
		t.Fatalf("boots: %s", body)
	}
	if code, body := f.get(t, "/api/devices/nobody/boots"); code != 200 || !strings.Contains(body, `"boots":[]`) {
		t.Fatalf("boots of an unknown device: %d %s", code, body)
	}
	if code, _ := f.get(t, "/api/devices/no%20spaces/boots"); code != http.StatusBadRequest {
		t.Fatalf("boots of an invalid id: %d", code)
	}
}
