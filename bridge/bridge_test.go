package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// Two agents publish batches at the same time: each device's readings are
// stored once and in seq order.
func TestTwoDevicesStoredOnceInOrder(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	const batches, per = 25, 8
	var wg sync.WaitGroup
	for _, dev := range []string{"pi-a", "pi-b"} {
		c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID(dev), "", "", nil)
		wg.Go(func() {
			for i := range uint64(batches) {
				tok := c.Publish(mqttwire.ReadingsTopic(dev), 1, false, encode(batch(dev, i*per+1, i*per+per)))
				if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
					t.Errorf("publish: %v", tok.Error())
					return
				}
			}
		})
	}
	wg.Wait()
	for _, dev := range []string{"pi-a", "pi-b"} {
		awaitCount(t, e.st, dev, batches*per)
	}
	eventually(t, "every message acknowledged", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == 2*batches
	})
	for _, dev := range []string{"pi-a", "pi-b"} {
		checkExactlyOnceInOrder(t, e.st, dev, 1, batches*per)
	}
	if got := br.counter(t, "tributary_bridge_readings_stored_total"); got != 2*batches*per {
		t.Errorf("readings stored counter %v, want %d", got, 2*batches*per)
	}
	if got := br.counter(t, "tributary_bridge_messages_received_total", "kind", "readings"); got != 2*batches {
		t.Errorf("received counter %v, want %d", got, 2*batches)
	}
	if got := br.counter(t, "tributary_bridge_ingest_duration_seconds"); got < 1 {
		t.Errorf("ingest histogram has %v samples", got)
	}
	if got := br.counter(t, "tributary_bridge_redis_up"); got != 1 {
		t.Errorf("redis_up %v", got)
	}
	if got := br.counter(t, "tributary_bridge_mqtt_up"); got != 1 {
		t.Errorf("mqtt_up %v", got)
	}
}

// The same message delivered twice (an agent that did not get its PUBACK
// publishes again) is stored once, and the second copy counts as
// duplicates.
func TestSameMessageTwiceStoredOnce(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1"), "", "", nil)
	msg := encode(batch("pi-1", 1, 10))
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), msg, false)
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), msg, false)
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-1", 11, 12)), false)
	eventually(t, "three messages acknowledged", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == 3
	})
	checkExactlyOnceInOrder(t, e.st, "pi-1", 1, 12)
	if got := br.counter(t, "tributary_bridge_duplicate_readings_total"); got != 10 {
		t.Errorf("duplicates %v, want 10", got)
	}
	if got := br.counter(t, "tributary_bridge_readings_stored_total"); got != 12 {
		t.Errorf("stored %v, want 12", got)
	}
	// The latency of new readings only, once each.
	if got := br.counter(t, "tributary_bridge_reading_latency_seconds"); got != 12 {
		t.Errorf("latency observations %v, want 12", got)
	}
}

