package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
)

func TestStreamDeliversIngestedReadings(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	all, onlyA := f.dial(t, ""), f.dial(t, "?device=a")
	all.Status(t, true)
	onlyA.Status(t, true)
	var want []reading.Reading
	for i := range 200 {
		seq := uint64(i + 1)
		want = append(want, temp("a", seq, 20+float64(i)/100))
		want = append(want, testReading("b", "door", "door", "1", seq, float64(i%2)))
		want = append(want, testReading("a", "bme280", "pressure", "hPa", seq+1000, 1013.25))
	}
	for i := 0; i < len(want); i += 30 {
		f.ingest(t, want[i:i+30]...)
	}
	var wantA []reading.Reading
	for _, r := range want {
		if r.Device == "a" {
			wantA = append(wantA, r)
		}
	}
	for i, r := range onlyA.Readings(t, len(wantA)) {
		if r != wantA[i] {
			t.Fatalf("device=a reading %d: got %+v, want %+v", i, r, wantA[i])
		}
	}
	// All devices: each device's readings in order, with values and units.
	got := all.Readings(t, len(want))
	perDev := map[string][]reading.Reading{}
	for _, r := range got {
		perDev[r.Device] = append(perDev[r.Device], r)
	}
	for dev, rs := range perDev {
		var wantDev []reading.Reading
		for _, r := range want {
			if r.Device == dev {
				wantDev = append(wantDev, r)
			}
		}
		if len(rs) != len(wantDev) {
			t.Fatalf("device %s: %d readings, want %d", dev, len(rs), len(wantDev))
		}
		for i := range rs {
			if rs[i] != wantDev[i] {
				t.Fatalf("device %s reading %d: got %+v, want %+v", dev, i, rs[i], wantDev[i])
			}
		}
	}
}

func TestStreamSlowClientDoesNotStallOthers(t *testing.T) {
	f := newFixture(t, fixtureOptions{smallBuffers: true}) // default queue: 4096
	slow := fanouttest.Dialer{Header: f.header(), SmallBuffer: true}.DialRaw(t, f.wsURL(""))
	// The first frame shows it is registered; then it stops reading.
	if _, _, err := slow.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	fast1, fast2 := f.dial(t, ""), f.dial(t, "?device=d")
	fast1.Status(t, true)
	fast2.Status(t, true)
	slowCount := func() float64 {
		return metricValue(t, f, "tributary_cloud_websocket_slow_disconnects_total")
	}
	// Ingest in lock step with the fast clients, so that they never have more
	// than a batch queued, until the slow client's buffers and queue fill.
	const batch = 200
	seq := uint64(0)
	step := func() {
		t.Helper()
		rs := make([]reading.Reading, batch)
		for i := range rs {
			seq++
			rs[i] = temp("d", seq, float64(seq))
		}
		f.ingest(t, rs...)
		for _, c := range []*fanouttest.Client{fast1, fast2} {
			for i, r := range c.Readings(t, batch) {
				if r != rs[i] {
					t.Fatalf("fast client got %+v, want %+v", r, rs[i])
				}
			}
		}
	}
	for slowCount() == 0 {
		if seq >= 500000 {
			t.Fatalf("slow client still connected after %d readings", seq)
		}
		step()
	}
	t.Logf("slow client disconnected after %d readings", seq)
	step()
	fanouttest.NewClient(slow).Closed(t, fanout.CloseSlow, "slow")
}

func TestStreamRedisOutage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.dial(t, "")
	c.Status(t, true)
	f.ingest(t, temp("a", 1, 1))
	c.Readings(t, 1)
	if code, body := f.get(t, "/readyz"); code != 200 {
		t.Fatalf("readyz %d %s while redis is up", code, body)
	}

	f.redis.Stop()
	// Browsers and /readyz (unauthenticated) get the gist, not addresses.
	if st := c.Status(t, false); st.Reason != "redis unreachable" {
		t.Errorf("status reason %q, want \"redis unreachable\"", st.Reason)
	}
	if code, body := f.get(t, "/readyz"); code != 503 || body != "not ready: redis unreachable\n" {
		t.Errorf("readyz while redis is down: %d %q, want 503 \"not ready: redis unreachable\"", code, body)
	}
	var e struct{ Error string }
	f.getJSON(t, "/api/devices", 503, &e)
	if !strings.Contains(e.Error, "redis unavailable") {
		t.Errorf("devices while redis is down: error %q", e.Error)
	}
	if code, _ := f.get(t, "/healthz"); code != 200 {
		t.Errorf("healthz %d while redis is down", code)
	}

	f.redis.Restart(t)
	c.AwaitLive(t)
	if code, body := f.get(t, "/readyz"); code != 200 {
		t.Errorf("readyz %d %s after redis came back", code, body)
	}
	f.ingest(t, temp("a", 2, 2))
	if got := c.Readings(t, 1); got[0].Seq != 2 {
		t.Errorf("after restart got %+v", got[0])
	}
}

func TestStreamRefusals(t *testing.T) {
	f := newFixture(t, fixtureOptions{web: func(o *Options) {
		o.AllowedOrigins = []string{"https://Dash.example.com"}
	}})
	for _, tc := range []struct {
		name   string
		query  string
		origin string
		status int
	}{
		{"invalid device", "?device=no%20spaces", "", http.StatusBadRequest},
		{"empty device", "?device=", "", http.StatusBadRequest},
		{"foreign origin", "", "https://evil.example.com", http.StatusForbidden},
		{"same origin", "", f.srv.URL, http.StatusSwitchingProtocols},
		{"allowed origin", "?device=a", "https://dash.example.com", http.StatusSwitchingProtocols},
		{"no origin", "", "", http.StatusSwitchingProtocols},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		conn, status, err := f.dialHeader(tc.query, h)
		if status != tc.status {
			t.Errorf("%s: status %d (%v), want %d", tc.name, status, err, tc.status)
		}
		if conn != nil {
			fanouttest.NewClient(conn).Status(t, true)
			conn.Close()
		}
	}
	// Not a WebSocket request at all.
	code, body := f.get(t, "/api/stream")
	if code != http.StatusUpgradeRequired || !strings.Contains(body, `"error"`) {
		t.Errorf("plain GET /api/stream: %d %s", code, body)
	}
	code, body = f.get(t, "/api/stream?device=-x")
	if code != http.StatusBadRequest || !strings.Contains(body, "invalid device id") {
		t.Errorf("GET /api/stream?device=-x: %d %s", code, body)
	}
}

func TestStreamControlMessage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.dial(t, "?device=a")
	c.Status(t, true)
	c.Send(t, `{"type":"subscribe","devices":["b"]}`)
	c.Sync(t)
	f.ingest(t, temp("b", 1, 1))
	if got := c.Readings(t, 1); got[0].Device != "b" {
		t.Fatalf("got %+v, want b's reading", got[0])
	}
	f.ingest(t, temp("a", 1, 1), temp("b", 2, 2))
	if got := c.Readings(t, 1); got[0].Device != "b" || got[0].Seq != 2 {
		t.Fatalf("got %+v, want b's second reading", got[0])
	}
	if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","devices":["bad id"]}`)); err != nil {
		t.Fatal(err)
	}
	c.Closed(t, websocket.ClosePolicyViolation, "invalid device id")
}
