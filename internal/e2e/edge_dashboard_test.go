package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/browsertest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
)

// edgeAPI is what the tests read of the edge's GET /api/edge.
type edgeAPI struct {
	Device string `json:"device"`
	Uplink struct {
		Connected bool   `json:"connected"`
		Since     string `json:"since"`
		LastError string `json:"last_error"`
	} `json:"uplink"`
	Spool struct {
		Readings int `json:"readings"`
	} `json:"spool"`
	Sensors []struct {
		Sensor string `json:"sensor"`
		State  string `json:"state"`
	} `json:"sensors"`
	History struct {
		Readings int `json:"readings"`
	} `json:"history"`
}

// startEdgeDashboard runs an edge agent with simulated sensors sampling
// every 100 ms, sending to redisURL, serving its own dashboard on a free
// loopback port, and returns the dashboard's base URL.
func startEdgeDashboard(t *testing.T, device, redisURL string) (*proctest.Proc, string) {
	t.Helper()
	p := proctest.Start(t, "edge "+device, binPath(t, "edge"), "--device", device, "--sim", "--redis", redisURL,
		"--interval", "100ms", "--state-dir", t.TempDir(), "--metrics-listen", "", "--listen", "127.0.0.1:0")
	return p, p.Await(t, `msg="dashboard serving" .* url=(http://127\.0\.0\.1:\d+)/`, 30*time.Second)
}

// TestEdgeDashboardUplinkDown: the edge's own dashboard serves live
// readings over WebSocket and its history with Redis, and goes on when
// Redis is killed: the live readings still come, the history holds the
// readings made since, and GET /api/edge says the uplink is down and the
// spool fills.
func TestEdgeDashboardUplinkDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const dev = "edge-dash"
	_, base := startEdgeDashboard(t, dev, srv.URL())
	ctx := context.Background()
	live := dialStream(t, base, "?device="+dev)
	checkReadings(t, live.readings(time.Minute, enough(20, dev)), dev)
	var info edgeAPI
	eventually(t, "the uplink connected", time.Minute, func() bool {
		getJSON(t, ctx, base+"/api/edge", &info)
		return info.Uplink.Connected
	})
	if info.Device != dev || len(info.Sensors) != 4 || info.History.Readings == 0 { // climate, door, heater, fan
		t.Fatalf("/api/edge = %+v", info)
	}

	srv.Kill()
	eventually(t, "/api/edge saying the uplink is down", time.Minute, func() bool {
		getJSON(t, ctx, base+"/api/edge", &info)
		return !info.Uplink.Connected && info.Uplink.LastError != "" && info.Spool.Readings > 0
	})
	// Readings made from now on never reached Redis.
	var after uint64
	for _, r := range live.readings(time.Minute, enough(1, dev)) {
		after = max(after, r.Seq)
	}
	got := checkReadings(t, live.readings(time.Minute, func(rs []reading.Reading) bool { return len(rs) >= 30 }), dev)[dev]
	if got[0].Seq <= after {
		t.Fatalf("live reading seq %d after seq %d", got[0].Seq, after)
	}
	var hist struct {
		Device   string            `json:"device"`
		Readings []reading.Reading `json:"readings"`
	}
	getJSON(t, ctx, base+fmt.Sprintf("/api/devices/%s/readings?limit=3000", dev), &hist)
	checkReadings(t, hist.Readings, dev)
	newer := 0
	for _, r := range hist.Readings {
		if r.Seq > after {
			newer++
		}
	}
	if hist.Device != dev || newer < 30 {
		t.Fatalf("history of %q: %d readings, %d made with Redis down", hist.Device, len(hist.Readings), newer)
	}
	getJSON(t, ctx, base+"/api/edge", &info)
	if info.Uplink.Connected || info.Spool.Readings < 30 {
		t.Fatalf("/api/edge with Redis down: %+v", info)
	}
}

// TestEdgeDashboardInChromium: the edge's dashboard in a real browser,
// with Redis killed: live values and charts, and the edge panel saying
// the uplink is down, readable on a phone (390 px) and a laptop (1400 px).
func TestEdgeDashboardInChromium(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const dev = "edge-web"
	_, base := startEdgeDashboard(t, dev, srv.URL())
	ctx := context.Background()
	var info edgeAPI
	eventually(t, "the uplink connected", time.Minute, func() bool {
		getJSON(t, ctx, base+"/api/edge", &info)
		return info.Uplink.Connected
	})
	srv.Kill()
	eventually(t, "the uplink down", time.Minute, func() bool {
		getJSON(t, ctx, base+"/api/edge", &info)
		return !info.Uplink.Connected
	})

	b := browsertest.Start(t, 390, 844)
	b.Viewport(t, 390, 844, true)
	b.Navigate(t, base+"/#device="+dev)
	b.Await(t, "the device's charts with points", `tributary.selected() === '`+dev+`' &&
		tributary.charts().length >= 3 && tributary.chartPoints('temperature') > 0`)
	n := browsertest.Eval[int](t, b, `tributary.chartPoints('temperature')`)
	b.Await(t, "the temperature chart growing live", fmt.Sprintf(`tributary.chartPoints('temperature') > %d`, n+3))
	b.Await(t, "the stream live", `tributary.connection().state === 'live'`)
	b.Await(t, "the device online", `tributary.devices().length === 1 && tributary.devices()[0].online`)
	panel := `tributaryEdge.shown() && tributaryEdge.info().uplink.connected === false &&
		document.querySelector('#edge-uplink .pill').textContent === 'down' &&
		document.querySelector('#edge-uplink').textContent.includes('failed sends') &&
		document.querySelectorAll('#edge tr[data-sensor]').length === 4 &&
		[...document.querySelectorAll('#edge tr[data-sensor] .pill')].every((p) => p.textContent === 'ok') &&
		/\d+ waiting/.test(document.querySelector('#edge-spool').textContent)`
	fits := `(() => { const e = document.getElementById('edge'); const r = e.getBoundingClientRect();
		return e.scrollWidth <= e.clientWidth && r.left >= 0 && r.right <= innerWidth &&
			document.documentElement.scrollWidth <= innerWidth; })()`
	b.Await(t, "the edge panel: uplink down, sensors ok, a backlog", panel)
	b.Await(t, "the edge panel within a 390 px screen", fits)
	b.Screenshot(t, "tributary-edge-390.png")

	b.Viewport(t, 1400, 900, false)
	b.Await(t, "the edge panel at 1400 px", panel+" && "+fits)
	b.Screenshot(t, "tributary-edge-1400.png")
	b.NoConsoleErrors(t)
}