// Bad messages go to the dead-letter stream with their reason, are counted
// and acknowledged, and the good ones around them still flow.
func TestBadMessagesDeadLettered(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, func(o *Options) { o.MaxPayload = 8192; o.DeadLetterPayload = 64 })
	c := mqttClient(t, e.mq.URL(), "tester", "", "", nil)
	good := func(from, to uint64) []byte { return encode(batch("pi-1", from, to)) }
	invalid := batch("pi-1", 3, 3)
	invalid[0].Unit = ""
	bigValid := encode(batch("pi-1", 100, 200)) // valid readings, but over MaxPayload
	if len(bigValid) <= 8192 {
		t.Fatalf("test batch only %d bytes", len(bigValid))
	}
	cases := []struct {
		topic   string
		payload []byte
		reason  string
		detail  string
	}{
		{mqttwire.ReadingsTopic("pi-1"), []byte(`[{"v":1,"device":`), ReasonMalformed, "not a JSON array"},
		{mqttwire.ReadingsTopic("pi-1"), bigValid, ReasonTooLarge, "limit 8192"},
		{mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-2", 1, 1)), ReasonDeviceMismatch, `device "pi-2"`},
		{mqttwire.ReadingsTopic("pi-1"), encode(invalid), ReasonInvalid, "unit"},
		{mqttwire.ReadingsTopic("pi-1"), []byte(`[]`), ReasonMalformed, "empty"},
		{mqttwire.ReadingsTopic("pi-1"), bytes.Replace(good(3, 3), []byte(`"v":1,`), []byte(`"v":1,"x":1,`), 1), ReasonInvalid, "unknown field"},
		{mqttwire.StatusTopic("pi-1"), []byte(`{"v":1,"online":true}`), ReasonBadStatus, "boot"},
		{"tributary/-pi/readings", good(3, 3), ReasonBadTopic, "not a valid device id"},
	}
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), good(1, 2), false)
	for i, tc := range cases {
		publish(t, c, tc.topic, tc.payload, false)
		publish(t, c, mqttwire.ReadingsTopic("pi-1"), good(uint64(3+i), uint64(3+i)), false)
	}
	last := uint64(3 + len(cases) - 1)
	awaitCount(t, e.st, "pi-1", int(last))
	eventually(t, "every dead letter counted", func() bool {
		n := 0.0
		for _, r := range Reasons {
			n += br.counter(t, "tributary_bridge_dead_letters_total", "reason", r)
		}
		return n == float64(len(cases))
	})
	checkExactlyOnceInOrder(t, e.st, "pi-1", 1, last)

	dl := deadLetters(t, e.rdb)
	if len(dl) != len(cases) {
		t.Fatalf("%d dead letters, want %d: %v", len(dl), len(cases), dl)
	}
	perReason := map[string]float64{}
	for i, tc := range cases {
		d := dl[i]
		perReason[tc.reason]++
		if d["reason"] != tc.reason || d["topic"] != tc.topic || !strings.Contains(d["error"].(string), tc.detail) {
			t.Errorf("dead letter %d: %v; want reason %s, topic %s, error containing %q", i, d, tc.reason, tc.topic, tc.detail)
		}
		want := tc.payload
		truncated := len(want) > 64
		if truncated {
			want = want[:64]
		}
		if d["payload"] != string(want) || d["truncated"] != map[bool]string{true: "true", false: "false"}[truncated] ||
			d["payload_bytes"] != itoa(len(tc.payload)) {
			t.Errorf("dead letter %d: payload %q (%v bytes, truncated %v); want %q", i, d["payload"], d["payload_bytes"], d["truncated"], want)
		}
		if _, err := time.Parse(time.RFC3339, d["ts"].(string)); err != nil {
			t.Errorf("dead letter %d: ts %v", i, d["ts"])
		}
	}
	for reason, n := range perReason {
		if got := br.counter(t, "tributary_bridge_dead_letters_total", "reason", reason); got != n {
			t.Errorf("dead letters %s: %v, want %v", reason, got, n)
		}
	}
	if got := br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings"); got != float64(1+len(cases)) {
		t.Errorf("stored messages %v, want %d", got, 1+len(cases))
	}
}

// Redis stops while agents keep publishing: nothing is acknowledged while
// it is down, and after it restarts every reading from the outage on is
// stored once and in order.
func TestRedisOutageLosesNothing(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1"), "", "", nil)
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-1", 1, 5)), false)
	awaitCount(t, e.st, "pi-1", 5)
	// The readings land before the bridge's last round trip for the
	// message; stop Redis only once it is acknowledged.
	eventually(t, "the first message acknowledged", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == 1
	})

	e.rd.Stop()
	const outageBatches = 40
	for i := range uint64(outageBatches) {
		publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-1", 6+i*5, 10+i*5)), false)
	}
	eventually(t, "redis_up 0 and messages waiting", func() bool {
		return br.counter(t, "tributary_bridge_redis_up") == 0 && br.counter(t, "tributary_bridge_queue_messages") > 0
	})
	if got := br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings"); got != 1 {
		t.Fatalf("%v messages acknowledged during the outage, want only the one before", got)
	}
	e.rd.Restart(t) // empty: what was stored before the outage is gone with it
	last := uint64(5 + outageBatches*5)
	awaitCount(t, e.st, "pi-1", int(last-5))
	eventually(t, "all acknowledged", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == 1+outageBatches
	})
	checkExactlyOnceInOrder(t, e.st, "pi-1", 6, last)
	if br.counter(t, "tributary_bridge_redis_errors_total") == 0 || br.counter(t, "tributary_bridge_redis_up") != 1 {
		t.Error("the outage left no trace in the metrics")
	}
	if !strings.Contains(br.logs.String(), "redis reachable again") {
		t.Errorf("no recovery in the log:\n%s", br.logs.String())
	}
}

