package e2e

// Commands given on the edge's own dashboard (cmd/edge --listen) with the
// uplink down: switched in a real browser, applied by the edge's safety
// controller, and reported upstream in order when Redis comes back.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/browsertest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
)

// edgeAccount is a dashboard account of HTTP Basic authentication.
type edgeAccount struct{ name, password string }

// The edge dashboard's accounts in these tests: edgeOperator may switch
// actuators (--operator), edgeViewer only looks. (Named apart from the
// cloud command tests' operator and viewer.)
var (
	edgeOperator = edgeAccount{"ops-anna", "anna-secret-1"}
	edgeViewer   = edgeAccount{"viewer-ben", "ben-secret-2"}
)

// header is the account's Authorization header.
func (a edgeAccount) header() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.name+":"+a.password))
}

// simHeaterMinOff is the min_off of the heater `edge --sim` simulates
// (hardware/actuator_open.go): it may not switch on sooner after boot.
const simHeaterMinOff = 10 * time.Second

// startEdgeOperated runs an edge agent with simulated sensors (every 200
// ms) and actuators, sending to redisURL, serving its dashboard on a free
// loopback port to an operator and a viewer (an htpasswd file of bcrypt
// hashes), and returns the dashboard's base URL.
func startEdgeOperated(t *testing.T, device, redisURL string) (*proctest.Proc, string) {
	t.Helper()
	var users bytes.Buffer
	for _, a := range []edgeAccount{edgeOperator, edgeViewer} {
		h, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&users, "%s:%s\n", a.name, h)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, users.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, "edge "+device, binPath(t, "edge"), "--device", device, "--sim", "--redis", redisURL,
		"--interval", "200ms", "--state-dir", t.TempDir(), "--metrics-listen", "", "--listen", "127.0.0.1:0",
		"--auth-users", file, "--operator", edgeOperator.name)
	return p, p.Await(t, `msg="dashboard serving" .* url=(http://127\.0\.0\.1:\d+)/ auth=true operators=\[`+edgeOperator.name+`\] .*commands=true`, 30*time.Second)
}

// awaitHeaterMayStart waits until the simulated heater's min_off since the
// controller put it in its safe state at boot has passed (by its log line's
// time), so that switching it on is applied, not refused min_off_time.
// Nothing can signal the end of that product timer but the clock.
func awaitHeaterMayStart(t *testing.T, p *proctest.Proc) {
	t.Helper()
	ts := p.Await(t, `time=(\S+) level=INFO msg="actuator in its safe state \(boot\)" .*actuator=heater `, time.Minute)
	boot, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("heater's boot line: %v", err)
	}
	may := boot.Add(simHeaterMinOff + time.Second)
	eventually(t, "the heater's min_off since boot over", time.Minute, func() bool { return time.Now().After(may) })
}

// edgeCall sends method url as acct with body (JSON; nil: none), fails the
// test unless the answer has status want, and decodes the answer into v
// (nil: ignored).
func edgeCall(t *testing.T, method, url string, acct edgeAccount, body any, want int, v any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", acct.header())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s as %s: %s, want %d: %s", method, url, acct.name, resp.Status, want, got)
	}
	if v != nil {
		if err := json.Unmarshal(got, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, got)
		}
	}
}

// getEdgeInfo reads the edge's GET /api/edge.
func getEdgeInfo(t *testing.T, base string) edgeAPI {
	t.Helper()
	var info edgeAPI
	edgeCall(t, http.MethodGet, base+"/api/edge", edgeViewer, nil, http.StatusOK, &info)
	return info
}

// awaitEdgeUplink waits until the edge's /api/edge says its uplink is up (or
// down).
func awaitEdgeUplink(t *testing.T, base string, up bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("/api/edge saying the uplink connected=%v", up), time.Minute, func() bool {
		return getEdgeInfo(t, base).Uplink.Connected == up
	})
}

// edgeCommandLog is the answer of GET /api/devices/{id}/commands.
type edgeCommandLog struct {
	Device   string           `json:"device"`
	Commands []command.Record `json:"commands"`
}

// postEdgeCommand gives a command on the edge's dashboard as the operator (REST)
// and returns it as recorded.
func postEdgeCommand(t *testing.T, base, device, actuator string, value float64) command.Command {
	t.Helper()
	var c command.Command
	edgeCall(t, http.MethodPost, base+"/api/devices/"+device+"/commands", edgeOperator,
		map[string]any{"actuator": actuator, "value": value, "timeout": "2m"}, http.StatusAccepted, &c)
	return c
}

