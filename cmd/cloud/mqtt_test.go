package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

// TestRunWithMQTTBridge is `cloud --mqtt`: a device publishes a batch to a
// real mosquitto (with passwords and the shipped ACL); the bridge inside
// the cloud stores it, and the REST API serves it.
func TestRunWithMQTTBridge(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	users := map[string]string{"tributary-bridge-1": "bridge-secret", "pi-9": "device-secret"}
	srv := mosquittotest.Start(t, mosquittotest.Options{Users: users, ACLFile: "../../deploy/mosquitto/acl", ConfigFile: "../../deploy/mosquitto/compose.conf"})
	pwf := filepath.Join(t.TempDir(), "mqtt.pw")
	if err := os.WriteFile(pwf, []byte(users["tributary-bridge-1"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := startRun(t, "--listen", "127.0.0.1:0", "--mqtt", srv.URL(), "--mqtt-username", "tributary-bridge-1", "--mqtt-password-file", pwf)
	base := logs.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+/)`, logTimeout)

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr()).SetClientID(mqttwire.EdgeClientID("pi-9")).
		SetUsername("pi-9").SetPassword(users["pi-9"]))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	ts := time.Now().UTC().Truncate(time.Millisecond)
	batch := reading.AppendBatch(nil, []reading.Reading{
		{Device: "pi-9", Sensor: "bme", Metric: "temperature", Value: 19.5, Unit: "Cel", Time: ts, Seq: 1},
		{Device: "pi-9", Sensor: "bme", Metric: "humidity", Value: 52, Unit: "%", Time: ts, Seq: 2},
	})
	// The bridge may not have subscribed yet: publish until it has stored.
	deadline := time.Now().Add(20 * time.Second)
	var got struct{ Readings []reading.Reading }
	for len(got.Readings) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("readings not served after 20s; log:\n%s\nbroker:\n%s", logs.String(), srv.Log())
		}
		c.Publish(mqttwire.ReadingsTopic("pi-9"), 1, false, batch).Wait()
		code, body := httpGet(t, base+"api/devices/pi-9/readings", "", "")
		if code == 200 {
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got.Readings) != 2 || got.Readings[0].Value != 19.5 || got.Readings[1].Seq != 2 {
		t.Fatalf("stored %+v: repeats stored twice, or values wrong", got.Readings)
	}
	_, metrics := httpGet(t, base+"metrics", "", "")
	if !strings.Contains(string(metrics), "tributary_bridge_readings_stored_total 2") {
		t.Fatalf("bridge metrics not on /metrics:\n%s", metrics)
	}
	if strings.Contains(logs.String(), users["tributary-bridge-1"]) {
		t.Fatal("the log shows the bridge's password")
	}
}
