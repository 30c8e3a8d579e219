package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/reading"
)

// unslug inverts Slug, to show that it loses nothing.
func unslug(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			b.WriteByte('/')
		case c == '_' && i+1 < len(s) && s[i+1] == '_':
			b.WriteByte('_')
			i++
		case c == '_' && i+2 < len(s):
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape at %d of %q", i, s)
			}
			b.WriteByte(byte(v))
			i += 2
		case c == '_':
			return "", fmt.Errorf("cut escape at %d of %q", i, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func TestSlug(t *testing.T) {
	for name, want := range map[string]string{
		"kitchen":             "kitchen",
		"kitchen/floor_light": "kitchen.floor__light",
		"living room/climate": "living_20room.climate",
		"Living Room":         "Living_20Room",
		"Küche":               "K_c3_bcche",
		"a.b":                 "a_2eb",
		"hall-door":           "hall-door",
		"0x00158d0001a2b3c4":  "0x00158d0001a2b3c4",
		"a_20":                "a__20", // not "a 20" (a_2020)
		"a 20":                "a_2020",
	} {
		got := Slug(name)
		if got != want {
			t.Errorf("Slug(%q) = %q, want %q", name, got, want)
		}
		if back, err := unslug(got); err != nil || back != name {
			t.Errorf("unslug(%q) = %q, %v; want %q", got, back, err, name)
		}
	}
}

// Slug is reversible, hence collision-free, and its output is made of
// bytes a device id allows.
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"kitchen/floor_light", "Küche", "a_20", "a 20", "__", "._/", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := Slug(name)
		back, err := unslug(s)
		if err != nil || back != name {
			t.Fatalf("Slug(%q) = %q, which reads back as %q, %v", name, s, back, err)
		}
		if s != "" && len(s) <= reading.MaxIDLen-2 && !reading.ValidID("d-"+s) {
			t.Fatalf("Slug(%q) = %q: not valid in an id", name, s)
		}
	})
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, topic string
		want           bool
	}{
		{"zigbee2mqtt/bridge/#", "zigbee2mqtt/bridge/state", true},
		{"zigbee2mqtt/bridge/#", "zigbee2mqtt/bridge", true},
		{"zigbee2mqtt/bridge/#", "zigbee2mqtt/bridgeroom", false},
		{"zigbee2mqtt/#/availability", "zigbee2mqtt/lamp/availability", true},
		{"zigbee2mqtt/#/availability", "zigbee2mqtt/kitchen/lamp/availability", true},
		{"zigbee2mqtt/#/availability", "zigbee2mqtt/kitchen/lamp", false},
		{"zigbee2mqtt/#/set/#", "zigbee2mqtt/kitchen/lamp/set", true},
		{"zigbee2mqtt/#/set/#", "zigbee2mqtt/kitchen/lamp/set/state", true},
		{"zigbee2mqtt/#/set/#", "zigbee2mqtt/settings/lamp", false},
		{"zigbee2mqtt/+/get", "zigbee2mqtt/a/b/get", false},
		{"zigbee2mqtt/+/get", "zigbee2mqtt/a/get", true},
	} {
		if got := matchPattern(strings.Split(tc.pattern, "/"), strings.Split(tc.topic, "/")); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.topic, got, tc.want)
		}
	}
}

// z2mMultiLevel is a Zigbee2MQTT mapping taking names over several levels.
func z2mMultiLevel(names string) Mapping {
	m := z2mMapping()
	m.Topic, m.DeviceNames, m.DevicePrefix = "zigbee2mqtt/#", names, "z2m-"
	m.Exclude = []string{"zigbee2mqtt/bridge/#", "zigbee2mqtt/#/availability", "zigbee2mqtt/#/set/#", "zigbee2mqtt/#/get/#"}
	return m
}

