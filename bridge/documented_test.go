package bridge

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/reading"
)

// docMappings map the payloads of docCases, as their projects document
// them. The plug comes before the catch-all Zigbee2MQTT mapping: its
// "voltage" is in V, a battery device's in mV (the first mapping whose
// topic matches takes a message).
const docMappings = `
mappings:
  - name: z2m-plug
    topic: zigbee2mqtt/living-room-plug
    format: flat
    device: plug-living-room     # a fixed id may not begin with z2m-, the prefix of the mapping below
    sensor: plug
    fields:
      state: {metric: state, unit: "1", values: {"ON": 1, "OFF": 0}}
      power: {metric: power, unit: W}
      energy: {metric: energy, unit: kWh}
      voltage: {metric: voltage, unit: V}
      current: {metric: current, unit: mA, scale: 1000}   # z2m says A
    ignore: [linkquality]

  - name: z2m
    topic: zigbee2mqtt/+
    format: flat
    device_level: 2
    device_prefix: z2m-
    sensor: zigbee
    fields:
      contact: {metric: door, unit: "1", values: {true: 0, false: 1}}   # true is closed
      occupancy: {metric: motion, unit: "1"}                             # true is motion
      water_leak: {metric: leak, unit: "1"}                              # true is water
      battery_low: {metric: battery_low, unit: "1"}
      tamper: {metric: tamper, unit: "1"}
      battery: {metric: battery, unit: "%"}
      voltage: {metric: battery_voltage, unit: V, scale: 0.001}         # mV
      illuminance: {metric: illuminance, unit: lux}                      # normalised: lx
      temperature: {metric: temperature, unit: °C}                       # normalised: Cel
      humidity: {metric: humidity, unit: "%RH"}                          # normalised: %
      pressure: {metric: pressure, unit: hPa}
    ignore: [linkquality, keep_time, sensitivity, device_temperature, power_outage_count]

  - name: tasmota
    topic: tele/+/SENSOR
    format: flat
    device_level: 2
    device_prefix: tasmota-
    sensor: bme280
    time_field: Time
    fields:
      BME280.Temperature: {metric: temperature, unit: Cel, unit_field: TempUnit}
      BME280.Humidity: {metric: humidity, unit: "%"}
      BME280.Pressure: {metric: pressure, unit: hPa, unit_field: PressureUnit}
    ignore: [BME280.DewPoint]

  - name: senml
    topic: senml/+
    format: senml
    device_level: 2
    device_prefix: senml-
    sensor: senml
    fields:
      voltage: {metric: voltage, unit: V}
      current: {metric: current, unit: mA}
      temp: {metric: temperature, unit: Cel}
      humidity: {metric: humidity}     # the record's unit, normalised

  - name: shelly
    topic: +/status/switch:0
    format: flat
    device_level: 1
    device_prefix: shelly-
    sensor: switch0
    fields:
      output: {metric: state, unit: "1"}
      apower: {metric: power, unit: W}
      voltage: {metric: voltage, unit: V}
      aenergy.total: {metric: energy, unit: kWh, scale: 0.001}   # Shelly says Wh
      temperature.tC: {metric: temperature, unit: Cel}
    ignore: [id, source, timer_started_at, timer_duration, temperature.tF,
             aenergy.minute_ts, aenergy.by_minute.0, aenergy.by_minute.1, aenergy.by_minute.2]
`

// A stored is what a reading says, without its time and seq.
type stored struct {
	sensor, metric string
	value          float64
	unit           string
}

func (s stored) String() string {
	return fmt.Sprintf("%s/%s=%v %s", s.sensor, s.metric, s.value, s.unit)
}

