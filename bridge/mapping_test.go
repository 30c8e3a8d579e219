package bridge

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// arrival is the fixed arrival time of the golden cases.
var arrival = time.Date(2026, 11, 27, 6, 0, 30, 0, time.UTC)

// goldenCases are foreign messages (testdata/input/<name>.json) and the
// readings they make (testdata/golden/<name>.jsonl, seqs from 1), through
// the mappings of testdata/mappings.yaml.
var goldenCases = []struct {
	name, topic, device string
	ignored             int
}{
	{"z2m_climate", "zigbee2mqtt/kitchen", "z2m-kitchen", 0},                           // linkquality is in ignore
	{"z2m_contact", "zigbee2mqtt/hall-door", "z2m-hall-door", 1},                       // tamper: null
	{"tasmota_am2301", "tele/tasmota_ABC123/SENSOR", "tasmota-tasmota_ABC123", 0},      // Berlin local time
	{"tasmota_unset_clock", "tele/tasmota_DEF456/SENSOR", "tasmota-tasmota_DEF456", 2}, // 1970: arrival time; DS18B20.Id, ENERGY.Today
	{"senml_names", "senml/pi-z1", "senml-pi-z1", 1},                                   // rssi
	{"senml_base_value", "senml/pi-z2", "senml-pi-z2", 0},
	{"senml_relative", "senml/pi-z3", "senml-pi-z3", 0},
}

func sampleMappers(t testing.TB) map[string]*mapper {
	t.Helper()
	ms, err := LoadMappings(filepath.Join("testdata", "mappings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mapper{}
	for _, m := range ms {
		c, err := compileMapping(m)
		if err != nil {
			t.Fatal(err)
		}
		out[c.Name] = c
	}
	return out
}

func mapperForTopic(t testing.TB, ms map[string]*mapper, topic string) *mapper {
	t.Helper()
	for _, m := range ms {
		if matchFilter(m.levels, topic) {
			return m
		}
	}
	t.Fatalf("no sample mapping for %s", topic)
	return nil
}

func readInput(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "input", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares readings (seqs 1..n) with the golden file of name.
func checkGolden(t *testing.T, name string, rs []reading.Reading) {
	t.Helper()
	var got []byte
	for i := range rs {
		got = rs[i].AppendJSON(got)
		got = append(got, '\n')
	}
	path := filepath.Join("testdata", "golden", name+".jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bridge -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

func TestMappingGolden(t *testing.T) {
	ms := sampleMappers(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			m := mapperForTopic(t, ms, tc.topic)
			dev, err := m.device(tc.topic)
			if err != nil || dev != tc.device {
				t.Fatalf("device of %s: %q, %v; want %q", tc.topic, dev, err, tc.device)
			}
			d, err := m.decode(dev, readInput(t, tc.name), arrival)
			if err != nil {
				t.Fatal(err)
			}
			if d.ignored != tc.ignored {
				t.Errorf("ignored %d fields, want %d", d.ignored, tc.ignored)
			}
			for i := range d.readings {
				d.readings[i].Seq = uint64(i + 1)
			}
			checkGolden(t, tc.name, d.readings)
		})
	}
}

// The sample mappings through a real broker, bridge and Redis: every
// device's stream equals its golden file, with seqs from its counter.
func TestMappingsEndToEnd(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	ms, err := LoadMappings(filepath.Join("testdata", "mappings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	br := startBridge(t, e, func(o *Options) {
		o.Mappings = ms
		o.Now = func() time.Time { return arrival }
	})
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	for _, tc := range goldenCases {
		publish(t, c, tc.topic, readInput(t, tc.name), false)
	}
	// Unknown to every field table, and broken: ignored and dead-lettered.
	publish(t, c, "zigbee2mqtt/kitchen", []byte(`{"linkquality":90}`), false)
	publish(t, c, "zigbee2mqtt/kitchen", []byte(`not json`), false)
	eventually(t, "every mapped message handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "mapped") == float64(len(goldenCases)+1) &&
			br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonMalformed) == 1
	})
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			rs := storedReadings(t, e.st, tc.device)
			checkGolden(t, tc.name, rs)
		})
	}
	ignored := map[string]int{}
	for _, tc := range goldenCases {
		ignored[mapperForTopic(t, sampleMappers(t), tc.topic).Name] += tc.ignored
	}
	for name, n := range ignored {
		if got := br.counter(t, "tributary_bridge_ignored_fields_total", "mapping", name); got != float64(n) {
			t.Errorf("ignored fields of %s: %v, want %d", name, got, n)
		}
	}
	if dl := deadLetters(t, e.rdb); len(dl) != 1 || dl[0]["topic"] != "zigbee2mqtt/kitchen" || !strings.Contains(dl[0]["error"].(string), "mapping zigbee2mqtt") {
		t.Errorf("dead letters %v", dl)
	}
}

