package bridge

import (
	"strings"
	"testing"
)

// Foreign device ids are namespaced. A mapping that takes ids from the
// topic without a prefix let any device on the broker publish as an agent
// that had not booted yet, or as another mapping's device; two mappings
// whose ids could meet (two without a prefix; "z" and "z2m-"; one's strict
// names and another's slugs under one prefix) let one foreign device write
// into another's history. Such lists are refused when loaded, naming both
// mappings, at the line of the later one.
func TestMappingsIDSpacesRefused(t *testing.T) {
	// m is one mapping of a YAML list, in flow style, on one line.
	m := func(name, topic, keys string) string {
		return "  - {name: " + name + ", topic: " + topic + ", format: flat, sensor: s, fields: {t: {metric: temperature, unit: Cel}}, " + keys + "}\n"
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string // all in the error
	}{
		{"level without prefix", m("tasmota", "tele/+/SENSOR", "device_level: 2"),
			[]string{`line 2: mappings[0]: device_prefix: missing`, "device_level", "Tributary agent", "another mapping's device"}},
		{"level with empty prefix", m("tasmota", "tele/+/SENSOR", `device_level: 2, device_prefix: ""`),
			[]string{`line 2: mappings[0]: device_prefix: missing`}},
		{"two prefix-less", m("tasmota", "tele/+/SENSOR", "device_level: 2") + m("shelly", "+/events/rpc", "device_level: 1"),
			[]string{`line 2: mappings[0]: device_prefix: missing`}},
		{"same prefix", m("tasmota", "tele/+/SENSOR", "device_level: 2, device_prefix: t-") + m("tasmota-state", "tele/+/STATE", "device_level: 2, device_prefix: t-"),
			[]string{`line 3: mappings[1]: device ids overlap`, `mappings "tasmota" and "tasmota-state" both have device_prefix "t-"`}},
		{"strict and slug under one prefix", m("z2m", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-") + m("z2m-rooms", "zigbee2mqtt/#", "device_level: 2, device_prefix: z2m-, device_names: slug"),
			[]string{`line 3: mappings[1]: device ids overlap`, `"z2m" and "z2m-rooms"`}},
		{"prefix begins another's", m("zigbee", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-") + m("zwave", "zwave/+", "device_level: 2, device_prefix: z"),
			[]string{`line 3: mappings[1]: device ids overlap`, `device_prefix "z" of mapping "zwave" begins device_prefix "z2m-" of mapping "zigbee"`}},
		{"longer prefix later", m("zwave", "zwave/+", "device_level: 2, device_prefix: z") + m("zigbee", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-"),
			[]string{`line 3: mappings[1]: device ids overlap`, `device_prefix "z" of mapping "zwave" begins device_prefix "z2m-" of mapping "zigbee"`}},
		{"fixed id under a prefix", m("z2m", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-") + m("plug", "zigbee2mqtt/plug", "device: z2m-plug"),
			[]string{`line 3: mappings[1]: device ids overlap`, `device "z2m-plug" of mapping "plug" begins with device_prefix "z2m-" of mapping "z2m"`}},
		{"fixed id with its own prefix under a prefix", m("plug", "plugs/a", "device: plug, device_prefix: z2m-") + m("z2m", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-"),
			[]string{`line 3: mappings[1]: device ids overlap`, `device "z2m-plug" of mapping "plug"`, `mapping "z2m"`}},
		{"fixed id equal to a prefix", m("z2m", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-") + m("gateway", "zigbee2mqtt/bridge/state", "device: z2m-"),
			[]string{`line 3: mappings[1]: device ids overlap`, `device "z2m-" of mapping "gateway"`}},
		{"two equal fixed ids", m("boiler-flat", "boiler/state", "device: boiler") + m("boiler-senml", "boiler/senml", "device: boiler"),
			[]string{`line 3: mappings[1]: device ids overlap`, `mappings "boiler-flat" and "boiler-senml" both have device "boiler"`}},
		{"equal fixed ids by prefix", m("a", "a/x", "device: b-x") + m("b", "b/x", "device: x, device_prefix: b-"),
			[]string{`line 3: mappings[1]: device ids overlap`, `both have device "b-x"`}},
		{"third against first", m("z2m", "zigbee2mqtt/+", "device_level: 2, device_prefix: z2m-") + m("ha", "homeassistant/sensor/+/state", "device_level: 3, device_prefix: ha-") +
			m("zb", "zb/+", "device_level: 2, device_prefix: z2m-x"),
			[]string{`line 4: mappings[2]: device ids overlap`, `"z2m-" of mapping "z2m" begins device_prefix "z2m-x" of mapping "zb"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMappings([]byte("mappings:\n" + tc.yaml))
			if err == nil {
				t.Fatal("ParseMappings: nil error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseMappings: %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// Mappings whose id spaces are apart load: prefixes none of which begins
// another, and fixed ids outside every prefix, even where they share
// letters ("z2m-" and "z2m", a fixed "z2m" beside the prefix "z2m-").
func TestMappingsIDSpacesApart(t *testing.T) {
	ms, err := ParseMappings([]byte(`mappings:
  - {name: z2m, topic: zigbee2mqtt/+, format: flat, device_level: 2, device_prefix: z2m-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: z2m-rooms, topic: rooms/#, format: flat, device_level: 2, device_prefix: z2m.rooms-, device_names: slug, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: tasmota, topic: tele/+/SENSOR, format: flat, device_level: 2, device_prefix: tasmota-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: shelly, topic: +/events/rpc, format: flat, device_level: 1, device_prefix: shelly-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: gateway, topic: zigbee2mqtt/bridge/state, format: flat, device: z2m, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: boiler, topic: boiler/state, format: flat, device: boiler, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
  - {name: boiler-2, topic: boiler2/state, format: flat, device: boiler-2, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}
`))
	if err != nil || len(ms) != 7 {
		t.Fatalf("ParseMappings: %d mappings, %v; want 7, nil", len(ms), err)
	}
}

// overlap is symmetric in what it refuses, whichever mapping comes first.
func TestOverlapSymmetric(t *testing.T) {
	level := func(name, prefix string) Mapping {
		return Mapping{Name: name, Topic: name + "/+", Format: FormatFlat, DeviceLevel: 2, DevicePrefix: prefix, Sensor: "s",
			Fields: map[string]Field{"t": {Metric: "temperature", Unit: "Cel"}}}
	}
	fixed := func(name, prefix, device string) Mapping {
		m := level(name, prefix)
		m.DeviceLevel, m.Device = 0, device
		return m
	}
	for _, tc := range []struct {
		a, b    Mapping
		overlap bool
	}{
		{level("a", "x-"), level("b", "x-"), true},
		{level("a", "x"), level("b", "x-"), true},
		{level("a", "x-"), level("b", "y-"), false},
		{level("a", "x-"), level("b", "x_"), false},
		{level("a", "x-"), fixed("b", "", "x-1"), true},
		{level("a", "x-"), fixed("b", "x", "-1"), true},
		{level("a", "x-"), fixed("b", "", "x"), false},
		{fixed("a", "", "d"), fixed("b", "", "d"), true},
		{fixed("a", "", "d"), fixed("b", "", "d2"), false},
	} {
		for _, order := range [][2]Mapping{{tc.a, tc.b}, {tc.b, tc.a}} {
			cs, err := compileMappings([]Mapping{order[0]})
			if err != nil {
				t.Fatal(err)
			}
			c, err := compileMapping(order[1])
			if err != nil {
				t.Fatal(err)
			}
			if err := overlap(cs[0], c); (err != nil) != tc.overlap {
				t.Errorf("overlap(%s %q%s, %s %q%s) = %v, want overlap %v", order[0].Name, order[0].DevicePrefix, order[0].Device,
					order[1].Name, order[1].DevicePrefix, order[1].Device, err, tc.overlap)
			}
		}
	}
}