// A bridge dies after Redis stored a group and before acknowledging it:
// the broker delivers the group again to the restarted bridge (same client
// id, same session), and the idempotent ingest stores everything once.
func TestBridgeKilledAndRestarted(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	const batches, per = 60, 5
	crashed := make(chan struct{})
	var once sync.Once
	stored := 0
	var first *running
	first = startBridge(t, e, func(o *Options) { o.MQTT.ClientID = "bridge-crashy" })
	first.b.beforeAck = func(n int) bool {
		stored += n
		if stored < 10 {
			return true
		}
		once.Do(func() { first.cancel(); close(crashed) })
		return false // stored, never acknowledged
	}
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1"), "", "", nil)
	for i := range uint64(batches) {
		publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-1", i*per+1, i*per+per)), false)
	}
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the bridge never reached its crash point")
	}
	first.stop(t)
	acked := first.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings")
	if acked >= batches {
		t.Fatalf("the first bridge acknowledged all %v messages", acked)
	}

	second := startBridge(t, e, func(o *Options) { o.MQTT.ClientID = "bridge-crashy" })
	awaitCount(t, e.st, "pi-1", batches*per)
	eventually(t, "the rest acknowledged", func() bool {
		return second.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") >= batches-acked
	})
	checkExactlyOnceInOrder(t, e.st, "pi-1", 1, batches*per)
	if second.counter(t, "tributary_bridge_duplicate_readings_total") == 0 {
		t.Error("the restarted bridge saw no duplicates: the stored-but-unacknowledged group was not redelivered")
	}
}

// Two bridges in one shared-subscription group split the messages: each
// reading is stored exactly once and both bridges did work.
func TestSharedGroupSplitsWithoutDuplicates(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	a := startBridge(t, e, func(o *Options) { o.Group = "g1"; o.MQTT.ClientID = "bridge-a" })
	b := startBridge(t, e, func(o *Options) { o.Group = "g1"; o.MQTT.ClientID = "bridge-b" })
	if subs := a.b.Subscriptions(); !contains(subs, "$share/g1/tributary/+/readings") || !contains(subs, mqttwire.StatusFilter) {
		t.Fatalf("subscriptions %v", subs)
	}
	devices := []string{"pi-1", "pi-2", "pi-3"}
	const batches, per = 40, 5
	var wg sync.WaitGroup
	for _, dev := range devices {
		c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID(dev), "", "", nil)
		wg.Go(func() {
			for i := range uint64(batches) {
				tok := c.Publish(mqttwire.ReadingsTopic(dev), 1, false, encode(batch(dev, i*per+1, i*per+per)))
				if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
					t.Errorf("publish: %v", tok.Error())
				}
			}
		})
	}
	wg.Wait()
	for _, dev := range devices {
		awaitCount(t, e.st, dev, batches*per)
	}
	total := float64(len(devices) * batches)
	eventually(t, "every message acknowledged by one bridge", func() bool {
		return a.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings")+
			b.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == total
	})
	for _, dev := range devices {
		// Each reading once. The stream's order may interleave two
		// bridges' work; the seqs are all there.
		got := storedSeqs(t, e.st, dev)
		seen := map[uint64]bool{}
		for _, s := range got {
			if seen[s] {
				t.Fatalf("%s: seq %d stored twice", dev, s)
			}
			seen[s] = true
		}
		if len(got) != batches*per {
			t.Fatalf("%s: %d readings stored, want %d", dev, len(got), batches*per)
		}
	}
	na := a.counter(t, "tributary_bridge_messages_received_total", "kind", "readings")
	nb := b.counter(t, "tributary_bridge_messages_received_total", "kind", "readings")
	t.Logf("bridge a got %v messages, bridge b %v", na, nb)
	if na == 0 || nb == 0 || na+nb != total {
		t.Errorf("received a=%v b=%v, want both > 0 and %v in all (no message to both)", na, nb, total)
	}
	if d := a.counter(t, "tributary_bridge_duplicate_readings_total") + b.counter(t, "tributary_bridge_duplicate_readings_total"); d != 0 {
		t.Errorf("%v duplicates: a message reached both bridges", d)
	}
}