// docCases are payloads as the projects' own documentation shows them,
// published in order, and what each device's history holds afterwards.
var docCases = []struct {
	name, topic, payload string
	device               string
	want                 []stored // the readings of this message, in field path order
}{
	{
		// https://www.zigbee2mqtt.io/devices/SNZB-04P.html: contact "closed
		// (= true) or open (= false)", voltage in mV, battery in %.
		name: "z2m contact closed", topic: "zigbee2mqtt/hall-door", device: "z2m-hall-door",
		payload: `{"battery":100,"battery_low":false,"contact":true,"linkquality":87,"tamper":false,"voltage":3100}`,
		want: []stored{{"zigbee", "battery", 100, "%"}, {"zigbee", "battery_low", 0, "1"}, {"zigbee", "door", 0, "1"},
			{"zigbee", "tamper", 0, "1"}, {"zigbee", "battery_voltage", 3.1, "V"}},
	},
	{
		// The same door opened (https://www.zigbee2mqtt.io/devices/SNZB-04P.html).
		name: "z2m contact open", topic: "zigbee2mqtt/hall-door", device: "z2m-hall-door",
		payload: `{"battery":100,"battery_low":true,"contact":false,"linkquality":84,"tamper":false,"voltage":2900}`,
		want: []stored{{"zigbee", "battery", 100, "%"}, {"zigbee", "battery_low", 1, "1"}, {"zigbee", "door", 1, "1"},
			{"zigbee", "tamper", 0, "1"}, {"zigbee", "battery_voltage", 2.9, "V"}},
	},
	{
		// https://www.zigbee2mqtt.io/devices/ZG-204ZL.html: occupancy (binary,
		// true is ON), illuminance in lx, sensitivity and keep_time (enums).
		name: "z2m occupancy", topic: "zigbee2mqtt/hallway-pir", device: "z2m-hallway-pir",
		payload: `{"battery":100,"illuminance":35,"keep_time":"30","linkquality":120,"occupancy":true,"sensitivity":"high"}`,
		want:    []stored{{"zigbee", "battery", 100, "%"}, {"zigbee", "illuminance", 35, "lx"}, {"zigbee", "motion", 1, "1"}},
	},
	{
		// https://www.zigbee2mqtt.io/devices/SJCGQ11LM.html: water_leak
		// (binary, true is ON), battery_low, voltage in mV.
		name: "z2m water leak", topic: "zigbee2mqtt/bathroom-floor", device: "z2m-bathroom-floor",
		payload: `{"battery":91,"battery_low":false,"device_temperature":24,"linkquality":90,"power_outage_count":2,"voltage":3005,"water_leak":true}`,
		want: []stored{{"zigbee", "battery", 91, "%"}, {"zigbee", "battery_low", 0, "1"}, {"zigbee", "battery_voltage", 3.005, "V"},
			{"zigbee", "leak", 1, "1"}},
	},
	{
		// https://www.zigbee2mqtt.io/devices/WSDCGQ11LM.html: temperature in
		// °C, humidity in %, pressure in hPa, voltage in mV.
		name: "z2m climate", topic: "zigbee2mqtt/kitchen", device: "z2m-kitchen",
		payload: `{"battery":91,"humidity":45.12,"linkquality":102,"pressure":1004,"temperature":22.33,"voltage":2985}`,
		want: []stored{{"zigbee", "battery", 91, "%"}, {"zigbee", "humidity", 45.12, "%"}, {"zigbee", "pressure", 1004, "hPa"},
			{"zigbee", "temperature", 22.33, "Cel"}, {"zigbee", "battery_voltage", 2.985, "V"}},
	},
	{
		// https://www.zigbee2mqtt.io/devices/TS011F_plug_1.html: state ON/OFF,
		// power in W, energy in kWh, voltage in V, current in A.
		name: "z2m plug", topic: "zigbee2mqtt/living-room-plug", device: "plug-living-room",
		payload: `{"current":0.05,"energy":1.23,"linkquality":100,"power":4,"state":"ON","voltage":231}`,
		want: []stored{{"plug", "current", 50, "mA"}, {"plug", "energy", 1.23, "kWh"}, {"plug", "power", 4, "W"},
			{"plug", "state", 1, "1"}, {"plug", "voltage", 231, "V"}},
	},
	{
		// https://tasmota.github.io/docs/BME280/: the documented tele SENSOR.
		name: "tasmota bme280", topic: "tele/tasmota_BME/SENSOR", device: "tasmota-tasmota_BME",
		payload: `{"Time":"2019-11-03T19:34:28","BME280":{"Temperature":21.7,"Humidity":66.6,"Pressure":988.6},"PressureUnit":"hPa","TempUnit":"C"}`,
		want:    []stored{{"bme280", "humidity", 66.6, "%"}, {"bme280", "pressure", 988.6, "hPa"}, {"bme280", "temperature", 21.7, "Cel"}},
	},
	{
		// The same with SetOption8 1 (TempUnit "F") and SetOption24 1
		// (PressureUnit "mmHg"): https://tasmota.github.io/docs/Commands/#setoption8,
		// #setoption24. UCUM's mm[Hg] is 133.322 Pa.
		name: "tasmota bme280 F mmHg", topic: "tele/tasmota_BME/SENSOR", device: "tasmota-tasmota_BME",
		payload: `{"Time":"2019-11-03T19:44:28","BME280":{"Temperature":71.1,"Humidity":66.6,"Pressure":741.5},"PressureUnit":"mmHg","TempUnit":"F"}`,
		want:    []stored{{"bme280", "humidity", 66.6, "%"}, {"bme280", "pressure", 988.58263, "hPa"}, {"bme280", "temperature", 21.722222222, "Cel"}},
	},
	{
		// SetOption139 1 makes it "inHg" (https://tasmota.github.io/docs/Commands/#setoption139).
		name: "tasmota bme280 inHg", topic: "tele/tasmota_BME/SENSOR", device: "tasmota-tasmota_BME",
		payload: `{"Time":"2019-11-03T19:54:28","BME280":{"Temperature":71.1,"Humidity":66.6,"Pressure":29.19},"PressureUnit":"inHg","TempUnit":"F"}`,
		want:    []stored{{"bme280", "humidity", 66.6, "%"}, {"bme280", "pressure", 988.48397172, "hPa"}, {"bme280", "temperature", 21.722222222, "Cel"}},
	},
	{
		// RFC 8428 section 5.1.2 (https://www.rfc-editor.org/rfc/rfc8428#section-5.1.2):
		// multiple datapoints, V and A.
		name: "senml rfc8428 5.1.2", topic: "senml/ow-10e2073a01080063", device: "senml-ow-10e2073a01080063",
		payload: `[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},{"n":"current","u":"A","v":1.2}]`,
		want:    []stored{{"senml", "voltage", 120.1, "V"}, {"senml", "current", 1200, "mA"}},
	},
	{
		// One pack mixing names and units of the SenML registry (RFC 8428
		// section 12.1: K, %RH, Cel, V, A), each record mapped by its own
		// name and converted from its own unit.
		name: "senml mixed units", topic: "senml/pi-mixed", device: "senml-pi-mixed",
		payload: `[{"bn":"urn:dev:mac:0024befffe804ff1:","n":"temp","u":"K","v":296.25},{"n":"humidity","u":"%RH","v":20},` +
			`{"n":"temp","u":"Cel","v":23.2},{"n":"current","u":"A","v":0.25},{"n":"voltage","bu":"V","v":3.3}]`,
		want: []stored{{"senml", "temperature", 23.1, "Cel"}, {"senml", "humidity", 20, "%"}, {"senml", "temperature", 23.2, "Cel"},
			{"senml", "current", 250, "mA"}, {"senml", "voltage", 3.3, "V"}},
	},
	{
		// https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status
		// (the Switch.GetStatus example), as Gen2 devices publish it on
		// <prefix>/status/switch:0 (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt):
		// apower in W, voltage in V, aenergy.total in Wh, temperature in tC and tF.
		name: "shelly gen2 switch", topic: "shellyplus1pm-a8032ab12345/status/switch:0", device: "shelly-shellyplus1pm-a8032ab12345",
		payload: `{"id":0,"source":"timer","output":false,"timer_started_at":1626942399.36,"timer_duration":60,"apower":0,"voltage":237.571,` +
			`"aenergy":{"total":14.093,"by_minute":[0,0,0],"minute_ts":1626942480},"temperature":{"tC":40.3,"tF":104.5}}`,
		want: []stored{{"switch0", "energy", 0.014093, "kWh"}, {"switch0", "power", 0, "W"}, {"switch0", "state", 0, "1"},
			{"switch0", "temperature", 40.3, "Cel"}, {"switch0", "voltage", 237.571, "V"}},
	},
}

