package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

func TestRunSimulatedToMQTT(t *testing.T) {
	users := map[string]string{"field-7": "device-secret", "tributary-bridge-1": "bridge-secret"}
	srv := mosquittotest.Start(t, mosquittotest.Options{Users: users, ACLFile: "../../deploy/mosquitto/acl", ConfigFile: "../../deploy/mosquitto/mosquitto.conf"})
	var mu sync.Mutex
	var got []reading.Reading
	var firstSeq uint64 // of the online status
	co := mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr()).SetClientID("test-sub").SetUsername("tributary-bridge-1").SetPassword(users["tributary-bridge-1"])
	c := mqtt.NewClient(co)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe(mqttwire.ReadingsTopic("field-7"), 1, func(_ mqtt.Client, m mqtt.Message) {
		rs, err := reading.DecodeBatch(m.Payload())
		if err != nil {
			t.Errorf("bad batch: %v", err)
			return
		}
		mu.Lock()
		got = append(got, rs...)
		mu.Unlock()
	}).Wait()
	c.Subscribe(mqttwire.StatusTopic("field-7"), 1, func(_ mqtt.Client, m mqtt.Message) {
		st, err := mqttwire.DecodeStatus(m.Payload())
		mu.Lock()
		if err == nil && st.Online {
			firstSeq = st.FirstSeq
		}
		mu.Unlock()
	}).Wait()

	dir := t.TempDir()
	pwf := filepath.Join(dir, "mqtt-password")
	write(t, pwf, users["field-7"]+"\n")
	r := startRun(t, "--sim", "--device", "field-7", "--state-dir", dir, "--interval", "20ms", "--metrics-listen", "",
		"--mqtt", srv.URL(), "--mqtt-password-file", pwf)
	await(t, "readings through the broker and the online status", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 20 && firstSeq > 0
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// A new state dir over MQTT, which cannot ask Redis where the device
	// left off: seqs start from the clock, beyond any used before.
	if min := uint64(time.Now().Add(-time.Hour).UnixMilli()) * 1000; firstSeq < min || got[0].Seq != firstSeq {
		t.Fatalf("first seq %d (status %d): want it from the clock, above %d", got[0].Seq, firstSeq, min)
	}
	for i, rd := range got {
		if rd.Device != "field-7" || rd.Seq != firstSeq+uint64(i) {
			t.Fatalf("reading %d: %+v", i, rd)
		}
	}
	if log := r.stderr.String(); strings.Contains(log, users["field-7"]) || !strings.Contains(log, "uplink=\"mqtt mqtt://127.0.0.1") {
		t.Fatalf("log shows the password or not the uplink:\n%s", log)
	}
}