// awaitEdgeFinal waits until the edge's command log shows id in a final
// state, and returns its record.
func awaitEdgeFinal(t *testing.T, base, device, id string) command.Record {
	t.Helper()
	var rec command.Record
	eventually(t, "command "+id+" final on the edge", time.Minute, func() bool {
		var log edgeCommandLog
		edgeCall(t, http.MethodGet, base+"/api/devices/"+device+"/commands?limit=100", edgeViewer, nil, http.StatusOK, &log)
		for _, r := range log.Commands {
			if r.Command.ID == id {
				rec = r
				return r.State().Final()
			}
		}
		return false
	})
	return rec
}

// dialEdgeStream is dialStream signed in as acct.
func dialEdgeStream(t *testing.T, base, query string, acct edgeAccount) *stream {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/stream" + query
	conn, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {acct.header()}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &stream{t: t, conn: conn}
}

// edgeStatuses reads s until command id has a final status, and returns its
// statuses as they came.
func (s *stream) edgeStatuses(id string, timeout time.Duration) []command.Status {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var got []command.Status
	for len(got) == 0 || !got[len(got)-1].State.Final() {
		left := time.Until(deadline)
		if left <= 0 {
			s.t.Fatalf("after %v, command %s's statuses %+v and none final", timeout, id, got)
		}
		f := s.next(left)
		if f.Type != reading.FrameCommand || f.CommandStatus == nil {
			continue
		}
		st, err := command.DecodeStatus(f.CommandStatus)
		if err != nil {
			s.t.Fatalf("status frame %s: %v", f.CommandStatus, err)
		}
		if st.ID == id {
			got = append(got, st)
		}
	}
	return got
}

// signInEdge makes the browser send acct's credentials with every request
// (pages, API calls, the WebSocket), as a browser does once signed in.
func signInEdge(t *testing.T, b *browsertest.Browser, acct edgeAccount) {
	t.Helper()
	b.Run(t, "sign in as "+acct.name, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": acct.header()}})
		return err
	}))
}

// edgeHeaterOn returns the heater's state readings at 1 in the edge's history
// since since.
func edgeHeaterOn(t *testing.T, base, device string, since time.Time) []reading.Reading {
	t.Helper()
	var hist struct {
		Readings []reading.Reading `json:"readings"`
	}
	edgeCall(t, http.MethodGet, base+"/api/devices/"+device+"/readings?limit=1000&since="+since.UTC().Format(time.RFC3339Nano), edgeViewer, nil, http.StatusOK, &hist)
	var on []reading.Reading
	for _, r := range hist.Readings {
		if r.Sensor == "heater" && r.Metric == command.MetricOn && r.Value == 1 {
			on = append(on, r)
		}
	}
	return on
}

