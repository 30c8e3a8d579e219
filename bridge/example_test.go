package bridge_test

import (
	"fmt"

	"github.com/tributary-iot/tributary/bridge"
)

func ExampleParseMappings() {
	ms, err := bridge.ParseMappings([]byte(`
mappings:
  - topic: zigbee2mqtt/+
    format: flat
    device_level: 2
    device_prefix: z2m-
    sensor: zigbee
    fields:
      temperature: {metric: temperature, unit: Cel}
    ignore: [linkquality]
`))
	fmt.Println(len(ms), ms[0].Topic, ms[0].Fields["temperature"].Metric, err)
	// Output: 1 zigbee2mqtt/+ temperature <nil>
}