func TestDeviceNames(t *testing.T) {
	for _, tc := range []struct {
		names, topic string
		want         string // the device id, or the error it contains
		ok, excluded bool
	}{
		{"", "zigbee2mqtt/kitchen", "z2m-kitchen", true, false},
		{"", "zigbee2mqtt/kitchen/lamp", `device name "kitchen/lamp" from topic "zigbee2mqtt/kitchen/lamp" makes device id "z2m-kitchen/lamp", not a valid id`, true, false},
		{"strict", "zigbee2mqtt/living room", `device name "living room"`, true, false},
		{"slug", "zigbee2mqtt/kitchen/lamp", "z2m-kitchen.lamp", true, false},
		{"slug", "zigbee2mqtt/Küche/Licht 1", "z2m-K_c3_bcche.Licht_201", true, false},
		{"slug", "zigbee2mqtt/" + strings.Repeat("x", 61), "not a valid id", true, false},
		{"slug", "zigbee2mqtt", `topic "zigbee2mqtt" has no level 2`, true, false},
		{"slug", "zigbee2mqtt/", "empty device name", true, false},
		{"slug", "zigbee2mqtt/bridge/state", "", false, true},
		{"slug", "zigbee2mqtt/kitchen/lamp/availability", "", false, true},
		{"slug", "zigbee2mqtt/kitchen/lamp/set", "", false, true},
		{"slug", "zigbee2mqtt/kitchen/lamp/get/state", "", false, true},
		{"slug", "tele/x/SENSOR", "", false, false},
	} {
		t.Run(tc.names+" "+tc.topic, func(t *testing.T) {
			m, err := compileMapping(z2mMultiLevel(tc.names))
			if err != nil {
				t.Fatal(err)
			}
			ok, excluded := m.takes(tc.topic)
			if ok != tc.ok || excluded != tc.excluded {
				t.Fatalf("takes: %v, %v; want %v, %v", ok, excluded, tc.ok, tc.excluded)
			}
			if !ok {
				return
			}
			dev, err := m.device(tc.topic)
			switch {
			case err == nil && dev != tc.want:
				t.Errorf("device %q, want %q", dev, tc.want)
			case err != nil && (!errors.Is(err, errName) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("device: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	bad := z2mMultiLevel("kebab")
	if _, err := compileMapping(bad); err == nil || !strings.Contains(err.Error(), `device_names "kebab"`) {
		t.Errorf("device_names kebab: %v", err)
	}
	bad = z2mMultiLevel("slug")
	bad.Exclude = []string{"zigbee2mqtt/x#"}
	if _, err := compileMapping(bad); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Errorf("bad exclude pattern: %v", err)
	}
	bad = z2mMultiLevel("slug")
	bad.DevicePrefix = "-z"
	if _, err := compileMapping(bad); err == nil || !strings.Contains(err.Error(), "device_prefix") {
		t.Errorf("bad prefix: %v", err)
	}
}

// senmlMapper maps temp (Cel) and hum of SenML packs under Times.
func senmlMapper(t *testing.T, times string) *mapper {
	t.Helper()
	m, err := compileMapping(Mapping{Name: "s", Topic: "senml/+", Format: FormatSenML, DeviceLevel: 2, DevicePrefix: "senml-", Sensor: "s", Times: times,
		Fields: map[string]Field{"temp": {Metric: "temperature", Unit: "Cel"}, "hum": {Metric: "humidity"}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func times(rs []reading.Reading) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Metric+"@"+r.Time.UTC().Format(reading.TimeLayout))
	}
	return out
}

func TestTimes(t *testing.T) {
	at := arrival // 2026-11-27T06:00:30Z
	for _, tc := range []struct {
		name, times, payload string
		want                 string // the readings' metric@time, or the error
		restamped            int
	}{
		{"base time kept with spacing", "", `[{"bn":"d:","bt":1795759200,"n":"temp","v":20},{"n":"temp","t":60,"v":21},{"n":"hum","t":120,"v":40,"u":"%RH"}]`,
			"temperature@2026-11-27T06:00:00.000Z temperature@2026-11-27T06:01:00.000Z humidity@2026-11-27T06:02:00.000Z", 0},
		{"relative times keep spacing", "", `[{"n":"temp","t":-120,"v":20},{"n":"temp","t":-60.5,"v":21},{"n":"temp","v":22}]`,
			"temperature@2026-11-27T05:58:30.000Z temperature@2026-11-27T05:59:29.500Z temperature@2026-11-27T06:00:30.000Z", 0},
		{"too old: restamped keeping spacing", "", `[{"bt":1500000000,"n":"temp","v":20},{"n":"temp","t":30,"v":21},{"n":"temp","t":90.25,"v":22}]`,
			"temperature@2026-11-27T05:58:59.750Z temperature@2026-11-27T05:59:29.750Z temperature@2026-11-27T06:00:30.000Z", 3},
		{"too far ahead: restamped", "restamp", `[{"bt":1900000000,"n":"temp","v":20},{"n":"temp","t":10,"v":21}]`,
			"temperature@2026-11-27T06:00:20.000Z temperature@2026-11-27T06:00:30.000Z", 2},
		{"one record out of the window: all shifted", "", `[{"bt":1795759200,"n":"temp","v":20,"t":-2592000},{"n":"temp","v":21}]`,
			"temperature@2026-10-28T06:00:30.000Z temperature@2026-11-27T06:00:30.000Z", 2}, // 30 days and 30 s before arrival
		{"refused", "refuse", `[{"bt":1500000000,"n":"temp","v":20},{"n":"temp","t":30,"v":21}]`,
			"times 2017-07-14T02:40:00.000Z to 2017-07-14T02:40:30.000Z outside the window", 0},
		{"spread too wide", "", `[{"bt":1500000000,"n":"temp","v":20},{"n":"temp","t":1e8,"v":21}]`,
			"cannot restamp them keeping their spacing", 0},
		{"time out of range", "", `[{"n":"temp","v":20,"t":1e12}]`, "out of range", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := senmlMapper(t, tc.times).decode("dev", []byte(tc.payload), at)
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("decode: %v, want %q", err, tc.want)
				}
				if strings.Contains(tc.want, "window") || strings.Contains(tc.want, "restamp") {
					if !errors.Is(err, errTime) {
						t.Errorf("error %v is not of reason time", err)
					}
				}
				return
			}
			if got := strings.Join(times(d.readings), " "); got != tc.want {
				t.Errorf("times\n%s\nwant\n%s", got, tc.want)
			}
			if d.restamped != tc.restamped {
				t.Errorf("restamped %d, want %d", d.restamped, tc.restamped)
			}
		})
	}
}

// Zigbee2MQTT's last_seen, in each of its formats (advanced.last_seen:
// ISO_8601, ISO_8601_local, epoch), stamps the readings; Tasmota's
// zone-less Time is read in the mapping's zone.
func TestFlatTimes(t *testing.T) {
	z := z2mMapping()
	z.TimeField = "last_seen"
	zm, err := compileMapping(z)
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{
		`{"temperature":21,"last_seen":"2026-11-27T06:00:12.345Z"}`,
		`{"temperature":21,"last_seen":"2026-11-27T07:00:12.345+01:00"}`,
		`{"temperature":21,"last_seen":1795759212345}`,
	} {
		d, err := zm.decode("d", []byte(payload), arrival)
		if err != nil || len(d.readings) != 1 || d.restamped != 0 {
			t.Fatalf("%s: %+v, %v", payload, d, err)
		}
		if got := d.readings[0].Time.UTC().Format(reading.TimeLayout); got != "2026-11-27T06:00:12.345Z" {
			t.Errorf("%s: time %s", payload, got)
		}
	}
	d, err := zm.decode("d", []byte(`{"temperature":21}`), arrival)
	if err != nil || !d.readings[0].Time.Equal(arrival) || d.restamped != 0 {
		t.Errorf("without last_seen: %+v, %v; want arrival time", d, err)
	}
	tas := sampleMappers(t)["tasmota"]
	d, err = tas.decode("d", readInput(t, "tasmota_unset_clock"), arrival)
	if err != nil || d.restamped != 2 || !d.readings[0].Time.Equal(arrival) {
		t.Errorf("Tasmota with its clock unset: %+v, %v; want 2 readings restamped to arrival", d, err)
	}
	tas.Times = TimesRefuse
	if _, err := tas.decode("d", readInput(t, "tasmota_unset_clock"), arrival); !errors.Is(err, errTime) {
		t.Errorf("Tasmota with its clock unset, times refuse: %v", err)
	}
}

// Through a real broker and bridge: a name that is no id and a message
// refused for its times are dead letters with their reasons, and the
// restamped readings are counted.
func TestNamesAndTimesDeadLetters(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	strict := z2mMultiLevel("")
	refuse := Mapping{Name: "senml", Topic: "senml/+", Format: FormatSenML, DeviceLevel: 2, DevicePrefix: "senml-", Sensor: "s", Times: TimesRefuse,
		Fields: map[string]Field{"temp": {Metric: "temperature", Unit: "Cel"}}}
	restamp := refuse
	restamp.Name, restamp.Topic, restamp.DevicePrefix, restamp.Times = "senml-restamp", "senml2/+", "senml2-", ""
	br := startBridge(t, e, func(o *Options) {
		o.Mappings = []Mapping{strict, refuse, restamp}
		o.Now = func() time.Time { return arrival }
	})
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	old := []byte(`[{"bt":1500000000,"n":"temp","v":20},{"n":"temp","t":30,"v":21}]`)
	publish(t, c, "zigbee2mqtt/kitchen/lamp", []byte(`{"temperature":21}`), false)
	publish(t, c, "zigbee2mqtt/kitchen/lamp/availability", []byte(`{"state":"online"}`), false)
	publish(t, c, "senml/probe", old, false)
	publish(t, c, "senml2/probe", old, false)
	eventually(t, "every message handled", func() bool {
		return br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonBadDeviceName) == 1 &&
			br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonTime) == 1 &&
			br.counter(t, "tributary_bridge_restamped_readings_total", "mapping", "senml-restamp") == 2 &&
			br.counter(t, "tributary_bridge_messages_received_total", "kind", kindExcluded) == 1
	})
	dl := deadLetters(t, e.rdb)
	if len(dl) != 2 {
		t.Fatalf("dead letters %v", dl)
	}
	for _, d := range dl {
		switch d["reason"] {
		case ReasonBadDeviceName:
			if !strings.Contains(d["error"].(string), `"kitchen/lamp"`) || d["topic"] != "zigbee2mqtt/kitchen/lamp" {
				t.Errorf("bad_device_name letter %v", d)
			}
		case ReasonTime:
			if !strings.Contains(d["error"].(string), "outside the window") || d["topic"] != "senml/probe" {
				t.Errorf("time letter %v", d)
			}
		default:
			t.Errorf("dead letter %v", d)
		}
	}
	awaitCount(t, e.st, "senml2-probe", 2)
}

// The cost of mapping a SenML pack whose records are keyed by unit and
// restamped (RFC 8428 section 5.1.3, 13 records).
func BenchmarkDecodeSenMLRestamp(b *testing.B) {
	ms, err := ParseMappings([]byte(ExampleMappings()))
	if err != nil {
		b.Fatal(err)
	}
	var m *mapper
	for _, x := range ms {
		if x.Name == "senml" {
			if m, err = compileMapping(x); err != nil {
				b.Fatal(err)
			}
		}
	}
	payload := []byte(exampleCases[4].payload)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d, err := m.decode("tracker-1", payload, senmlArrival)
		if err != nil || d.restamped != 13 {
			b.Fatalf("%+v, %v", d, err)
		}
	}
}

