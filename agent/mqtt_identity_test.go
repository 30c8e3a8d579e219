package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
)

// The agent's client id is its user name, the device id: what the shipped
// broker config enforces (use_username_as_clientid), so it is also what
// the agent asks for. Another id is refused before connecting.
func TestMQTTUplinkClientIDIsTheDevice(t *testing.T) {
	for _, id := range []string{"tributary-bridge-1", "pi-2", "tributary-edge-pi-1"} {
		_, err := NewMQTTUplink(MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://127.0.0.1:1", ClientID: id}, Device: "pi-1", Boot: "b1"})
		if err == nil || !strings.Contains(err.Error(), `differs from the user name "pi-1"`) {
			t.Errorf("client id %q: %v, want an error", id, err)
		}
	}

	// A broker that keeps the id a client asks for shows the agent's.
	srv := mosquittotest.Start(t, mosquittotest.Options{})
	up, err := NewMQTTUplink(MQTTUplinkOptions{Broker: mqttwire.Broker{URL: srv.URL()}, Device: "pi-1", Boot: "b1",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	await(t, "the uplink connected", up.Connected)
	// mosquitto logs "New client connected from ADDR as ID (p2, c0, k30, u'USER')."
	if log := srv.Log(); !strings.Contains(log, " as pi-1 (") || !strings.Contains(log, "u'pi-1'") {
		t.Errorf("the agent did not connect as client pi-1, user pi-1:\n%s", log)
	}
}
