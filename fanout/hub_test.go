package fanout

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/reading"
)

func TestStatusFirstThenReadingsInOrder(t *testing.T) {
	h := NewHub(Options{})
	ts := newTestServer(t, h)
	c := ts.dial(t, "")
	if st := c.status(t, false); st.Reason != "waiting for the live feed" {
		t.Errorf("first status reason %q", st.Reason)
	}
	h.SetStatus(true, "")
	h.SetStatus(true, "") // unchanged: no frame
	c.status(t, true)
	const n = 1000
	want := make([]reading.Reading, n)
	for i := range want {
		want[i] = testReading("a", uint64(i+1), float64(i)/8)
		h.Publish("a", encoded(want[i]))
	}
	got := c.readings(t, n)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("reading %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// A later client gets the current status first.
	c2 := ts.dial(t, "")
	c2.status(t, true)
	h.SetStatus(false, "redis: connection refused")
	for _, c := range []*testClient{c, c2} {
		if st := c.status(t, false); st.Reason != "redis: connection refused" {
			t.Errorf("status reason %q", st.Reason)
		}
	}
}

func TestSelectionByQuery(t *testing.T) {
	h := NewHub(Options{})
	ts := newTestServer(t, h)
	ca := ts.dial(t, "?device=a")
	call := ts.dial(t, "")
	cab := ts.dial(t, "?device=b&device=a&device=b")
	for _, c := range []*testClient{ca, call, cab} {
		c.status(t, false)
	}
	pub := []reading.Reading{testReading("a", 1, 1), testReading("b", 1, 2), testReading("c", 1, 3), testReading("a", 2, 4)}
	for _, r := range pub {
		h.Publish(r.Device, encoded(r))
	}
	for _, tc := range []struct {
		name string
		c    *testClient
		want []reading.Reading
	}{
		{"device=a", ca, []reading.Reading{pub[0], pub[3]}},
		{"all", call, pub},
		{"device=a,b", cab, []reading.Reading{pub[0], pub[1], pub[3]}},
	} {
		got := tc.c.readings(t, len(tc.want))
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: reading %d: got %s/%d, want %s/%d", tc.name, i, got[i].Device, got[i].Seq, tc.want[i].Device, tc.want[i].Seq)
			}
		}
	}
}

func TestSubscribeControlMessage(t *testing.T) {
	h := NewHub(Options{})
	ts := newTestServer(t, h)
	c := ts.dial(t, "?device=a")
	c.status(t, false)

	c.send(t, `{"type":"subscribe","devices":["b"]}`)
	c.sync(t)
	h.Publish("a", encoded(testReading("a", 1, 1)))
	h.Publish("b", encoded(testReading("b", 1, 2)))
	if got := c.readings(t, 1); got[0].Device != "b" {
		t.Fatalf("after subscribe to b got %+v", got[0])
	}

	c.send(t, `{"type":"subscribe","all":true}`)
	c.sync(t)
	h.Publish("a", encoded(testReading("a", 2, 3)))
	h.Publish("c", encoded(testReading("c", 1, 4)))
	if got := c.readings(t, 2); got[0].Device != "a" || got[1].Device != "c" {
		t.Fatalf("after subscribe to all got %+v", got)
	}

	c.send(t, `{"type":"subscribe","devices":[]}`)
	c.sync(t)
	h.Publish("a", encoded(testReading("a", 3, 5)))
	h.SetStatus(true, "")
	c.status(t, true) // and no reading before it
}

func TestBadClientMessagesCloseOnlyThatClient(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHub(Options{Registerer: reg})
	ts := newTestServer(t, h)
	bystander := ts.dial(t, "")
	bystander.status(t, false)
	cases := []struct {
		name   string
		typ    int
		msg    string
		code   int
		reason string
	}{
		{"not JSON", websocket.TextMessage, "hello", websocket.ClosePolicyViolation, "bad control message"},
		{"unknown type", websocket.TextMessage, `{"type":"unsubscribe"}`, websocket.ClosePolicyViolation, `type "unsubscribe"`},
		{"unknown field", websocket.TextMessage, `{"type":"subscribe","all":true,"x":1}`, websocket.ClosePolicyViolation, "unknown field"},
		{"invalid id", websocket.TextMessage, `{"type":"subscribe","devices":["no spaces"]}`, websocket.ClosePolicyViolation, "invalid device id"},
		{"too large", websocket.TextMessage, `{"type":"subscribe","devices":["` + strings.Repeat("a", 5000) + `"]}`, websocket.CloseMessageTooBig, ""}, // gorilla's close: no reason
		{"binary", websocket.BinaryMessage, `{"type":"subscribe","all":true}`, websocket.CloseUnsupportedData, "binary"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t, "")
			c.status(t, false)
			if err := c.conn.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			c.closed(t, tc.code, tc.reason)
			ts.await(t)
			r := testReading("a", uint64(i+1), 1)
			h.Publish("a", encoded(r))
			if got := bystander.readings(t, 1); got[0] != r {
				t.Fatalf("bystander got %+v, want %+v", got[0], r)
			}
		})
	}
	if got := testutil.ToFloat64(h.m.rejected); got != float64(len(cases)) {
		t.Errorf("bad messages counted %v, want %d", got, len(cases))
	}
}

