package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/fanout/fanouttest"
)

// TestRunDemo is `make demo` in-process: the embedded Redis and a fleet of
// real agents, whose readings reach a WebSocket client.
func TestRunDemo(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	logs := startRun(t, "--listen", "127.0.0.1:0", "--demo", "3", "--demo-interval", "20ms")
	base := logs.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+/)`, logTimeout)
	// Every other device takes the MQTT path: embedded broker, bridge, Redis.
	logs.Await(t, `msg="fleet starting" .*via_mqtt=(\[sim-2\])`, logTimeout)
	c := fanouttest.Dialer{}.Dial(t, "ws"+strings.TrimPrefix(base, "http")+"api/stream")
	seen := map[string]uint64{}
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 3 || seen["sim-1"] < 5 || seen["sim-2"] < 5 || seen["sim-3"] < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, seqs seen %v", seen)
		}
		for _, r := range c.Frame(t).Readings {
			if r.Seq <= seen[r.Device] {
				t.Fatalf("%s: seq %d after %d", r.Device, r.Seq, seen[r.Device])
			}
			seen[r.Device] = r.Seq
		}
	}
	if len(seen) != 3 {
		t.Fatalf("devices %v, want sim-1..sim-3", seen)
	}
}