// TestEdgeDashboardSwitchesARelayUplinkDown: with Redis killed, an operator
// opens the edge's own dashboard in Chromium (a 390 px phone, then a
// 1400 px laptop), sees live values, and switches the simulated heater on:
// the edge's controller accepts and applies it, the page shows it applied
// and the heater on, its state reading is 1 in the edge's history, and the
// uplink is still down. A viewer gets the controls disabled, and 403.
func TestEdgeDashboardSwitchesARelayUplinkDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const dev = "edge-relay"
	p, base := startEdgeOperated(t, dev, srv.URL())
	awaitEdgeUplink(t, base, true)
	srv.Kill()
	awaitEdgeUplink(t, base, false)

	b := browsertest.Start(t, 390, 844)
	signInEdge(t, b, edgeOperator)
	b.Viewport(t, 390, 844, true)
	b.Navigate(t, base+"/#device="+dev)
	b.Await(t, "live values", `tributary.selected() === '`+dev+`' && tributary.connection().state === 'live' &&
		tributary.chartPoints('temperature') > 0`)
	n := browsertest.Eval[int](t, b, `tributary.chartPoints('temperature')`)
	b.Await(t, "the temperature chart growing live", fmt.Sprintf(`tributary.chartPoints('temperature') > %d`, n+3))
	b.Await(t, "the operator's heater switch, off", `tributary.commands().operator && tributary.commands().user === '`+edgeOperator.name+`' &&
		tributary.commands().actuators.length === 2 && tributary.commands().actuators[0].name === 'heater' &&
		tributary.commands().actuators[0].state === 'off' && !tributary.commands().actuators[0].disabled`)

	live := dialEdgeStream(t, base, "?device="+dev, edgeViewer)
	awaitHeaterMayStart(t, p)
	clicked := time.Now()
	b.Click(t, `li[data-actuator="heater"] input[role="switch"]`)
	b.Await(t, "the command given", `tributary.commands().records.length === 1`)
	id := browsertest.Eval[string](t, b, `tributary.commands().records[0].id`)
	// The page's feed: accepted, then applied. (The page renders once a
	// frame, so it may show both in one.)
	sts := live.edgeStatuses(id, time.Minute)
	if len(sts) != 2 || sts[0].State != command.Accepted || sts[1].State != command.Applied || sts[1].Value != 1 {
		t.Fatalf("command %s's statuses on the edge's stream: %+v, want accepted then applied at 1", id, sts)
	}
	heater := `document.querySelector('li[data-actuator="heater"]')`
	applied := `tributary.commands().records[0].state === 'applied' && tributary.commands().records[0].by === '` + edgeOperator.name + `' &&
		tributary.commands().actuators[0].state === 'on' && ` + heater + `.dataset.state === 'on' &&
		` + heater + `.querySelector('input').checked && ` + heater + `.querySelector('.act-progress').textContent === 'applied' &&
		document.querySelector('#act-audit li[data-id="` + id + `"] .act-who').textContent === '` + edgeOperator.name + `'`
	fits := `document.documentElement.scrollWidth <= innerWidth &&
		[...document.querySelectorAll('#actuators *')].every((e) => e.getBoundingClientRect().right <= innerWidth + 0.5)`
	b.Await(t, "applied shown, the heater on, within 390 px", applied+" && "+fits)
	b.Screenshot(t, "tributary-edge-relay-390.png")

	eventually(t, "the heater's state reading at 1 in the edge's history", time.Minute, func() bool {
		return len(edgeHeaterOn(t, base, dev, clicked)) > 0
	})
	rec := awaitEdgeFinal(t, base, dev, id)
	if !rec.Local || rec.Command.By != edgeOperator.name || rec.Command.Actuator != "heater" || rec.Command.Value != 1 || rec.State() != command.Applied {
		t.Errorf("the edge's record of the command: %+v", rec)
	}
	if info := getEdgeInfo(t, base); info.Uplink.Connected || info.Uplink.LastError == "" {
		t.Errorf("/api/edge after the command: %+v, want the uplink down", info.Uplink)
	}

	b.Viewport(t, 1400, 900, false)
	b.Await(t, "applied shown at 1400 px", applied+" && "+fits)
	b.Screenshot(t, "tributary-edge-relay-1400.png")
	b.NoConsoleErrors(t)

	// A viewer: the controls disabled, and the API says no.
	signInEdge(t, b, edgeViewer)
	b.Navigate(t, "about:blank") // the same URL again would not reload the page
	b.Navigate(t, base+"/#device="+dev)
	b.Await(t, "a viewer's controls disabled, the heater on", `tributary.commands().user === '`+edgeViewer.name+`' &&
		!tributary.commands().operator && tributary.commands().actuators.length === 2 &&
		tributary.commands().actuators.every((a) => a.disabled) && tributary.commands().actuators[0].state === 'on' &&
		document.getElementById('act-note').textContent.includes('a viewer')`)
	b.NoConsoleErrors(t)
	edgeCall(t, http.MethodPost, base+"/api/devices/"+dev+"/commands", edgeViewer, map[string]any{"actuator": "heater", "value": 0}, http.StatusForbidden, nil)
	if got := p.Log.Last(`msg="command applied" .*actuator=heater .*value=0`); got != "" {
		t.Errorf("a viewer's command was applied: %s", got)
	}
}

