package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/fanout/redissource"
	"github.com/tributary-iot/tributary/internal/browsertest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// TestDashboardBrowser runs the embedded dashboard in a real headless
// Chromium against the real cloud handler, a real hub and Redis source,
// and a real redis-server, and checks through the page's test hook
// (window.tributary) and the DOM that it lists the devices, charts history,
// appends live readings, follows the URL hash, lays out on a phone, shows
// Redis going down, and fills the gap after a lost WebSocket.
func TestDashboardBrowser(t *testing.T) {
	cloud := startDashCloud(t)
	start := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	gh1 := &dashDevice{id: "greenhouse-1", series: []dashSeries{
		{"bme280", "temperature", "Cel", 21}, {"bme280", "humidity", "%", 55}, {"door", "door", "1", 0},
	}}
	gh2 := &dashDevice{id: "greenhouse-2", series: []dashSeries{{"bme280", "temperature", "Cel", 18}}}
	shed := &dashDevice{id: "shed", series: []dashSeries{{"sht31", "temperature", "Cel", 9}}}
	const history = 20
	for _, d := range []*dashDevice{gh1, gh2, shed} {
		cloud.ingest(t, d.ticks(start, history)...)
	}

	b := browsertest.Start(t, 1280, 900)
	b.Navigate(t, cloud.srv.URL+"/")

	// The device list, from GET /api/devices, then the stream.
	b.Await(t, "three devices listed and a live stream",
		`tributary.devices().length === 3 && tributary.connection().state === 'live' &&
		 document.querySelectorAll('#device-list button.device').length === 3`)
	devs := browsertest.Eval[[]hookDevice](t, b, `tributary.devices()`)
	for i, want := range []string{"greenhouse-1", "greenhouse-2", "shed"} {
		d := devs[i]
		if d.ID != want || !d.Online || d.LastSeq == 0 || len(d.Latest) == 0 {
			t.Errorf("device %d = %+v, want %s online with its latest readings", i, d, want)
		}
	}
	if got := browsertest.Eval[string](t, b, `document.querySelector('button[data-device="greenhouse-1"] .state').textContent`); !strings.HasPrefix(got, "online") {
		t.Errorf("greenhouse-1 state text %q, want online", got)
	}

	// Selecting a device charts its history: one chart per metric.
	b.Click(t, `button[data-device="greenhouse-1"]`)
	b.Await(t, "greenhouse-1's history charted",
		`tributary.selected() === 'greenhouse-1' && tributary.chartPoints('temperature') > 0 && tributary.charts().length === 3`)
	if h := browsertest.Eval[string](t, b, `location.hash`); h != "#device=greenhouse-1" {
		t.Errorf("location.hash = %q, want #device=greenhouse-1", h)
	}
	charts := browsertest.Eval[[]hookChart](t, b, `tributary.charts()`)
	for i, want := range []string{"temperature", "humidity", "door"} {
		c := charts[i]
		if c.Metric != want || c.Points != history || c.Canvas == nil || c.Canvas.Width <= 0 || c.Canvas.Height <= 0 {
			t.Errorf("chart %d = %+v, want %s with %d points on a non-empty canvas", i, c, want, history)
		}
	}
	if got := browsertest.Eval[string](t, b, `document.querySelector('.chart-card[data-metric="temperature"] h3').textContent`); got != "temperature (°C)" {
		t.Errorf("temperature chart title %q, want the unit in it", got)
	}

	// Live readings are appended to the charts and update the list.
	cloud.ingest(t, gh1.ticks(time.Now(), 5)...)
	cloud.ingest(t, gh2.ticks(time.Now(), 1)...)
	b.Await(t, "five live readings appended", `tributary.chartPoints('temperature') >= 25`)
	if n := browsertest.Eval[int](t, b, `tributary.chartPoints('temperature')`); n != history+5 {
		t.Errorf("temperature chart has %d points, want %d", n, history+5)
	}
	b.Await(t, "greenhouse-2's new reading in the list",
		fmt.Sprintf(`tributary.devices()[1].lastSeq === %d`, gh2.seq))
	b.NoConsoleErrors(t)
	b.Screenshot(t, "tributary-dashboard-laptop.png")

	// A phone: one column, no sideways scrolling, charts sized to fit.
	b.Viewport(t, 390, 844, true)
	b.Click(t, `button[data-device="greenhouse-2"]`)
	b.Await(t, "greenhouse-2 charted on a phone",
		`tributary.selected() === 'greenhouse-2' && tributary.charts().length === 1 &&
		 tributary.charts()[0].points > 0 && tributary.charts()[0].canvas.width <= 390`)
	if w := browsertest.Eval[int](t, b, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %d px wide on a 390 px phone: it scrolls sideways", w)
	}
	if !browsertest.Eval[bool](t, b, `document.querySelector('.detail').getBoundingClientRect().top >=
		document.querySelector('.devices').getBoundingClientRect().bottom`) {
		t.Error("on a phone the charts are not below the device list")
	}
	b.NoConsoleErrors(t)
	b.Screenshot(t, "tributary-dashboard-phone.png")

	// A link with the device in the hash opens it.
	b.Viewport(t, 1280, 900, false)
	b.Navigate(t, cloud.srv.URL+"/?from=link#device=shed")
	b.Await(t, "shed opened from the link",
		`tributary.selected() === 'shed' && tributary.chartPoints('temperature') === 20 &&
		 document.querySelector('button[data-device="shed"]').getAttribute('aria-current') === 'true'`)

	// Credentials typed into the address bar must not break the API calls
	// (fetch refuses URLs that carry them).
	b.Navigate(t, strings.Replace(cloud.srv.URL, "http://", "http://field:pw@", 1)+"/#device=shed")
	b.Await(t, "page with credentials in its URL loads devices and history",
		`tributary.devices().length === 3 && tributary.chartPoints('temperature') === 20`)

	// Redis goes down: the status frame says so. When it is back (empty: the
	// test server has no persistence), history is reloaded.
	loads := browsertest.Eval[int](t, b, `tributary.connection().historyLoads`)
	cloud.redis.Stop()
	b.Await(t, "Redis down shown", `tributary.connection().state === 'down' &&
		document.getElementById('conn-text').textContent === 'Redis down'`)
	cloud.redis.Restart(t)
	cloud.ingest(t, shed.ticks(time.Now(), 3)...)
	b.Await(t, "live again, history reloaded, three new points", fmt.Sprintf(
		`tributary.connection().state === 'live' && tributary.connection().historyLoads > %d &&
		 tributary.chartPoints('temperature') === 23`, loads))
	b.NoConsoleErrors(t)

	// The WebSocket drops and cannot come back at once; readings stored
	// meanwhile reach the page through the reload after the reconnect.
	cloud.gate.shut()
	b.Await(t, "reconnecting shown", `tributary.connection().state === 'reconnecting'`)
	cloud.ingest(t, shed.ticks(time.Now(), 4)...)
	cloud.gate.open()
	b.Await(t, "reconnected, gap filled",
		`tributary.connection().state === 'live' && tributary.connection().reconnects === 1 &&
		 tributary.chartPoints('temperature') === 27`)
	// While the stream was refused, Chromium logged the failed handshakes.
	b.NoConsoleErrors(t, "/api/stream")
}