func TestMappingRejects(t *testing.T) {
	ms := sampleMappers(t)
	for _, tc := range []struct {
		name, topic, payload string
		want                 error
		contains             string
	}{
		{"flat not an object", "zigbee2mqtt/k", `[1,2]`, errMalformed, "not a JSON object"},
		{"flat null", "zigbee2mqtt/k", `null`, errMalformed, "null"},
		{"flat trailing", "zigbee2mqtt/k", `{"temperature":1} {}`, errMalformed, "trailing"},
		{"flat too deep", "zigbee2mqtt/k", strings.Repeat(`{"a":`, 12) + `1` + strings.Repeat(`}`, 12), errMalformed, "nested deeper"},
		{"senml not an array", "senml/x", `{"n":"temp","v":1}`, errMalformed, "not a JSON array"},
		{"senml empty", "senml/x", `[]`, errMalformed, "empty"},
		{"senml wrong type", "senml/x", `[{"n":"temp","v":"hot"}]`, errMalformed, "record 0"},
		{"senml must-understand", "senml/x", `[{"n":"temp","v":1,"u":"Cel","bx_":1}]`, errInvalid, "must-understand"},
		{"senml version", "senml/x", `[{"bver":11,"n":"temp","v":1}]`, errInvalid, "version 11"},
		{"senml unit of another quantity", "senml/x", `[{"n":"temp","u":"%RH","v":40}]`, errUnit, `record 0 (temp): value in "%RH" (ratio), the mapping stores "Cel" (temperature): no exact conversion`},
		{"senml unknown unit", "senml/x", `[{"n":"temp","u":"degR","v":500}]`, errUnit, `value in "degR", the mapping stores "Cel": no conversion`},
		{"flat unit of another quantity", "tele/t/SENSOR", `{"AM2301":{"Temperature":21},"TempUnit":"hPa"}`, errUnit, `AM2301.Temperature: value in "hPa" (pressure), the mapping stores "Cel" (temperature)`},
		{"flat unit field not a string", "tele/t/SENSOR", `{"AM2301":{"Temperature":21},"TempUnit":1}`, errUnit, `unit field TempUnit holds 1, not a unit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mapperForTopic(t, ms, tc.topic)
			_, err := m.decode("dev", []byte(tc.payload), arrival)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("decode: %v, want %v containing %q", err, tc.want, tc.contains)
			}
		})
	}
	if _, err := mapperForTopic(t, ms, "zigbee2mqtt/x").device("zigbee2mqtt/living room"); err == nil {
		t.Error("a topic level with a space made a device id")
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"zigbee2mqtt/+", "zigbee2mqtt/kitchen", true},
		{"zigbee2mqtt/+", "zigbee2mqtt/kitchen/set", false},
		{"zigbee2mqtt/+", "zigbee2mqtt", false},
		{"tele/+/SENSOR", "tele/t1/SENSOR", true},
		{"tele/+/SENSOR", "tele/t1/STATE", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "$SYS/x", false},
		{"+/+", "a/", true},
		{mqttwire.ReadingsFilter, "tributary/pi/readings", true},
	} {
		if got := matchFilter(strings.Split(tc.filter, "/"), tc.topic); got != tc.want {
			t.Errorf("matchFilter(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestParseMappingsRejects(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "mappings:\n  - topic: a/+\n    formt: flat\n", `line 3: unknown key "formt"`},
		{"bad format", "mappings:\n  - topic: a/+\n    format: xml\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", `line 2: mappings[0]: format "xml"`},
		{"device twice", "mappings:\n  - topic: a/+\n    format: flat\n    device: d\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", "one of device"},
		{"level beyond topic", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 3\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", "has no level there"},
		{"flat without unit", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature}}\n", "unit missing"},
		{"bad metric", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: Temp, unit: Cel}}\n", "metric"},
		{"own topics", "mappings:\n  - topic: tributary/+/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", "Tributary's own topics"},
		{"shared prefix", "mappings:\n  - topic: $share/g/a/+\n    format: flat\n    device_level: 4\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", "$ topics"},
		{"wildcard in level", "mappings:\n  - topic: a/b+\n    format: flat\n    device: d\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n", "whole level"},
		{"time field for senml", "mappings:\n  - topic: a/+\n    format: senml\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    time_field: t\n    fields: {t: {metric: temperature}}\n", "time_field"},
		{"bad zone", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    time_zone: Mars/Olympus\n    fields: {t: {metric: temperature, unit: Cel}}\n", "time_zone"},
		{"wrong type", "mappings:\n  - topic: a/+\n    device_level: two\n", "wrong kind of value"},
		{"unit_field for senml", "mappings:\n  - topic: a/+\n    format: senml\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature, unit_field: u}}\n", "unit_field is for the flat format"},
		{"unit_field mapped", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel, unit_field: u}, u: {metric: u, unit: \"1\"}}\n", `unit_field "u" is a mapped field itself`},
		{"one boolean", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {c: {metric: door, unit: \"1\", values: {true: 0}}}\n", `give both "true" and "false"`},
		{"scale not finite", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {c: {metric: voltage, unit: V, scale: .inf}}\n", "scale +Inf"},
		{"offset not finite", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {c: {metric: voltage, unit: V, offset: .nan}}\n", "offset NaN"},
		{"value not finite", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: p-\n    sensor: s\n    fields: {c: {metric: state, unit: \"1\", values: {ON: .inf}}}\n", `values "ON"`},
		{"same name", "mappings:\n  - {name: x, topic: a/+, format: flat, device_level: 2, device_prefix: a-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}\n  - {name: x, topic: b/+, format: flat, device_level: 2, device_prefix: b-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}\n", `line 3: mappings[1]: name "x" already used`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMappings([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseMappings: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if ms, err := ParseMappings(nil); err != nil || len(ms) != 0 {
		t.Errorf("empty file: %v, %v", ms, err)
	}
}

func FuzzDecodeSenML(f *testing.F) {
	m := sampleMappers(f)["senml"]
	for _, name := range []string{"senml_names", "senml_base_value", "senml_relative"} {
		f.Add(readInput(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := m.decode("dev", data, arrival)
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge) && !errors.Is(err, errInvalid) && !errors.Is(err, errUnit) && !errors.Is(err, errTime) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		for _, r := range d.readings {
			r.Seq = 1
			if err := r.Validate(); err != nil {
				t.Fatalf("decoded an invalid reading %+v: %v", r, err)
			}
		}
	})
}

func FuzzDecodeFlat(f *testing.F) {
	ms := sampleMappers(f)
	for _, name := range []string{"z2m_climate", "z2m_contact", "tasmota_am2301", "tasmota_unset_clock"} {
		f.Add(readInput(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []*mapper{ms["zigbee2mqtt"], ms["tasmota"]} {
			d, err := m.decode("dev", data, arrival)
			if err != nil {
				if !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge) && !errors.Is(err, errInvalid) && !errors.Is(err, errUnit) && !errors.Is(err, errTime) {
					t.Fatalf("error of no kind: %v", err)
				}
				continue
			}
			for _, r := range d.readings {
				r.Seq = 1
				if err := r.Validate(); err != nil {
					t.Fatalf("decoded an invalid reading %+v: %v", r, err)
				}
			}
		}
	})
}

// z2mMapping is a minimal valid mapping.
func z2mMapping() Mapping {
	return Mapping{Name: "z", Topic: "zigbee2mqtt/+", Format: FormatFlat, DeviceLevel: 2, DevicePrefix: "z2m-", Sensor: "zigbee",
		Fields: map[string]Field{"temperature": {Metric: "temperature", Unit: "Cel"}}}
}

// The documented limit of the foreign path: a bridge that dies after
// storing a mapped message and before acknowledging it stores it again
// when the broker redelivers it, under new seqs (the message carries no
// identity to deduplicate on). This pins that behaviour; a change that
// makes the path exactly-once should change this test and the docs.
func TestMappedPathIsAtLeastOnce(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	edit := func(o *Options) {
		o.MQTT.ClientID = "bridge-mapped"
		o.Mappings = []Mapping{z2mMapping()}
	}
	first := startBridge(t, e, edit)
	crashed := make(chan struct{})
	first.b.beforeAck = func(int) bool { first.cancel(); close(crashed); return false }
	c := mqttClient(t, e.mq.URL(), "z2m-gateway", "", "", nil)
	publish(t, c, "zigbee2mqtt/kitchen", []byte(`{"temperature":21.5}`), false)
	<-crashed
	first.stop(t)
	startBridge(t, e, edit)
	awaitCount(t, e.st, "z2m-kitchen", 2)
	if got := storedSeqs(t, e.st, "z2m-kitchen"); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("seqs %v, want the one message stored twice as 1 and 2", got)
	}
}
