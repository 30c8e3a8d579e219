package fanout_test

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
	dto "github.com/prometheus/client_model/go"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
)

func TestStatusFirstThenReadingsInOrder(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	c := ts.Dial(t, "")
	if st := c.Status(t, false); st.Reason != "waiting for the live feed" {
		t.Errorf("first status reason %q", st.Reason)
	}
	h.SetStatus(true, "")
	h.SetStatus(true, "") // unchanged: no frame
	c.Status(t, true)
	const n = 1000
	want := make([]reading.Reading, n)
	for i := range want {
		want[i] = testReading("a", uint64(i+1), float64(i)/8)
		h.Publish("a", time.Time{}, encoded(want[i]))
	}
	got := c.Readings(t, n)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("reading %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// A later client gets the current status first.
	c2 := ts.Dial(t, "")
	c2.Status(t, true)
	h.SetStatus(false, "redis: connection refused")
	for _, c := range []*fanouttest.Client{c, c2} {
		if st := c.Status(t, false); st.Reason != "redis: connection refused" {
			t.Errorf("status reason %q", st.Reason)
		}
	}
}

func TestSelectionByQuery(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	ca := ts.Dial(t, "?device=a")
	call := ts.Dial(t, "")
	cab := ts.Dial(t, "?device=b&device=a&device=b")
	for _, c := range []*fanouttest.Client{ca, call, cab} {
		c.Status(t, false)
	}
	pub := []reading.Reading{testReading("a", 1, 1), testReading("b", 1, 2), testReading("c", 1, 3), testReading("a", 2, 4)}
	for _, r := range pub {
		h.Publish(r.Device, time.Time{}, encoded(r))
	}
	for _, tc := range []struct {
		name string
		c    *fanouttest.Client
		want []reading.Reading
	}{
		{"device=a", ca, []reading.Reading{pub[0], pub[3]}},
		{"all", call, pub},
		{"device=a,b", cab, []reading.Reading{pub[0], pub[1], pub[3]}},
	} {
		got := tc.c.Readings(t, len(tc.want))
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: reading %d: got %s/%d, want %s/%d", tc.name, i, got[i].Device, got[i].Seq, tc.want[i].Device, tc.want[i].Seq)
			}
		}
	}
}

func TestSubscribeControlMessage(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	c := ts.Dial(t, "?device=a")
	c.Status(t, false)

	c.Send(t, `{"type":"subscribe","devices":["b"]}`)
	c.Sync(t)
	h.Publish("a", time.Time{}, encoded(testReading("a", 1, 1)))
	h.Publish("b", time.Time{}, encoded(testReading("b", 1, 2)))
	if got := c.Readings(t, 1); got[0].Device != "b" {
		t.Fatalf("after subscribe to b got %+v", got[0])
	}

	c.Send(t, `{"type":"subscribe","all":true}`)
	c.Sync(t)
	h.Publish("a", time.Time{}, encoded(testReading("a", 2, 3)))
	h.Publish("c", time.Time{}, encoded(testReading("c", 1, 4)))
	if got := c.Readings(t, 2); got[0].Device != "a" || got[1].Device != "c" {
		t.Fatalf("after subscribe to all got %+v", got)
	}

	c.Send(t, `{"type":"subscribe","devices":[]}`)
	c.Sync(t)
	h.Publish("a", time.Time{}, encoded(testReading("a", 3, 5)))
	h.SetStatus(true, "")
	c.Status(t, true) // and no reading before it
}

func TestBadClientMessagesCloseOnlyThatClient(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	bystander := ts.Dial(t, "")
	bystander.Status(t, false)
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
		{"too large", websocket.TextMessage, `{"type":"subscribe","devices":["` + strings.Repeat("a", fanout.DefaultMaxMessageSize) + `"]}`, websocket.CloseMessageTooBig, ""}, // gorilla's close: no reason
		{"binary", websocket.BinaryMessage, `{"type":"subscribe","all":true}`, websocket.CloseUnsupportedData, "binary"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.Dial(t, "")
			c.Status(t, false)
			if err := c.Conn.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			c.Closed(t, tc.code, tc.reason)
			ts.AwaitServed(t)
			r := testReading("a", uint64(i+1), 1)
			h.Publish("a", time.Time{}, encoded(r))
			if got := bystander.Readings(t, 1); got[0] != r {
				t.Fatalf("bystander got %+v, want %+v", got[0], r)
			}
		})
	}
	if got := h.Stats().BadMessages; got != uint64(len(cases)) {
		t.Errorf("bad messages counted %v, want %d", got, len(cases))
	}
}