// TestEdgeLocalCommandsReportedUpstreamInOrder: commands given on the edge's
// dashboard while Redis is down are applied or refused there, and reach
// the cloud's audit when Redis is back: every one, local, by the operator,
// each accepted then applied or refused with its reason, in the order
// given.
func TestEdgeLocalCommandsReportedUpstreamInOrder(t *testing.T) {
	srv := redistest.Start(t, durable)
	st := storeOf(t, srv)
	const dev = "edge-local"
	p, base := startEdgeOperated(t, dev, srv.URL())
	ctx := context.Background()
	eventually(t, "the edge's actuators announced in Redis", time.Minute, func() bool {
		acts, err := st.Actuators(ctx, dev)
		return err == nil && len(acts) == 2
	})
	awaitEdgeUplink(t, base, true)
	srv.Kill()
	awaitEdgeUplink(t, base, false)
	awaitHeaterMayStart(t, p)

	// Each given once the one before it is final on the edge.
	steps := []struct {
		actuator string
		value    float64
	}{{"heater", 1}, {"fan", 40}, {"heater", 0}, {"heater", 1}, {"fan", 0}}
	var given []command.Record
	for _, s := range steps {
		c := postEdgeCommand(t, base, dev, s.actuator, s.value)
		given = append(given, awaitEdgeFinal(t, base, dev, c.ID))
	}
	// What the edge decided: the heater, switched off, may not switch on
	// again within its min_off (by the edge's own timestamps).
	want := []command.State{command.Applied, command.Applied, command.Applied, command.Refused, command.Applied}
	offFor := given[3].Statuses[0].Time.Sub(given[2].Statuses[len(given[2].Statuses)-1].Time)
	if offFor >= simHeaterMinOff {
		want[3] = command.Applied // the machine stalled past min_off between the two
	}
	for i, r := range given {
		if len(r.Statuses) != 2 || r.Statuses[0].State != command.Accepted || r.State() != want[i] {
			t.Fatalf("command %d (%s to %v) on the edge: %+v, want accepted then %s", i, r.Command.Actuator, r.Command.Value, r.Statuses, want[i])
		}
	}
	if want[3] == command.Refused && given[3].Statuses[1].Reason != command.ReasonMinOffTime {
		t.Fatalf("the heater switched on %v after off: %+v, want refused %s", offFor, given[3].Statuses[1], command.ReasonMinOffTime)
	}
	if info := getEdgeInfo(t, base); info.Uplink.Connected {
		t.Fatalf("/api/edge: %+v, want the uplink still down", info.Uplink)
	}

	srv.Restart(t)
	var audit []command.Record
	eventually(t, "the cloud's audit holding the five local commands, final", 2*time.Minute, func() bool {
		var err error
		audit, err = st.CommandLog(ctx, dev, 50)
		if err != nil || len(audit) != len(given) {
			return false
		}
		for _, r := range audit {
			if !r.State().Final() {
				return false
			}
		}
		return true
	})
	// Newest first: reversed, the order given.
	for i, r := range audit {
		g := given[len(given)-1-i]
		if r.Command.ID != g.Command.ID || !r.Local || r.Command.By != edgeOperator.name || r.Command.Actuator != g.Command.Actuator ||
			r.Command.Value != g.Command.Value || !sameEdgeStatuses(r.Statuses, g.Statuses) {
			t.Errorf("audit[%d] = %+v\nwant %+v", i, r, g)
		}
	}
	// The events stream: each command, then its statuses, in the order
	// given, nothing lost (a resend after an error may repeat some).
	raw, err := st.Client().XRange(ctx, st.CommandEventsKey(dev), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	seen := map[string]bool{}
	for _, m := range raw {
		ev, err := command.DecodeEvent([]byte(fmt.Sprint(m.Values["e"])))
		if err != nil {
			t.Fatalf("event %s: %v", m.ID, err)
		}
		k := "command " + edgeEventKey(ev)
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	var wantOrder []string
	for _, g := range given {
		wantOrder = append(wantOrder, "command "+g.Command.ID)
		for _, s := range g.Statuses {
			wantOrder = append(wantOrder, "command "+s.ID+" "+string(s.State))
		}
	}
	if strings.Join(order, "\n") != strings.Join(wantOrder, "\n") {
		t.Errorf("events in Redis, in order:\n%s\nwant:\n%s", strings.Join(order, "\n"), strings.Join(wantOrder, "\n"))
	}

	// The cloud binary's audit says the same.
	_, cloud := startCloud(t, "--redis", srv.URL())
	var log edgeCommandLog
	getJSON(t, ctx, cloud+"/api/devices/"+dev+"/commands", &log)
	if len(log.Commands) != len(given) {
		t.Fatalf("the cloud's GET commands: %d records, want %d", len(log.Commands), len(given))
	}
	for i, r := range log.Commands {
		g := given[len(given)-1-i]
		if r.Command.ID != g.Command.ID || !r.Local || r.Command.By != edgeOperator.name || r.State() != g.State() {
			t.Errorf("the cloud's record %d = %+v, want %+v", i, r, g)
		}
	}
}

// edgeEventKey names an event: a command's id, or a status's id and state.
func edgeEventKey(ev command.Event) string {
	if ev.Command != nil {
		return ev.Command.ID
	}
	return ev.Status.ID + " " + string(ev.Status.State)
}

// sameEdgeStatuses compares statuses by state, reason and time.
func sameEdgeStatuses(a, b []command.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].State != b[i].State || a[i].Reason != b[i].Reason || !a[i].Time.Equal(b[i].Time) {
			return false
		}
	}
	return true
}