// docRefused are documented shapes whose units cannot be converted to the
// mapping's: dead-lettered with reason "unit", naming both units.
var docRefused = []struct{ topic, payload, contains string }{
	{"senml/pi-bad", `[{"n":"temp","u":"lx","v":3},{"n":"voltage","u":"V","v":3.3}]`,
		`record 0 (temp): value in "lx" (illuminance), the mapping stores "Cel" (temperature)`},
	{"tele/tasmota_BAD/SENSOR", `{"Time":"2019-11-03T19:34:28","BME280":{"Temperature":21.7,"Humidity":66.6,"Pressure":988.6},"PressureUnit":"hPa","TempUnit":"R"}`,
		`BME280.Temperature: value in "R", the mapping stores "Cel": no conversion`},
}

func docMappers(t testing.TB) []Mapping {
	t.Helper()
	ms, err := ParseMappings([]byte(docMappings))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// Each documented payload through the mappings alone.
func TestDocumentedPayloadsDecode(t *testing.T) {
	var mps []*mapper
	for _, m := range docMappers(t) {
		c, err := compileMapping(m)
		if err != nil {
			t.Fatal(err)
		}
		mps = append(mps, c)
	}
	first := func(topic string) *mapper {
		for _, m := range mps {
			if matchFilter(m.levels, topic) {
				return m
			}
		}
		t.Fatalf("no mapping for %s", topic)
		return nil
	}
	for _, tc := range docCases {
		t.Run(tc.name, func(t *testing.T) {
			m := first(tc.topic)
			dev, err := m.device(tc.topic)
			if err != nil || dev != tc.device {
				t.Fatalf("device %q, %v; want %q", dev, err, tc.device)
			}
			d, err := m.decode(dev, []byte(tc.payload), arrival)
			if err != nil {
				t.Fatal(err)
			}
			if got := storedOf(d.readings); !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
			if d.ignored != 0 {
				t.Errorf("%d fields ignored: the mapping should name or ignore every documented field", d.ignored)
			}
		})
	}
	for _, tc := range docRefused {
		_, err := first(tc.topic).decode("dev", []byte(tc.payload), arrival)
		if err == nil || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s: %v, want an error containing %q", tc.topic, err, tc.contains)
		}
	}
}

