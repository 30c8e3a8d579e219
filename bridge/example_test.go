package bridge_test

import (
	"fmt"
	"time"

	"github.com/tributary-iot/tributary/bridge"
)

// An agent's side of the contract: where it publishes, and its retained
// status and last will.
func Example() {
	online, _ := bridge.EncodeStatus(bridge.Status{Online: true, Boot: "7f3e9c1a", FirstSeq: 4001,
		Time: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)})
	will, _ := bridge.EncodeStatus(bridge.Status{Boot: "7f3e9c1a"})
	fmt.Println(bridge.EdgeClientID("greenhouse-1"))
	fmt.Println(bridge.ReadingsTopic("greenhouse-1"))
	fmt.Println(bridge.StatusTopic("greenhouse-1"), string(online))
	fmt.Println(bridge.StatusTopic("greenhouse-1"), string(will))
	// Output:
	// tributary-edge-greenhouse-1
	// tributary/greenhouse-1/readings
	// tributary/greenhouse-1/status {"v":1,"online":true,"boot":"7f3e9c1a","first_seq":4001,"ts":"2026-11-27T06:00:00.000Z"}
	// tributary/greenhouse-1/status {"v":1,"online":false,"boot":"7f3e9c1a"}
}

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