// dashCloud is the cloud in-process: redis-server, store, hub, its Redis
// source, and
// the handler of package web serving the embedded dashboard.
type dashCloud struct {
	redis *redistest.Server
	st    *store.Store
	gate  *streamGate
	srv   *httptest.Server
}

func startDashCloud(t *testing.T) *dashCloud {
	t.Helper()
	c := &dashCloud{redis: redistest.Start(t, redistest.Options{})}
	c.st = store.New(c.redis.Client(t), store.Options{})
	hub := fanout.NewHub(fanout.Options{})
	live := redissource.New(c.st, redissource.Options{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	h, err := web.New(web.Options{Store: c.st, Hub: hub, Ready: live.Ready, Dashboard: web.DashboardFS()})
	if err != nil {
		t.Fatal(err)
	}
	c.gate = newStreamGate(h)
	c.srv = httptest.NewServer(c.gate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx, live) }()
	t.Cleanup(func() {
		c.srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := hub.Shutdown(sctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub's source: %v", err)
		}
	})
	c.awaitLive(t)
	return c
}

// awaitLive reads the stream until the source is subscribed, so that
// readings ingested from now on are published to the page.
func (c *dashCloud) awaitLive(t *testing.T) {
	t.Helper()
	cl := fanouttest.Dialer{}.Dial(t, "ws"+strings.TrimPrefix(c.srv.URL, "http")+"/api/stream")
	cl.AwaitLive(t)
	cl.Conn.Close()
}

func (c *dashCloud) ingest(t *testing.T, rs ...reading.Reading) {
	t.Helper()
	res, err := c.st.Ingest(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != len(rs) {
		t.Fatalf("ingest stored %d of %d readings", res.Stored, len(rs))
	}
}

// dashDevice makes readings of one simulated device, with growing seqs.
type dashDevice struct {
	id     string
	series []dashSeries
	seq    uint64
}

type dashSeries struct {
	sensor, metric, unit string
	base                 float64
}

// ticks returns n samplings of every series, one second apart from t0.
func (d *dashDevice) ticks(t0 time.Time, n int) []reading.Reading {
	var rs []reading.Reading
	for i := range n {
		for _, s := range d.series {
			d.seq++
			v := s.base + float64(d.seq%7)/4
			if s.metric == "door" {
				v = float64(d.seq / 5 % 2)
			}
			rs = append(rs, reading.Reading{
				Device: d.id, Sensor: s.sensor, Metric: s.metric, Unit: s.unit, Value: v,
				Time: t0.Add(time.Duration(i) * time.Second), Seq: d.seq,
			})
		}
	}
	return rs
}

// What the page's test hook returns (see web/dashboard/js/main.js).
type hookDevice struct {
	ID      string `json:"id"`
	Online  bool   `json:"online"`
	LastSeq uint64 `json:"lastSeq"`
	Latest  []struct {
		Metric string  `json:"metric"`
		Value  float64 `json:"value"`
	} `json:"latest"`
}

type hookChart struct {
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	Points int    `json:"points"`
	Canvas *struct {
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
	} `json:"canvas"`
}

// TestDashboardHumidityUnits: relative humidity is UCUM's "%", shown as
// "% RH" for a humidity metric (and "%" for any other, a battery's);
// history stored before the switch, in "%RH", is charted in the same
// chart as the new readings.
func TestDashboardHumidityUnits(t *testing.T) {
	cloud := startDashCloud(t)
	d := &dashDevice{id: "greenhouse-old", series: []dashSeries{{"sht31", "humidity", "%RH", 60}, {"zigbee", "battery", "%", 90}}}
	const old, fresh = 10, 5
	cloud.ingest(t, d.ticks(time.Now().Add(-20*time.Second), old)...)
	d.series[0].unit = "%"
	cloud.ingest(t, d.ticks(time.Now().Add(-5*time.Second), fresh)...)

	b := browsertest.Start(t, 1280, 900)
	b.Navigate(t, cloud.srv.URL+"/#device=greenhouse-old")
	b.Await(t, "old and new humidity in one chart",
		fmt.Sprintf(`tributary.selected() === 'greenhouse-old' && tributary.chartPoints('humidity') === %d && tributary.charts().length === 2`, old+fresh))
	for _, c := range browsertest.Eval[[]hookChart](t, b, `tributary.charts()`) {
		if c.Unit != "%" {
			t.Errorf("chart %+v: want unit %%", c)
		}
	}
	for sel, want := range map[string]string{
		`.chart-card[data-metric="humidity"] h3`: "humidity (% RH)",
		`.chart-card[data-metric="battery"] h3`:  "battery (%)",
	} {
		if got := browsertest.Eval[string](t, b, `document.querySelector('`+sel+`').textContent`); got != want {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	// The header and the device card are drawn on the next frame and the
	// next refresh of the list.
	b.Await(t, "humidity's newest value in % RH",
		`document.querySelector('.chart-card[data-metric="humidity"] .now')?.textContent.endsWith(' % RH')`)
	b.Await(t, "the device card lists humidity in % RH",
		`document.querySelector('button[data-device="greenhouse-old"]')?.textContent.includes('% RH')`)
	if got := browsertest.Eval[string](t, b, `document.querySelector('button[data-device="greenhouse-old"]').textContent`); strings.Contains(got, "%RH") {
		t.Errorf("device card %q shows the unit code %%RH", got)
	}
	b.NoConsoleErrors(t)
}

// TestDashboardFollowsDevicePages: the device list comes in pages; the
// dashboard follows the Link header to the last one.
func TestDashboardFollowsDevicePages(t *testing.T) {
	cloud := startDashCloud(t)
	const n = 2*store.DefaultDevicePage + 7
	var rs []reading.Reading
	for i := range n {
		rs = append(rs, reading.Reading{Device: fmt.Sprintf("node-%04d", i), Sensor: "sim", Metric: "temperature",
			Value: 20, Unit: "Cel", Time: time.Now().Add(-time.Minute), Seq: 1})
	}
	cloud.ingest(t, rs...)
	b := browsertest.Start(t, 1280, 900)
	b.Navigate(t, cloud.srv.URL+"/")
	b.Await(t, "every device listed", fmt.Sprintf(`tributary.devices().length === %d`, n))
	devs := browsertest.Eval[[]hookDevice](t, b, `tributary.devices()`)
	for i, d := range devs {
		if want := fmt.Sprintf("node-%04d", i); d.ID != want {
			t.Fatalf("device %d is %s, want %s", i, d.ID, want)
		}
	}
	b.NoConsoleErrors(t)
}

// TestDashboardCardsFitTheirColumn: a device with many series (a long
// values line) keeps its card inside the device column, cut with an
// ellipsis: on a laptop the card did not reach under the charts, on a
// phone the list did not scroll sideways (before, the list's grid column
// grew to the card's one-line content: 626 px cards in a 352 px column).
func TestDashboardCardsFitTheirColumn(t *testing.T) {
	cloud := startDashCloud(t)
	var series []dashSeries
	for _, m := range []string{"temperature", "humidity", "pressure", "illuminance", "soil_moisture", "co2", "voltage", "rain"} {
		series = append(series, dashSeries{"sensor-with-a-long-name", m, "1", 1234.5})
	}
	d := &dashDevice{id: "greenhouse-with-many-sensors", series: series}
	cloud.ingest(t, d.ticks(time.Now().Add(-10*time.Second), 3)...)
	b := browsertest.Start(t, 1400, 900)
	b.Navigate(t, cloud.srv.URL+"/")
	b.Await(t, "the device listed", `document.querySelectorAll('#device-list button.device').length === 1`)
	fits := `(() => {
		const col = document.querySelector('.devices').getBoundingClientRect();
		const card = document.querySelector('#device-list button.device').getBoundingClientRect();
		const list = document.querySelector('#device-list');
		return card.right <= col.right + 0.5 && list.scrollWidth <= list.clientWidth &&
			document.documentElement.scrollWidth <= window.innerWidth;
	})()`
	for _, vp := range []struct {
		w, h   int64
		mobile bool
	}{{1400, 900, false}, {390, 844, true}, {360, 740, true}} {
		b.Viewport(t, vp.w, vp.h, vp.mobile)
		b.Click(t, `button[data-device="greenhouse-with-many-sensors"]`)
		b.Await(t, "the device charted", `tributary.charts().length === 8`)
		if !browsertest.Eval[bool](t, b, fits) {
			t.Errorf("at %d px the card does not fit its column: card right %v, column right %v, list %v/%v px", vp.w,
				browsertest.Eval[float64](t, b, `document.querySelector('#device-list button.device').getBoundingClientRect().right`),
				browsertest.Eval[float64](t, b, `document.querySelector('.devices').getBoundingClientRect().right`),
				browsertest.Eval[int](t, b, `document.querySelector('#device-list').scrollWidth`),
				browsertest.Eval[int](t, b, `document.querySelector('#device-list').clientWidth`))
		}
		b.Screenshot(t, fmt.Sprintf("tributary-cards-%d.png", vp.w))
		if vp.w == 1400 && !browsertest.Eval[bool](t, b, `document.querySelector('#device-list button.device').getBoundingClientRect().right <= document.querySelector('.detail').getBoundingClientRect().left`) {
			t.Errorf("at %d px the card reaches under the charts", vp.w)
		}
	}
	b.NoConsoleErrors(t)
}
