package agent

import (
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

// subscriber records what a broker delivers on the Tributary topics.
type subscriber struct {
	mu       sync.Mutex
	readings []reading.Reading
	statuses []mqttwire.Status
	bad      []string
}

func subscribe(t *testing.T, srv *mosquittotest.Server, user, pass string) *subscriber {
	t.Helper()
	s := &subscriber{}
	co := mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr()).SetClientID("test-sub-" + t.Name()).
		SetUsername(user).SetPassword(pass).SetCleanSession(false).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(100 * time.Millisecond).
		SetOrderMatters(true)
	co.SetOnConnectHandler(func(c mqtt.Client) {
		c.Subscribe(mqttwire.ReadingsFilter, 1, func(_ mqtt.Client, m mqtt.Message) {
			rs, err := reading.DecodeBatch(m.Payload())
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.bad = append(s.bad, err.Error())
				return
			}
			s.readings = append(s.readings, rs...)
		})
		c.Subscribe(mqttwire.StatusFilter, 1, func(_ mqtt.Client, m mqtt.Message) {
			st, err := mqttwire.DecodeStatus(m.Payload())
			s.mu.Lock()
			defer s.mu.Unlock()
			if err != nil {
				s.bad = append(s.bad, err.Error())
				return
			}
			s.statuses = append(s.statuses, st)
		})
	})
	c := mqtt.NewClient(co)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return s
}

func (s *subscriber) got() ([]reading.Reading, []mqttwire.Status, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reading.Reading(nil), s.readings...), append([]mqttwire.Status(nil), s.statuses...), append([]string(nil), s.bad...)
}

// lastStatus is the newest status received, and whether there is one.
func (s *subscriber) lastStatus() (mqttwire.Status, bool) {
	_, sts, _ := s.got()
	if len(sts) == 0 {
		return mqttwire.Status{}, false
	}
	return sts[len(sts)-1], true
}

func TestMQTTUplinkThroughBrokerRestart(t *testing.T) {
	users := map[string]string{"pi-1": "device-secret", "tributary-bridge-1": "bridge-secret"}
	srv := mosquittotest.Start(t, mosquittotest.Options{Users: users, Persistence: true, ACLFile: "../deploy/mosquitto/acl"})
	sub := subscribe(t, srv, "tributary-bridge-1", users["tributary-bridge-1"])
	dir := t.TempDir()
	boot, err := NewBoot(dir, "pi-1")
	if err != nil {
		t.Fatal(err)
	}
	up, err := NewMQTTUplink(MQTTUplinkOptions{Broker: mqttwire.Broker{URL: srv.URL(), Password: users["pi-1"]}, Device: "pi-1", Boot: boot, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := start(t, Config{Device: "pi-1", Boot: boot, Sensors: []SensorConfig{{Sensor: climate("c")}}, Interval: time.Millisecond, StateDir: dir},
		up, Options{BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	await(t, "the online status", func() bool { st, ok := sub.lastStatus(); return ok && st.Online && st.Boot == boot && st.FirstSeq == 1 })
	await(t, "readings through the broker", func() bool { rs, _, _ := sub.got(); return len(rs) >= 50 })

	// The broker goes away while the agent keeps sampling: the queue holds.
	srv.Stop()
	produced := a.produced()
	await(t, "readings produced while the broker is down", func() bool { return a.produced() >= produced+200 })
	if up.Connected() {
		t.Fatal("uplink says connected with the broker stopped")
	}
	srv.Restart(t)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	up.Close()
	total := a.produced()
	await(t, "every reading after the restart", func() bool { rs, _, _ := sub.got(); return len(rs) >= total })
	await(t, "the offline status", func() bool { st, ok := sub.lastStatus(); return ok && !st.Online && st.Boot == boot })

	rs, _, bad := sub.got()
	if len(bad) > 0 {
		t.Fatalf("undecodable messages: %v", bad)
	}
	// QoS 1 may deliver a batch twice (an acknowledgement lost in the
	// restart); the bridge's ingest stores it once. Here: none missing, in
	// order once repeats are removed.
	var next uint64 = 1
	dups := 0
	for _, r := range rs {
		switch {
		case r.Seq == next:
			next++
		case r.Seq < next:
			dups++
		default:
			t.Fatalf("seq %d arrived while %d was expected: readings lost or reordered", r.Seq, next)
		}
	}
	if int(next-1) != total {
		t.Fatalf("received seqs 1..%d, produced %d", next-1, total)
	}
	t.Logf("%d readings, %d delivered twice", total, dups)
}

func TestMQTTUplinkOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  MQTTUplinkOptions
		want string
	}{
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://u:p@host:1883"}, Device: "d", Boot: "1-a"}, "credentials"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "http://host"}, Device: "d", Boot: "1-a"}, "scheme"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://"}, Device: "d", Boot: "1-a"}, "no host"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://host"}, Device: "bad id", Boot: "1-a"}, "device"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://host"}, Device: "d"}, "boot"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtt://host", CAFile: "ca.pem"}, Device: "d", Boot: "1-a"}, "not an mqtts:// URL"},
		{MQTTUplinkOptions{Broker: mqttwire.Broker{URL: "mqtts://host", CAFile: "/nonexistent/ca.pem"}, Device: "d", Boot: "1-a"}, "MQTT CA"},
	} {
		_, err := NewMQTTUplink(tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewMQTTUplink(%+v) = %v, want an error about %s", tc.opt, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestCopyingStore: a publish is stored and comes back as a copy, so that
// paho's resume can mark it a repeat without touching a packet a writer may
// be sending (eclipse-paho/paho.mqtt.golang#703).
func TestCopyingStore(t *testing.T) {
	s := copyingStore{mqtt.NewMemoryStore()}
	s.Open()
	defer s.Close()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID, pub.TopicName, pub.Payload = 1, 7, "tributary/pi-1/readings", []byte("[]")
	s.Put("o.7", pub)
	got, ok := s.Get("o.7").(*packets.PublishPacket)
	if !ok || got == pub {
		t.Fatalf("Get returned %p (the stored %p): want a copy", got, pub)
	}
	if got.MessageID != 7 || got.TopicName != pub.TopicName || string(got.Payload) != "[]" || got.Qos != 1 {
		t.Errorf("copy %+v differs from the stored %+v", got, pub)
	}
	got.Dup = true
	if pub.Dup {
		t.Error("marking the copy a repeat changed the packet put")
	}
	if again := s.Get("o.7").(*packets.PublishPacket); again == got || again.Dup {
		t.Error("a second Get returned the first one's packet")
	}
	pub.RemainingLength = 99 // as a writer sending it does
	if again := s.Get("o.7").(*packets.PublishPacket); again.RemainingLength == 99 {
		t.Error("the store keeps the packet put, not a copy")
	}
	if s.Get("o.8") != nil {
		t.Error("Get of a missing key returned a packet")
	}
}
