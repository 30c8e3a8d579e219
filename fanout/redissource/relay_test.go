package redissource

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// relayRecorder keeps what a source delivers.
type relayRecorder struct{ readings, events [][]byte }

func (r *relayRecorder) Publish(_ string, _ time.Time, raw []byte) {
	r.readings = append(r.readings, raw)
}
func (r *relayRecorder) PublishEvent(_ string, frame []byte) { r.events = append(r.events, frame) }
func (r *relayRecorder) SetStatus(bool, string)              {}

// A device may PUBLISH on its own channels. Go's JSON decoder matches keys
// without regard to case and keeps the last duplicate; a browser's
// JSON.parse is case-sensitive. A frame relayed as published could so read,
// in a browser, as another device's reading or status, or as a forged
// "no live data": the source relays what it checked, re-encoded.
func TestRelaysWhatItChecked(t *testing.T) {
	s := New(store.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), store.Options{}), Options{})
	valid := `{"v":1,"id":"x1","device":"dev-a","actuator":"heater","state":"accepted","value":1,"ts":"2026-12-03T18:00:00.000Z"}`
	frames := map[string]string{
		"readings of dev-b": `{"v":1,"type":"readings","readings":[{"v":1,"device":"dev-b","sensor":"heater","metric":"on","value":1,"unit":"1","ts":"2026-12-03T18:00:00.000Z","seq":9}],"Type":"command","Readings":null,"command_status":` + valid + `}`,
		"status of dev-b":   `{"v":1,"type":"command","command_status":{"v":1,"id":"c-real","device":"dev-b","actuator":"heater","state":"applied","value":0,"ts":"2026-12-03T18:00:00.000Z"},"Command_status":` + valid + `}`,
		"cloud down":        `{"v":1,"type":"status","status":{"live":false,"reason":"forged"},"Type":"command","Status":null,"command_status":` + valid + `}`,
	}
	var rec relayRecorder
	for _, f := range frames {
		s.deliverEvent(&rec, &redis.Message{Channel: s.st.EventsChannel("dev-a"), Payload: f})
	}
	s.deliver(&rec, &redis.Message{Channel: s.st.LiveChannel("dev-a"),
		Payload: `{"v":1,"device":"dev-b","sensor":"heater","metric":"on","value":1,"unit":"1","ts":"2026-12-03T18:00:00.000Z","seq":9,"Device":"dev-a"}`})
	for _, f := range append(rec.events, rec.readings...) {
		var js map[string]any // as a browser reads it
		if err := json.Unmarshal(f, &js); err != nil {
			t.Fatal(err)
		}
		dev := js["device"]
		if js["type"] != nil {
			if js["type"] != "command" {
				t.Errorf("relayed a frame of type %v: %s", js["type"], f)
				continue
			}
			st, _ := js["command_status"].(map[string]any)
			dev = st["device"]
		}
		if dev != "dev-a" {
			t.Errorf("relayed, from dev-a's channel, what a browser reads as device %v: %s", dev, f)
		}
	}
	if len(rec.events)+len(rec.readings) == 0 {
		t.Fatal("nothing relayed: the test shows nothing")
	}
}

// TestRelayLatency: each valid reading received observes its age, and is
// handed on with its time; an invalid one observes nothing.
func TestRelayLatency(t *testing.T) {
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relay_latency_seconds", Help: "Test."})
	s := New(store.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), store.Options{}), Options{RelayLatency: lat})
	var rec timeRecorder
	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	r := reading.Reading{Device: "dev-a", Sensor: "sim", Metric: "temperature", Value: 1, Unit: "Cel", Time: ts, Seq: 1}
	s.deliver(&rec, &redis.Message{Channel: s.st.LiveChannel("dev-a"), Payload: string(r.AppendJSON(nil))})
	s.deliver(&rec, &redis.Message{Channel: s.st.LiveChannel("dev-a"), Payload: "not a reading"})
	if len(rec.times) != 1 || !rec.times[0].Equal(ts) {
		t.Errorf("handed on with times %v, want [%v]", rec.times, ts)
	}
	m := &dto.Metric{}
	if err := lat.Write(m); err != nil {
		t.Fatal(err)
	}
	if n, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); n != 1 || sum < 60 || sum > 60+30 {
		t.Errorf("relay latency: %d observations, sum %vs; want 1 of about 60s", n, sum)
	}
}

// timeRecorder keeps the times of the readings a source delivers.
type timeRecorder struct{ times []time.Time }

func (r *timeRecorder) Publish(_ string, ts time.Time, _ []byte) { r.times = append(r.times, ts) }
func (r *timeRecorder) PublishEvent(string, []byte)              {}
func (r *timeRecorder) SetStatus(bool, string)                   {}
