package bridge

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// deployConf is the broker config shipped in deploy/; the tests take its
// settings as they are (mosquittotest.Options.ConfigFile).
var deployConf = filepath.Join("..", "deploy", "mosquitto", "mosquitto.conf")

// shippedBroker is the deployment's broker: the shipped config and ACL,
// with users.
func shippedBroker() mosquittotest.Options {
	return mosquittotest.Options{Users: users, ACLFile: deployACL, ConfigFile: deployConf}
}

// asUser runs a bridge as a broker user of the shipped ACL.
func asUser(user string) func(*Options) {
	return func(o *Options) { o.MQTT.Username, o.MQTT.Password = user, users[user] }
}

// A bridge's client id is its user name; without one, the id given or
// the default of an anonymous broker. An id that differs from the user
// name is refused, with the rule in the error.
func TestBridgeClientIDIsTheUserName(t *testing.T) {
	st := store.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), store.Options{})
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name      string
		mq        mqttwire.Broker
		group     string
		want, err string
	}{
		{"user", mqttwire.Broker{URL: "mqtt://b", Username: "tributary-bridge-2"}, "g", "tributary-bridge-2", ""},
		{"user in the URL", mqttwire.Broker{URL: "mqtt://tributary-bridge-1:pw@b"}, "", "tributary-bridge-1", ""},
		{"the user name given as id", mqttwire.Broker{URL: "mqtt://b", Username: "u", ClientID: "u"}, "", "u", ""},
		{"anonymous", mqttwire.Broker{URL: "mqtt://b"}, "g", mqttwire.BridgeClientID("g", host), ""},
		{"anonymous with an id", mqttwire.Broker{URL: "mqtt://b", ClientID: "demo"}, "", "demo", ""},
		{"another id", mqttwire.Broker{URL: "mqtt://b", Username: "tributary-bridge-1", ClientID: "tributary-bridge-host"}, "", "",
			`client id "tributary-bridge-host" differs from the user name "tributary-bridge-1"`},
	} {
		b, err := New(Options{Store: st, MQTT: tc.mq, Group: tc.group})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case b.ClientID() != tc.want:
			t.Errorf("%s: client id %q, want %q", tc.name, b.ClientID(), tc.want)
		}
	}
}

// takeoverAttack has device pi-a, with its own valid credentials, connect
// once with the bridge's client id and once with device pi-b's, each time
// while pi-b publishes, and returns what the bridge and pi-b lost. The
// attacker keeps no connection open while pi-b publishes, so on the shipped
// config the test waits for nothing it cannot get.
func takeoverAttack(t *testing.T, e *env, br *running) (pibLost *atomic.Int32) {
	t.Helper()
	pibLost = new(atomic.Int32)
	pib := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-b"), "pi-b", users["pi-b"], func(o *mqtt.ClientOptions) {
		o.SetConnectionLostHandler(func(mqtt.Client, error) { pibLost.Add(1) })
	})
	var seq uint64
	for _, victim := range []string{br.b.ClientID(), mqttwire.EdgeClientID("pi-b")} {
		// The attacker asks for the victim's persistent session.
		attacker := mqttClient(t, e.mq.URL(), victim, "pi-a", users["pi-a"], func(o *mqtt.ClientOptions) { o.SetAutoReconnect(false) })
		seq++
		publish(t, pib, mqttwire.ReadingsTopic("pi-b"), encode(batch("pi-b", seq, seq)), false)
		awaitCount(t, e.st, "pi-b", int(seq))
		attacker.Disconnect(100)
	}
	checkExactlyOnceInOrder(t, e.st, "pi-b", 1, seq)
	return pibLost
}

// Client ids are identities: on the shipped broker config, a device with
// valid credentials that connects with the bridge's client id or another
// device's gets its own id (its user name) instead, and takes over no
// one's session: the bridge keeps its connection and receives every
// reading, and the other device keeps its connection.
func TestClientIDCannotTakeOverASession(t *testing.T) {
	e := newEnv(t, shippedBroker())
	br := startBridge(t, e, asUser("tributary-bridge-1"))
	lost := takeoverAttack(t, e, br)
	if n := br.counter(t, "tributary_bridge_mqtt_connections_lost_total"); n != 0 {
		t.Errorf("the bridge lost its connection %v times: a device took its session over", n)
	}
	if n := lost.Load(); n != 0 {
		t.Errorf("pi-b lost its connection %d times: pi-a took its session over", n)
	}
	if err := br.b.CheckReady(); err != nil {
		t.Errorf("the bridge is not ready: %v", err)
	}
	// mosquitto logs "New client connected from ADDR as ID (p2, c0, k30, u'USER')."
	ids := regexp.MustCompile(`as (\S+) \([^)]*u'pi-a'\)`).FindAllStringSubmatch(e.mq.Log(), -1)
	for _, id := range ids {
		if id[1] != "pi-a" {
			t.Errorf("pi-a connected with client id %q, want its user name", id[1])
		}
	}
	if len(ids) != 2 {
		t.Errorf("the broker logged %d connections of pi-a, want 2:\n%s", len(ids), e.mq.Log())
	}
}