// An online status records a boot, once, however often the retained
// message is delivered; an offline status records nothing.
func TestStatusRecordsBoots(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1"), "", "", nil)
	online := func(boot string, first uint64) []byte {
		b, err := mqttwire.EncodeStatus(mqttwire.Status{Online: true, Boot: boot, FirstSeq: first, Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	offline, err := mqttwire.EncodeStatus(mqttwire.Status{Boot: "boot-1"})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, mqttwire.StatusTopic("pi-1"), online("boot-1", 1), true)
	publish(t, c, mqttwire.StatusTopic("pi-1"), offline, true)
	publish(t, c, mqttwire.StatusTopic("pi-1"), online("boot-2", 1001), true)
	eventually(t, "three statuses handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "status") == 3
	})
	// A second bridge (another client id) gets the retained status of
	// boot-2 again on subscribing; it is not recorded twice.
	other := startBridge(t, e, func(o *Options) { o.MQTT.ClientID = "bridge-other" })
	eventually(t, "retained status handled by the second bridge", func() bool {
		return other.counter(t, "tributary_bridge_messages_stored_total", "kind", "status") == 1
	})
	boots, err := e.st.Boots(context.Background(), "pi-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(boots) != 2 || boots[0].ID != "boot-1" || boots[0].FirstSeq != 1 || boots[1].ID != "boot-2" || boots[1].FirstSeq != 1001 || !boots[1].Time.Equal(t0) {
		t.Fatalf("boots %+v, want boot-1 (first seq 1) then boot-2 (1001)", boots)
	}
}

func TestNewRejects(t *testing.T) {
	st := newEnvStore(t)
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no store", Options{MQTT: mqttwire.Broker{URL: "mqtt://127.0.0.1:1"}}, "Store is required"},
		{"bad scheme", Options{Store: st, MQTT: mqttwire.Broker{URL: "http://h"}}, "want mqtt:// or mqtts://"},
		{"no host", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://"}}, "no host"},
		{"TLS files without mqtts", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h", CAFile: "ca.pem"}}, "not an mqtts:// URL"},
		{"missing CA", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtts://h", CAFile: "/nonexistent/ca.pem"}}, "MQTT CA"},
		{"cert without key", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtts://h", CertFile: "c.pem"}}, "go together"},
		{"bad group", Options{Store: st, Group: "a/b", MQTT: mqttwire.Broker{URL: "mqtt://h"}}, "group"},
		{"password not shown", Options{Store: st, MQTT: mqttwire.Broker{URL: "ftp://u:hunter2@h"}}, "xxxxx"},
		{"password without a user", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h", Password: "hunter2"}}, "password without a user name"},
		{"bad mapping", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h"}, Mappings: []Mapping{{Topic: "#", Format: FormatFlat}}}, "Tributary's own topics"},
		{"duplicate mapping", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h"}, Mappings: []Mapping{z2mMapping(), z2mMapping()}}, `bridge: mapping 1 (z): name "z" already used by mappings[0]`},
		{"mapping without a prefix", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h"}, Mappings: []Mapping{renamed(z2mMapping(), "z2", "zb/+", "")}},
			"bridge: mapping 0 (z2): device_prefix: missing"},
		{"overlapping mappings", Options{Store: st, MQTT: mqttwire.Broker{URL: "mqtt://h"}, Mappings: []Mapping{z2mMapping(), renamed(z2mMapping(), "z2", "zb/+", "z2m-")}},
			`bridge: mapping 1 (z2): device ids overlap: mappings "z" and "z2" both have device_prefix "z2m-"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	if err := br.b.Run(context.Background()); err == nil {
		t.Fatal("second Run did not fail")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

// newEnvStore is a store on a Redis that is never reached.
func newEnvStore(t *testing.T) *store.Store {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { rdb.Close() })
	return store.New(rdb, store.Options{})
}

// mosquitto restarts (cleanly, with persistence): the batches queued for a
// stopped bridge survive it, and a running bridge reconnects, finds its
// session and goes on. Every reading is stored once and in order.
func TestBrokerRestart(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{Persistence: true})
	id := func(o *Options) { o.MQTT.ClientID = "bridge-durable" }
	first := startBridge(t, e, id)
	n := 0
	agent := func() func(from uint64) {
		n++ // a client id each: the earlier ones reconnect by themselves
		c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1")+"-"+strconv.Itoa(n), "", "", nil)
		return func(from uint64) {
			for i := range uint64(10) {
				publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(batch("pi-1", from+i*5, from+i*5+4)), false)
			}
		}
	}
	agent()(1)
	awaitCount(t, e.st, "pi-1", 50)

	first.stop(t)
	agent()(51) // queued at the broker for the stopped bridge
	e.mq.Restart(t)
	second := startBridge(t, e, id)
	awaitCount(t, e.st, "pi-1", 100)

	e.mq.Restart(t) // under the running bridge
	eventually(t, "the bridge reconnected", func() bool { return second.counter(t, "tributary_bridge_mqtt_up") == 1 })
	agent()(101)
	awaitCount(t, e.st, "pi-1", 150)
	checkExactlyOnceInOrder(t, e.st, "pi-1", 1, 150)
	if !strings.Contains(second.logs.String(), "mqtt connection lost") {
		t.Errorf("the bridge did not notice the restart:\n%s", second.logs.String())
	}
}

// Every metric the README lists is registered, under its name.
func TestMetricNames(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, func(o *Options) { o.Mappings = []Mapping{z2mMapping()} })
	mfs, err := br.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{
		"tributary_bridge_messages_received_total", "tributary_bridge_messages_stored_total",
		"tributary_bridge_readings_stored_total", "tributary_bridge_duplicate_readings_total",
		"tributary_bridge_dead_letters_total", "tributary_bridge_ignored_fields_total",
		"tributary_bridge_ingest_duration_seconds", "tributary_bridge_reading_latency_seconds", "tributary_bridge_redis_up", "tributary_bridge_redis_errors_total",
		"tributary_bridge_mqtt_up", "tributary_bridge_queue_messages",
	} {
		if !got[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	for _, r := range Reasons { // every reason is exported from the start, at 0
		if v := br.counter(t, "tributary_bridge_dead_letters_total", "reason", r); v != 0 {
			t.Errorf("dead letters %s = %v at start", r, v)
		}
	}
}

// Readings Redis refuses for good (stamped too far ahead, or a seq behind
// the device's dedup window) are acknowledged with their message, counted
// by reason and logged, and the rest of the message is stored.
func TestRefusedReadingsCounted(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-1"), "", "", nil)
	rs := batch("pi-1", 200001, 200003)
	rs[1].Time = time.Now().Add(24 * time.Hour)
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(rs), false)
	old := batch("pi-1", 5, 5)
	old[0].Time = rs[0].Time.Add(-time.Hour) // not newer than what is stored: a late repeat, not a restart
	publish(t, c, mqttwire.ReadingsTopic("pi-1"), encode(old), false)
	eventually(t, "two messages acknowledged", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", "readings") == 2
	})
	if got := br.counter(t, "tributary_bridge_readings_refused_total", "reason", store.RefusedFuture); got != 1 {
		t.Errorf("refused as future: %v, want 1", got)
	}
	if got := br.counter(t, "tributary_bridge_readings_refused_total", "reason", store.RefusedTooOld); got != 1 {
		t.Errorf("refused as too old: %v, want 1", got)
	}
	if got := storedSeqs(t, e.st, "pi-1"); len(got) != 2 || got[0] != 200001 || got[1] != 200003 {
		t.Errorf("stored seqs %v, want [200001 200003]", got)
	}
	if !strings.Contains(br.logs.String(), "redis refused readings for good") {
		t.Errorf("no log line of the refusal:\n%s", br.logs.String())
	}
}

// A device that can write its own Redis keys (a direct-to-Redis user) and
// also publishes over MQTT turns one of its keys into the wrong type: its
// readings are still stored, and so are every other device's behind it
// (before, the group was retried forever and the bridge stored nothing).
func TestDeviceCorruptingItsKeysDoesNotStopOthers(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	br := startBridge(t, e, nil)
	ctx := context.Background()
	for _, k := range []string{"latest_ts", "boots"} {
		key := "tributary:{pi-a}:" + k
		if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"a", "b"}}).Err(); err != nil {
			t.Fatal(err)
		}
		if k == "boots" {
			e.rdb.Del(ctx, key)
			e.rdb.Set(ctx, key, "x", 0)
		}
	}
	a := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "", "", nil)
	b := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-b"), "", "", nil)
	publish(t, a, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 1, 5)), false)
	status, err := mqttwire.EncodeStatus(mqttwire.Status{Online: true, Boot: "boot-a", FirstSeq: 1, Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, a, mqttwire.StatusTopic("pi-a"), status, true)
	publish(t, b, mqttwire.ReadingsTopic("pi-b"), encode(batch("pi-b", 1, 5)), false)
	awaitCount(t, e.st, "pi-b", 5)
	awaitCount(t, e.st, "pi-a", 5)
	eventually(t, "pi-a's boot recorded", func() bool {
		bs, err := e.st.Boots(ctx, "pi-a")
		return err == nil && len(bs) == 1
	})
	if got := br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonStoreRefused); got != 0 {
		t.Errorf("dead-lettered %v messages: the store mends what the device broke", got)
	}
}

// isPoison tells Redis refusing one device's data for good (retrying
// cannot help) from Redis failing as a whole (retried).
func TestIsPoison(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	ctx := context.Background()
	e.rdb.Set(ctx, "k", "not a number", 0)
	wrongType := e.rdb.HGet(ctx, "k", "f").Err()
	notInt := e.rdb.IncrBy(ctx, "k", 1).Err()
	script := e.rdb.Eval(ctx, `return redis.error_reply('ERR ingest: malformed arguments')`, nil).Err()
	other := e.rdb.Eval(ctx, `return redis.error_reply('BUSY busy')`, nil).Err()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("store: ingest: %w", wrongType), true},
		{fmt.Errorf("store: ingest: %w", notInt), true},
		{fmt.Errorf("store: ingest: %w", script), true},
		{fmt.Errorf("store: ingest: %w", other), false},
		{context.DeadlineExceeded, false},
		{errors.New("WRONGTYPE but not from Redis"), false},
	} {
		if tc.err == nil {
			t.Fatalf("no error from Redis for case %v", tc.want)
		}
		if got := isPoison(tc.err); got != tc.want {
			t.Errorf("isPoison(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// renamed is m under another name, topic and device prefix.
func renamed(m Mapping, name, topic, prefix string) Mapping {
	m.Name, m.Topic, m.DevicePrefix = name, topic, prefix
	return m
}