// Slug of a typical Zigbee2MQTT friendly name.
func BenchmarkSlug(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if Slug("living room/floor_light") == "" {
			b.Fatal("empty")
		}
	}
}

// A device's times far enough out that arrival-minus-newest overflows a
// time.Duration (about 292 years) are restamped onto the arrival like any
// others: the shift must not saturate and leave the readings centuries
// ahead (SenML allows absolute times up to 1e11 s, the year 5138; a flat
// epoch time_field up to 1e15 ms).
func TestRestampFarTimes(t *testing.T) {
	for _, payload := range []string{
		`[{"bt":1e11,"n":"temp","v":20},{"n":"temp","t":-10,"v":21}]`,
		`[{"bt":99999999990,"n":"temp","v":20}]`,
	} {
		d, err := senmlMapper(t, "").decode("dev", []byte(payload), arrival)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		newest := d.readings[0].Time
		for _, r := range d.readings {
			if r.Time.After(newest) {
				newest = r.Time
			}
		}
		if !newest.Equal(arrival) {
			t.Errorf("%s: newest reading at %s, want the arrival %s", payload, newest.Format(reading.TimeLayout), arrival.Format(reading.TimeLayout))
		}
	}
	z := z2mMapping()
	z.TimeField = "last_seen"
	m, err := compileMapping(z)
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.decode("dev", []byte(`{"temperature":21,"last_seen":999999999999999}`), arrival)
	if err != nil {
		t.Fatalf("flat: %v", err)
	}
	if got := d.readings[0].Time; !got.Equal(arrival) {
		t.Errorf("flat: reading at %s, want the arrival %s", got.Format(reading.TimeLayout), arrival.Format(reading.TimeLayout))
	}
}