// The same attack on the shipped config without use_username_as_clientid
// (the config before issue 9) takes the bridge's session over, and the
// bridge sees it: counted and logged with the reason. This is the control
// that shows the attack above is real.
func TestClientIDTakeoverWithoutTheRule(t *testing.T) {
	conf, err := os.ReadFile(deployConf)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.ReplaceAll(string(conf), "use_username_as_clientid true", "")
	opt := shippedBroker()
	opt.ConfigFile = writeFile(t, t.TempDir(), "mosquitto.conf", old)
	e := newEnv(t, opt)
	br := startBridge(t, e, asUser("tributary-bridge-1"))
	mqttClient(t, e.mq.URL(), br.b.ClientID(), "pi-a", users["pi-a"], func(o *mqtt.ClientOptions) { o.SetAutoReconnect(false) })
	eventually(t, "the bridge counts its lost connection", func() bool {
		return br.counter(t, "tributary_bridge_mqtt_connections_lost_total") >= 1
	})
	eventually(t, "the bridge logs the takeover", func() bool { return strings.Contains(br.logs.String(), "took the session over") })
}

// A takeover of the bridge's own session (its credentials used by a second
// connection) is visible: counted, logged at warn with the reason, and the
// bridge is not ready until it has reconnected and subscribed again; then
// it receives again.
func TestSessionTakeoverIsVisible(t *testing.T) {
	e := newEnv(t, shippedBroker())
	var (
		mu     sync.Mutex
		states []error
	)
	br := startBridge(t, e, asUser("tributary-bridge-1"), func(b *Bridge) {
		b.onState = func(err error) { mu.Lock(); states = append(states, err); mu.Unlock() }
	})
	mu.Lock()
	before := len(states)
	mu.Unlock()
	if err := br.b.CheckReady(); err != nil {
		t.Fatalf("not ready once subscribed: %v", err)
	}

	// Whatever client id it asks for, this connection gets the bridge's.
	mqttClient(t, e.mq.URL(), "anything", "tributary-bridge-1", users["tributary-bridge-1"], func(o *mqtt.ClientOptions) {
		o.SetAutoReconnect(false)
	})
	eventually(t, "the lost connection counted", func() bool {
		return br.counter(t, "tributary_bridge_mqtt_connections_lost_total") == 1
	})
	eventually(t, "the bridge ready again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(states) > before && states[len(states)-1] == nil && br.b.CheckReady() == nil
	})
	mu.Lock()
	var sawLost bool
	for _, err := range states[before:] {
		sawLost = sawLost || err != nil && strings.Contains(err.Error(), "MQTT connection lost")
	}
	got := states[before:]
	mu.Unlock()
	if !sawLost {
		t.Errorf("readiness went %v after the takeover, want a lost connection before ready again", got)
	}
	log := br.logs.String()
	if !strings.Contains(log, "level=WARN msg=\"mqtt connection lost") || !strings.Contains(log, "took the session over") {
		t.Errorf("no warning with the reason in the log:\n%s", log)
	}

	// The bridge has its session back and stores again.
	pia := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "pi-a", users["pi-a"], nil)
	publish(t, pia, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 1, 3)), false)
	awaitCount(t, e.st, "pi-a", 3)
}

// Two bridge replicas, each a broker user of its own, share the readings
// in one group on the shipped config: every reading stored once, both
// replicas receive, and neither takes the other's session over.
func TestTwoReplicasShareWithoutTakeover(t *testing.T) {
	e := newEnv(t, shippedBroker())
	inGroup := func(user string) func(*Options) {
		return func(o *Options) { asUser(user)(o); o.Group = "cloud" }
	}
	b1 := startBridge(t, e, inGroup("tributary-bridge-1"))
	b2 := startBridge(t, e, inGroup("tributary-bridge-2"))
	pia := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "pi-a", users["pi-a"], nil)
	const n = 40
	for s := uint64(1); s <= n; s++ {
		publish(t, pia, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", s, s)), false)
	}
	awaitCount(t, e.st, "pi-a", n)
	seen := map[uint64]int{}
	for _, s := range storedSeqs(t, e.st, "pi-a") {
		seen[s]++
	}
	for s := uint64(1); s <= n; s++ {
		if seen[s] != 1 {
			t.Errorf("seq %d stored %d times", s, seen[s])
		}
	}
	for _, r := range []*running{b1, b2} {
		if got := r.counter(t, "tributary_bridge_messages_received_total", "kind", "readings"); got == 0 || got == n {
			t.Errorf("bridge %s received %v of %d batches: the group does not share", r.b.ClientID(), got, n)
		}
		if got := r.counter(t, "tributary_bridge_mqtt_connections_lost_total"); got != 0 {
			t.Errorf("bridge %s lost its connection %v times", r.b.ClientID(), got)
		}
	}
}

// Two replicas as one broker user (the layout before issue 9) have one
// client id on the shipped config, so each takes the other's session over:
// the broker closes one connection after the other, and the bridges count
// and log it. Hence one user per replica.
func TestTwoReplicasOfOneUserAreSeen(t *testing.T) {
	e := newEnv(t, shippedBroker())
	inGroup := func(o *Options) { asUser("tributary-bridge-1")(o); o.Group = "cloud" }
	b1 := startBridge(t, e, inGroup)
	// The second one's connection closes the first's.
	b2 := startBridge(t, e, inGroup)
	eventually(t, "a lost connection counted", func() bool {
		return b1.counter(t, "tributary_bridge_mqtt_connections_lost_total")+b2.counter(t, "tributary_bridge_mqtt_connections_lost_total") >= 1
	})
	eventually(t, "the takeover logged", func() bool {
		return strings.Contains(b1.logs.String()+b2.logs.String(), "took the session over")
	})
}