// TestOversizedMessageRefusedFromItsHeader: a message announced larger
// than MaxMessageSize is refused at once with 1009, without waiting for (or
// reading) its payload.
func TestOversizedMessageRefusedFromItsHeader(t *testing.T) {
	h := NewHub(Options{})
	ts := newTestServer(t, h)
	c := ts.dial(t, "")
	c.status(t, false)
	// A masked text frame announcing 1 GiB, of which 16 bytes follow.
	frame := []byte{0x81, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, 1<<30)
	frame = append(frame, 1, 2, 3, 4)
	frame = append(frame, make([]byte, 16)...)
	if _, err := c.conn.NetConn().Write(frame); err != nil {
		t.Fatal(err)
	}
	c.closed(t, websocket.CloseMessageTooBig, "")
	ts.await(t)
	if got := testutil.ToFloat64(h.m.rejected); got != 1 {
		t.Errorf("bad messages counted %v, want 1", got)
	}
}

func TestParseSelection(t *testing.T) {
	long := strings.Repeat("x", reading.MaxIDLen+1)
	for _, tc := range []struct {
		query   string
		want    Selection
		wantErr string
	}{
		{"", Selection{All: true}, ""},
		{"device=a", Selection{Devices: []string{"a"}}, ""},
		{"device=b&device=a&device=b", Selection{Devices: []string{"a", "b"}}, ""},
		{"other=1", Selection{All: true}, ""},
		{"device=", Selection{}, "invalid device id"},
		{"device=-a", Selection{}, "invalid device id"},
		{"device=a%20b", Selection{}, "invalid device id"},
		{"device=" + long, Selection{}, "invalid device id"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSelection(q)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got %+v, %v; want error with %q", tc.query, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
}

func TestSlowClientIsClosedAndOthersGetEverything(t *testing.T) {
	h := NewHub(Options{QueueSize: 64})
	ts := newTestServer(t, h)
	slow := ts.dialRaw(t, "")
	// Its first frame proves it is registered; then it reads nothing.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := slow.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	fast := ts.dial(t, "")
	fast.status(t, false)

	// Publish in lock step with the fast client, so that it never has more
	// than one batch queued, until the slow one's buffers and queue are full.
	const batch = 50
	seq := uint64(0)
	step := func() {
		t.Helper()
		for range batch {
			seq++
			h.Publish("a", encoded(testReading("a", seq, float64(seq))))
		}
		got := fast.readings(t, batch)
		for i, r := range got {
			if want := seq - batch + uint64(i) + 1; r.Seq != want {
				t.Fatalf("fast client got seq %d, want %d", r.Seq, want)
			}
		}
	}
	for testutil.ToFloat64(h.m.slow) == 0 {
		if seq > 1e6 {
			t.Fatal("slow client not disconnected after 1e6 readings")
		}
		step()
	}
	t.Logf("slow client disconnected after %d readings", seq)
	step() // the others go on
	startReader(slow).closed(t, CloseSlow, "slow")
	ts.await(t)
	if n := h.Clients(); n != 1 {
		t.Errorf("%d clients left, want 1", n)
	}
}

func TestShutdown(t *testing.T) {
	h := NewHub(Options{})
	ts := newTestServer(t, h)
	a, b := ts.dial(t, ""), ts.dial(t, "?device=x")
	a.status(t, false)
	b.status(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Clients(); n != 0 {
		t.Errorf("%d clients after shutdown", n)
	}
	a.closed(t, websocket.CloseGoingAway, "shutting down")
	b.closed(t, websocket.CloseGoingAway, "shutting down")
	late := ts.dial(t, "")
	late.closed(t, websocket.CloseGoingAway, "shutting down")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHub(Options{Registerer: reg})
	ts := newTestServer(t, h)
	all, onlyA := ts.dial(t, ""), ts.dial(t, "?device=a")
	all.status(t, false)
	onlyA.status(t, false)
	h.Publish("a", encoded(testReading("a", 1, 1)))
	h.Publish("b", encoded(testReading("b", 1, 1)))
	all.readings(t, 2)
	onlyA.readings(t, 1)
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tributary_cloud_readings_delivered_total Readings sent to WebSocket clients (handed to the connection), counted once per client.
# TYPE tributary_cloud_readings_delivered_total counter
tributary_cloud_readings_delivered_total 3
# HELP tributary_cloud_readings_received_total Readings published to the fan-out hub.
# TYPE tributary_cloud_readings_received_total counter
tributary_cloud_readings_received_total 2
# HELP tributary_cloud_websocket_clients WebSocket clients connected to the fan-out hub.
# TYPE tributary_cloud_websocket_clients gauge
tributary_cloud_websocket_clients 2
# HELP tributary_cloud_websocket_slow_disconnects_total WebSocket clients disconnected (code 3008) because their queue was full.
# TYPE tributary_cloud_websocket_slow_disconnects_total counter
tributary_cloud_websocket_slow_disconnects_total 0
`), "tributary_cloud_readings_delivered_total", "tributary_cloud_readings_received_total",
		"tributary_cloud_websocket_clients", "tributary_cloud_websocket_slow_disconnects_total")
	if err != nil {
		t.Error(err)
	}
	// Two status frames, then one or two readings frames for all.
	if f := testutil.ToFloat64(h.m.frames); f < 4 || f > 5 {
		t.Errorf("frames sent %v, want 4 or 5", f)
	}
}
