package mqttwire_test

import (
	"fmt"
	"time"

	"github.com/tributary-iot/tributary/mqttwire"
)

// An agent's side of the contract: where it publishes, and its retained
// status and last will.
func Example() {
	online, _ := mqttwire.EncodeStatus(mqttwire.Status{Online: true, Boot: "7f3e9c1a", FirstSeq: 4001,
		Time: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)})
	will, _ := mqttwire.EncodeStatus(mqttwire.Status{Boot: "7f3e9c1a"})
	fmt.Println(mqttwire.EdgeClientID("greenhouse-1"))
	fmt.Println(mqttwire.ReadingsTopic("greenhouse-1"))
	fmt.Println(mqttwire.StatusTopic("greenhouse-1"), string(online))
	fmt.Println(mqttwire.StatusTopic("greenhouse-1"), string(will))
	// Output:
	// greenhouse-1
	// tributary/greenhouse-1/readings
	// tributary/greenhouse-1/status {"v":1,"online":true,"boot":"7f3e9c1a","first_seq":4001,"ts":"2026-11-27T06:00:00.000Z"}
	// tributary/greenhouse-1/status {"v":1,"online":false,"boot":"7f3e9c1a"}
}

// A broker URL as a client library takes it, with the default port.
func ExampleParseURL() {
	u, err := mqttwire.ParseURL("mqtts://bridge:secret@broker.example")
	fmt.Println(u.Server, u.Secure, u.User.Username(), err)
	_, err = mqttwire.ParseURL("http://bridge:secret@broker.example")
	fmt.Println(err)
	// Output:
	// ssl://broker.example:8883 true bridge <nil>
	// MQTT URL http://bridge:xxxxx@broker.example: scheme "http", want mqtt:// or mqtts://
}
