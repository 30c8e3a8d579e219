package bridge

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
)

// BenchmarkBridgeThroughput measures messages/s (and readings/s) from a real
// mosquitto through one bridge into a real redis-server: 10 agents publish
// b.N batches between them (QoS 1, as fast as the broker takes them), and
// the clock stops when Redis holds every reading. Batches of 1 reading
// (an agent sending each reading at once) and of 100 (a backlog draining).
// The broker lets 100 messages be in flight to the bridge, as
// deploy/mosquitto/mosquitto.conf does.
//
//	go test -run '^$' -bench BridgeThroughput -benchtime 20000x ./bridge/
func BenchmarkBridgeThroughput(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			e := newEnv(b, mosquittotest.Options{Extra: []string{"max_inflight_messages 100"}}) // as deploy/mosquitto
			br := startBridge(b, e, nil)
			const agents = 10
			clients := make([]mqtt.Client, agents)
			for i := range clients {
				clients[i] = mqttClient(b, e.mq.URL(), mqttwire.EdgeClientID(fmt.Sprintf("pi-%d", i)), "", "", nil)
			}
			want := float64(b.N * per)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, c := range clients {
				dev := fmt.Sprintf("pi-%d", i)
				n := b.N / agents
				if i < b.N%agents {
					n++
				}
				wg.Go(func() {
					var last mqtt.Token
					for k := range uint64(n) {
						last = c.Publish(mqttwire.ReadingsTopic(dev), 1, false, encode(batch(dev, k*uint64(per)+1, (k+1)*uint64(per))))
						if k%64 == 63 { // bound what paho holds in flight
							last.Wait()
						}
					}
					if last != nil && (!last.WaitTimeout(time.Minute) || last.Error() != nil) {
						b.Errorf("publish: %v", last.Error())
					}
				})
			}
			wg.Wait()
			for br.counter(b, "tributary_bridge_readings_stored_total") < want {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("only %v of %v readings stored after 5 minutes", br.counter(b, "tributary_bridge_readings_stored_total"), want)
				}
				time.Sleep(2 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(want/elapsed.Seconds(), "readings/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