// TestOversizedMessageRefusedFromItsHeader: a message announced larger
// than MaxMessageSize is refused at once with 1009, without waiting for (or
// reading) its payload.
func TestOversizedMessageRefusedFromItsHeader(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	c := ts.Dial(t, "")
	c.Status(t, false)
	// A masked text frame announcing 1 GiB, of which 16 bytes follow.
	frame := []byte{0x81, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, 1<<30)
	frame = append(frame, 1, 2, 3, 4)
	frame = append(frame, make([]byte, 16)...)
	if _, err := c.Conn.NetConn().Write(frame); err != nil {
		t.Fatal(err)
	}
	c.Closed(t, websocket.CloseMessageTooBig, "")
	ts.AwaitServed(t)
	if got := h.Stats().BadMessages; got != 1 {
		t.Errorf("bad messages counted %v, want 1", got)
	}
}

func TestParseSelection(t *testing.T) {
	long := strings.Repeat("x", reading.MaxIDLen+1)
	for _, tc := range []struct {
		query   string
		want    fanout.Selection
		wantErr string
	}{
		{"", fanout.Selection{All: true}, ""},
		{"device=a", fanout.Selection{Devices: []string{"a"}}, ""},
		{"device=b&device=a&device=b", fanout.Selection{Devices: []string{"a", "b"}}, ""},
		{"other=1", fanout.Selection{All: true}, ""},
		{"device=", fanout.Selection{}, "invalid device id"},
		{"device=-a", fanout.Selection{}, "invalid device id"},
		{"device=a%20b", fanout.Selection{}, "invalid device id"},
		{"device=" + long, fanout.Selection{}, "invalid device id"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fanout.ParseSelection(q)
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
	h := fanout.NewHub(fanout.Options{QueueSize: 64})
	ts := fanouttest.NewServer(t, h)
	slow := ts.DialRaw(t, "")
	// Its first frame proves it is registered; then it reads nothing.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := slow.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	fast := ts.Dial(t, "")
	fast.Status(t, false)

	// Publish in lock step with the fast client, so that it never has more
	// than one batch queued, until the slow one's buffers and queue are full.
	const batch = 50
	seq := uint64(0)
	step := func() {
		t.Helper()
		for range batch {
			seq++
			h.Publish("a", time.Time{}, encoded(testReading("a", seq, float64(seq))))
		}
		got := fast.Readings(t, batch)
		for i, r := range got {
			if want := seq - batch + uint64(i) + 1; r.Seq != want {
				t.Fatalf("fast client got seq %d, want %d", r.Seq, want)
			}
		}
	}
	for h.Stats().SlowDisconnects == 0 {
		if seq > 1e6 {
			t.Fatal("slow client not disconnected after 1e6 readings")
		}
		step()
	}
	t.Logf("slow client disconnected after %d readings", seq)
	step() // the others go on
	fanouttest.NewClient(slow).Closed(t, fanout.CloseSlow, "slow")
	ts.AwaitServed(t)
	if n := h.Clients(); n != 1 {
		t.Errorf("%d clients left, want 1", n)
	}
}

func TestShutdown(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	a, b := ts.Dial(t, ""), ts.Dial(t, "?device=x")
	a.Status(t, false)
	b.Status(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.Clients(); n != 0 {
		t.Errorf("%d clients after shutdown", n)
	}
	a.Closed(t, websocket.CloseGoingAway, "shutting down")
	b.Closed(t, websocket.CloseGoingAway, "shutting down")
	late := ts.Dial(t, "")
	late.Closed(t, websocket.CloseGoingAway, "shutting down")
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := fanout.NewHub(fanout.Options{})
	if err := reg.Register(h.Collector("tributary_cloud")); err != nil {
		t.Fatal(err)
	}
	ts := fanouttest.NewServer(t, h)
	all, onlyA := ts.Dial(t, ""), ts.Dial(t, "?device=a")
	all.Status(t, false)
	onlyA.Status(t, false)
	h.Publish("a", time.Time{}, encoded(testReading("a", 1, 1)))
	h.Publish("b", time.Time{}, encoded(testReading("b", 1, 1)))
	all.Readings(t, 2)
	onlyA.Readings(t, 1)
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
	if f := h.Stats().Frames; f < 4 || f > 5 {
		t.Errorf("frames sent %v, want 4 or 5", f)
	}
}

func testReading(dev string, seq uint64, v float64) reading.Reading {
	return reading.Reading{
		Device: dev, Sensor: "sim", Metric: "temperature", Value: v, Unit: "Cel",
		Time: time.Date(2026, 11, 26, 23, 1, 13, 0, time.UTC).Add(time.Duration(seq) * time.Second), Seq: seq,
	}
}

func encoded(r reading.Reading) []byte { return r.AppendJSON(nil) }

// TestControlMessageFitsTheDeviceLimit: the documented limit of
// MaxSelectedDevices devices per connection and the control message's size
// limit agree: a message selecting that many devices of the longest ids
// fits, and one more device gets a close that names the limit.
func TestControlMessageFitsTheDeviceLimit(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	ids := make([]string, fanout.MaxSelectedDevices+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%0*d", reading.MaxIDLen, i)
	}
	msg := func(ids []string) string {
		return `{"type":"subscribe","devices":["` + strings.Join(ids, `","`) + `"]}`
	}

	c := ts.Dial(t, "?device=none")
	c.Status(t, false)
	c.Send(t, msg(ids[:fanout.MaxSelectedDevices]))
	c.Sync(t)
	last := ids[fanout.MaxSelectedDevices-1]
	r := testReading(last, 1, 1)
	h.Publish(last, time.Time{}, encoded(r))
	if got := c.Readings(t, 1); got[0] != r {
		t.Fatalf("after selecting %d devices got %+v, want %+v", fanout.MaxSelectedDevices, got[0], r)
	}

	over := ts.Dial(t, "")
	over.Status(t, false)
	over.Send(t, msg(ids))
	over.Closed(t, websocket.ClosePolicyViolation, fmt.Sprintf("limit %d", fanout.MaxSelectedDevices))
}

func TestPublishEventReachesTheDevicesClientsInOrder(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	ca := ts.Dial(t, "?device=a")
	cb := ts.Dial(t, "?device=b")
	call := ts.Dial(t, "")
	for _, c := range []*fanouttest.Client{ca, cb, call} {
		c.Status(t, false)
	}
	ev := []byte(`{"v":1,"type":"command","command_status":{"id":"c1"}}`)
	h.Publish("a", time.Time{}, encoded(testReading("a", 1, 1)))
	h.PublishEvent("a", ev)
	h.Publish("a", time.Time{}, encoded(testReading("a", 2, 2)))
	h.Publish("b", time.Time{}, encoded(testReading("b", 1, 3)))
	for i, c := range []*fanouttest.Client{ca, call} {
		if got := c.Readings(t, 1); got[0].Seq != 1 {
			t.Fatalf("first reading seq %d", got[0].Seq)
		}
		f := c.Frame(t)
		if f.Type != reading.FrameCommand || string(f.CommandStatus) != `{"id":"c1"}` {
			t.Fatalf("got %+v, want the command frame", f)
		}
		if got := c.Readings(t, 1+i); got[0].Device != "a" || got[0].Seq != 2 { // the second client also has b's
			t.Fatalf("after the event: %+v", got[0])
		}
	}
	// b's client gets b's reading and never a's event.
	if got := cb.Readings(t, 1); got[0].Device != "b" {
		t.Fatalf("b got %+v", got[0])
	}
	if st := h.Stats(); st.Events != 1 {
		t.Errorf("Events = %d, want 1", st.Events)
	}
}

// TestWriteLatency: each frame of readings written observes the age of its
// oldest timed reading; frames without a timed reading, and status frames,
// observe nothing.
func TestWriteLatency(t *testing.T) {
	reg := prometheus.NewRegistry()
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "write_latency_seconds", Help: "Test."})
	reg.MustRegister(lat)
	h := fanout.NewHub(fanout.Options{WriteLatency: lat})
	c := fanouttest.NewServer(t, h).Dial(t, "")
	c.Status(t, false)
	hourAgo := time.Now().Add(-time.Hour)
	r := testReading("a", 1, 1)
	r.Time = hourAgo
	h.Publish("a", r.Time, encoded(r))
	c.Readings(t, 1)
	h.Publish("a", time.Time{}, encoded(testReading("a", 2, 2)))
	c.Readings(t, 1)
	h.SetStatus(true, "")
	c.Status(t, true)
	if n := testutil.CollectAndCount(lat); n != 1 {
		t.Fatalf("%d series", n)
	}
	// The status frame was written after the readings' frames were
	// observed.
	m := &dto.Metric{}
	if err := lat.Write(m); err != nil {
		t.Fatal(err)
	}
	if n, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); n != 1 || sum < 3600 || sum > 3600+60 {
		t.Errorf("write latency: %d observations, sum %vs; want 1 of about 3600s", n, sum)
	}
}
