package bridge

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/reading"
)

// exampleCase is a worked example of mappings.example.yaml: a documented
// payload (the file cites its source) and the readings it must make.
type exampleCase struct {
	name, topic, payload string
	arrival              time.Time
	device               string
	want                 []string // "sensor metric value unit time", see readingLine
}

// readingLine renders what a worked example asserts of a reading.
func readingLine(r reading.Reading) string {
	return fmt.Sprintf("%s %s %v %s %s", r.Sensor, r.Metric, r.Value, r.Unit, r.Time.UTC().Format(reading.TimeLayout))
}

var (
	z2mArrival    = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	shellyArrival = time.Date(2023, 4, 8, 14, 8, 10, 0, time.UTC)
	senmlArrival  = time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
)

// exampleCases are the payloads shown in mappings.example.yaml.
var exampleCases = []exampleCase{
	{"zigbee2mqtt", "zigbee2mqtt/living room/climate", `{"temperature": 27.34, "humidity": 44.72}`,
		z2mArrival, "z2m-living_20room.climate", []string{
			"zigbee humidity 44.72 % 2026-12-03T08:00:00.000Z",
			"zigbee temperature 27.34 Cel 2026-12-03T08:00:00.000Z",
		}},
	{"tasmota", "tele/TH16/SENSOR", `{"Time":"2018-03-02T18:25:03","AM2301":{"Temperature":22.6,"Humidity":32.4},"TempUnit":"C"}`,
		time.Date(2018, 3, 2, 17, 25, 30, 0, time.UTC), "tasmota-TH16", []string{
			"am2301 humidity 32.4 % 2018-03-02T17:25:03.000Z",
			"am2301 temperature 22.6 Cel 2018-03-02T17:25:03.000Z",
		}},
	{"shelly", "shellyplusht-b8d61a8b17cc/events/rpc", `{"src":"shellyplusht-b8d61a8b17cc","dst":"shellyplusht-b8d61a8b17cc/events","method":"NotifyFullStatus",` +
		`"params":{"ts":1680962879.62,"devicepower:0":{"id":0,"battery":{"V":0.43,"percent":0},"external":{"present":true}},` +
		`"humidity:0":{"id":0,"rh":42.2},"temperature:0":{"id":0,"tC":19.8,"tF":67.6}}}`,
		shellyArrival, "shelly-shellyplusht-b8d61a8b17cc", []string{
			"shelly battery 0 % 2023-04-08T14:07:59.620Z",
			"shelly humidity 42.2 % 2023-04-08T14:07:59.620Z",
			"shelly temperature 19.8 Cel 2023-04-08T14:07:59.620Z",
		}},
	{"homeassistant", "homeassistant/sensor/bedroom/state", `{ "temperature": 21.4, "humidity": 52, "batteryvoltage" : 2.95, "batterylevel": 87 }`,
		z2mArrival, "ha-bedroom", []string{
			"ha battery 87 % 2026-12-03T08:00:00.000Z",
			"ha battery_voltage 2.95 V 2026-12-03T08:00:00.000Z",
			"ha humidity 52 % 2026-12-03T08:00:00.000Z",
			"ha temperature 21.4 Cel 2026-12-03T08:00:00.000Z",
		}},
	{"senml multiple measurements", "senml/tracker-1", `[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320067464e+09,"bu":"%RH","v":20},
 {"u":"lon","v":24.30621},{"u":"lat","v":60.07965},
 {"t":60,"v":20.3},{"u":"lon","t":60,"v":24.30622},{"u":"lat","t":60,"v":60.07965},
 {"t":120,"v":20.7},{"u":"lon","t":120,"v":24.30623},{"u":"lat","t":120,"v":60.07966},
 {"u":"%EL","t":150,"v":98},
 {"t":180,"v":21.2},{"u":"lon","t":180,"v":24.30628},{"u":"lat","t":180,"v":60.07967}]`,
		senmlArrival, "senml-tracker-1", []string{
			// Stamped 2011: restamped, the newest (t 180) at arrival.
			"senml battery 98 % 2026-12-03T09:29:30.000Z",
			"senml humidity 20 % 2026-12-03T09:27:00.000Z",
			"senml humidity 20.3 % 2026-12-03T09:28:00.000Z",
			"senml humidity 20.7 % 2026-12-03T09:29:00.000Z",
			"senml humidity 21.2 % 2026-12-03T09:30:00.000Z",
			"senml latitude 60.07965 deg 2026-12-03T09:27:00.000Z",
			"senml latitude 60.07965 deg 2026-12-03T09:28:00.000Z",
			"senml latitude 60.07966 deg 2026-12-03T09:29:00.000Z",
			"senml latitude 60.07967 deg 2026-12-03T09:30:00.000Z",
			"senml longitude 24.30621 deg 2026-12-03T09:27:00.000Z",
			"senml longitude 24.30622 deg 2026-12-03T09:28:00.000Z",
			"senml longitude 24.30623 deg 2026-12-03T09:29:00.000Z",
			"senml longitude 24.30628 deg 2026-12-03T09:30:00.000Z",
		}},
	{"senml single datapoint", "senml/probe-7", `[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]`,
		senmlArrival, "senml-probe-7", []string{
			"senml temperature 23.1 Cel 2026-12-03T09:30:00.000Z",
		}},
}

