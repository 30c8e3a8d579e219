package bridge

import (
	"context"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
)

// A foreign device cannot write readings for a Tributary agent: a Tasmota
// device whose topic made an agent's id (through a prefix-less
// tele/+/SENSOR mapping, as the example once had; now through a prefix
// that agents' ids also begin with, "edge-") got seqs after the agent's,
// so that the agent's next readings were dropped as duplicates and the
// foreign ones stood in its history. A device id with recorded boots
// (every agent records one when it starts) is refused to mappings: a dead
// letter bad_device_name naming it, with the payload.
func TestForeignNameCannotTakeAgentsReadings(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	mp := Mapping{Name: "tasmota", Topic: "tele/+/SENSOR", Format: FormatFlat, DeviceLevel: 2, DevicePrefix: "edge-", Sensor: "s",
		Fields: map[string]Field{"T": {Metric: "temperature", Unit: "Cel"}}}
	br := startBridge(t, e, func(o *Options) { o.Mappings = []Mapping{mp} })
	agent := mqttClient(t, e.mq.URL(), "edge-01", "", "", nil)
	hostile := mqttClient(t, e.mq.URL(), "tasmota", "", "", nil)
	status, err := mqttwire.EncodeStatus(mqttwire.Status{Online: true, Boot: "boot-1", FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, agent, mqttwire.StatusTopic("edge-01"), status, false)
	publish(t, agent, mqttwire.ReadingsTopic("edge-01"), encode(batch("edge-01", 1, 5)), false)
	awaitCount(t, e.st, "edge-01", 5)
	eventually(t, "the agent's boot recorded", func() bool {
		boots, err := e.st.Boots(context.Background(), "edge-01")
		return err == nil && len(boots) == 1
	})
	for i := 0; i < 3; i++ {
		publish(t, hostile, "tele/01/SENSOR", []byte(`{"T":99}`), false)
	}
	eventually(t, "the foreign messages handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", kindMapped)+
			br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonBadDeviceName) == 3
	})
	publish(t, agent, mqttwire.ReadingsTopic("edge-01"), encode(batch("edge-01", 6, 8)), false)
	eventually(t, "the agent's second batch handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", kindReadings) == 2
	})
	rs := storedReadings(t, e.st, "edge-01")
	for _, r := range rs {
		if r.Sensor != "sim" {
			t.Errorf("edge-01 holds a foreign reading: %+v", r)
		}
	}
	if len(rs) != 8 {
		t.Errorf("edge-01 holds %d readings, want its own 8", len(rs))
	}
	dl := deadLetters(t, e.rdb)
	if len(dl) != 3 {
		t.Fatalf("dead letters %v, want the 3 foreign messages", dl)
	}
	for _, d := range dl {
		if d["reason"] != ReasonBadDeviceName || d["topic"] != "tele/01/SENSOR" || d["payload"] != `{"T":99}` ||
			!strings.Contains(d["error"].(string), `"edge-01"`) || !strings.Contains(d["error"].(string), "agent") {
			t.Errorf("dead letter %v", d)
		}
	}
}