// The documented payloads through a real broker, bridge and Redis: each
// device's history holds exactly the readings its messages mean, and the
// refused ones are dead letters with reason "unit".
func TestDocumentedPayloadsEndToEnd(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, func(o *Options) { o.Mappings = docMappers(t) })
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	want := map[string][]stored{}
	var devices []string
	for _, tc := range docCases {
		publish(t, c, tc.topic, []byte(tc.payload), false)
		if _, seen := want[tc.device]; !seen {
			devices = append(devices, tc.device)
		}
		want[tc.device] = append(want[tc.device], tc.want...)
	}
	for _, tc := range docRefused {
		publish(t, c, tc.topic, []byte(tc.payload), false)
	}
	eventually(t, "every documented message handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "mapped") == float64(len(docCases)) &&
			br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonUnit) == float64(len(docRefused))
	})
	for _, dev := range devices {
		rs := storedReadings(t, e.st, dev)
		if got := storedOf(rs); !slices.Equal(got, want[dev]) {
			t.Errorf("%s: got\n  %v\nwant\n  %v", dev, got, want[dev])
		}
	}
	dl := deadLetters(t, e.rdb)
	if len(dl) != len(docRefused) {
		t.Fatalf("dead letters %v, want %d", dl, len(docRefused))
	}
	for i, tc := range docRefused {
		if dl[i]["reason"] != ReasonUnit || dl[i]["topic"] != tc.topic || !strings.Contains(dl[i]["error"].(string), tc.contains) {
			t.Errorf("dead letter %d: %v, want reason %s on %s containing %q", i, dl[i], ReasonUnit, tc.topic, tc.contains)
		}
		if dl[i]["payload"] != tc.payload {
			t.Errorf("dead letter %d lost its payload: %q", i, dl[i]["payload"])
		}
	}
	if got := br.counter(t, "tributary_bridge_ignored_fields_total", "mapping", "z2m"); got != 0 {
		t.Errorf("ignored fields of z2m: %v, want 0", got)
	}
}

func storedOf(rs []reading.Reading) []stored {
	out := make([]stored, len(rs))
	for i, r := range rs {
		out[i] = stored{r.Sensor, r.Metric, r.Value, r.Unit}
	}
	return out
}