// exampleFieldCases are the worked examples of the Field keys (values for
// booleans, scale, offset, unit_field, unit conversion).
var exampleFieldCases = []exampleCase{
	{"zigbee2mqtt contact", "zigbee2mqtt/0x00158d0007ef997c", `{"contact":true,"last_seen":"2024-04-08T21:21:36.794Z","linkquality":144}`,
		time.Date(2024, 4, 8, 21, 21, 40, 0, time.UTC), "z2m-0x00158d0007ef997c", []string{
			"zigbee door 0 1 2024-04-08T21:21:36.794Z", // closed
		}},
	// A Tasmota set to Fahrenheit (SetOption8 1): TempUnit covers every
	// temperature of the message, the DS18B20's as well as the AM2301's
	// (https://tasmota.github.io/docs/DS18x20/ shows the DS18B20 object).
	{"tasmota fahrenheit", "tele/pool/SENSOR", `{"Time":"2026-12-03T10:00:00","AM2301":{"Temperature":72.5,"Humidity":40},"DS18B20":{"Id":"01144A0CB2AA","Temperature":77.0},"TempUnit":"F"}`,
		time.Date(2026, 12, 3, 9, 0, 10, 0, time.UTC), "tasmota-pool", []string{
			"am2301 humidity 40 % 2026-12-03T09:00:00.000Z",
			"am2301 temperature 22.5 Cel 2026-12-03T09:00:00.000Z",
			"ds18b20 temperature 25 Cel 2026-12-03T09:00:00.000Z",
		}},
}

// The example file loads, and every worked example in it, sent through a
// real broker, bridge and Redis, makes the readings its comment says.
// Zigbee2MQTT's own topics under the mapping's filter are left out, not
// dead-lettered.
func TestExampleMappings(t *testing.T) {
	ms, err := ParseMappings([]byte(ExampleMappings()))
	if err != nil {
		t.Fatalf("mappings.example.yaml: %v", err)
	}
	if len(ms) != 5 {
		t.Fatalf("%d mappings, want the 5 worked examples", len(ms))
	}
	e := newEnv(t, mosquittotest.Options{})
	var now atomic.Pointer[time.Time]
	now.Store(&z2mArrival)
	br := startBridge(t, e, func(o *Options) {
		o.Mappings = ms
		o.Now = func() time.Time { return *now.Load() }
	})
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	cases := append(exampleCases, exampleFieldCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now.Store(&tc.arrival)
			publish(t, c, tc.topic, []byte(tc.payload), false)
			awaitCount(t, e.st, tc.device, len(tc.want))
			var got []string
			for _, r := range storedReadings(t, e.st, tc.device) {
				got = append(got, readingLine(r))
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("readings of %s:\n%s\nwant\n%s", tc.device, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if got := br.counter(t, "tributary_bridge_restamped_readings_total", "mapping", "senml"); got != 13 {
		t.Errorf("restamped readings of senml: %v, want 13", got)
	}
	// Zigbee2MQTT's own topics: left out, acknowledged, counted.
	for _, topic := range []string{"zigbee2mqtt/bridge/state", "zigbee2mqtt/living room/climate/availability",
		"zigbee2mqtt/living room/climate/set", "zigbee2mqtt/living room/climate/set/state", "zigbee2mqtt/living room/climate/get"} {
		publish(t, c, topic, []byte(`{"state":"online"}`), false)
	}
	eventually(t, "Zigbee2MQTT's own topics received and left out", func() bool {
		return br.counter(t, "tributary_bridge_messages_received_total", "kind", kindExcluded) == 5
	})
	if dl := deadLetters(t, e.rdb); len(dl) != 0 {
		t.Errorf("dead letters %v, want none", dl)
	}
	if got := br.counter(t, "tributary_bridge_messages_stored_total", "kind", kindMapped); got != float64(len(cases)) {
		t.Errorf("mapped messages stored: %v, want %d", got, len(cases))
	}
}
