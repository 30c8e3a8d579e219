package bridge

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// A hostile pack of many records whose units cannot be converted is
// dead-lettered with reason unit, the payload truncated as always, and
// an error that is bounded too: the dead-letter stream keeps up to
// DeadLetterMaxLen entries, so an error that grows with the payload (one
// sentence per record, four times the record's size) would let a device
// fill Redis with 100 KB per entry.
func TestDeadLetterErrorBounded(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	mp := Mapping{Name: "senml", Topic: "senml/+", Format: FormatSenML, DeviceLevel: 2, DevicePrefix: "senml-", Sensor: "s",
		Fields: map[string]Field{"h": {Metric: "humidity", Unit: "%"}}}
	br := startBridge(t, e, func(o *Options) { o.Mappings = []Mapping{mp} })
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	var b strings.Builder
	b.WriteString("[")
	const n = reading.MaxBatch // the most records a pack may have
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"n":"h","u":"K","v":` + strconv.Itoa(i) + `}`)
	}
	b.WriteString("]")
	publish(t, c, "senml/probe", []byte(b.String()), false)
	publish(t, c, "senml/other", []byte(`[{"n":"h","u":"%RH","v":40}]`), false)
	eventually(t, "the pack dead-lettered", func() bool {
		return br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonUnit) == 1
	})
	awaitCount(t, e.st, "senml-other", 1)
	dl := deadLetters(t, e.rdb)
	if len(dl) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(dl))
	}
	msg := dl[0]["error"].(string)
	if !strings.Contains(msg, `value in "K"`) || !strings.Contains(msg, "more") {
		t.Errorf("error does not say why, or how many more: %.300s", msg)
	}
	if len(msg) > maxDeadLetterError {
		t.Errorf("error of %d bytes, want at most %d", len(msg), maxDeadLetterError)
	}
	if dl[0]["payload_bytes"] != strconv.Itoa(b.Len()) || !strings.HasPrefix(b.String(), dl[0]["payload"].(string)) {
		t.Errorf("payload not kept: %v bytes", dl[0]["payload_bytes"])
	}
}

// A SenML pack may hold at most reading.MaxBatch records, as a native
// batch may hold that many readings: with a base name, a record is 8
// bytes ({"v":1}), so a 1 MB pack made 128,000 readings, took the bridge
// about 2 s and 200 MB of allocations, and held every other device's
// messages behind it. A larger pack is a dead letter (too_large) saying
// so; the device's next pack, and other devices', are stored.
func TestSenMLPackTooLarge(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	mp := Mapping{Name: "senml", Topic: "senml/+", Format: FormatSenML, DeviceLevel: 2, DevicePrefix: "senml-", Sensor: "s",
		Fields: map[string]Field{"temp": {Metric: "temperature", Unit: "Cel"}}}
	br := startBridge(t, e, func(o *Options) { o.Mappings = []Mapping{mp} })
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	pack := func(n int) []byte {
		return []byte(`[{"bn":"temp","v":1}` + strings.Repeat(`,{"v":1}`, n-1) + `]`)
	}
	big := pack(reading.MaxBatch + 1)
	publish(t, c, "senml/hostile", big, false)
	publish(t, c, "senml/hostile", pack(reading.MaxBatch), false)
	publish(t, c, "senml/victim", pack(1), false)
	awaitCount(t, e.st, "senml-victim", 1)
	awaitCount(t, e.st, "senml-hostile", reading.MaxBatch)
	eventually(t, "the large pack dead-lettered", func() bool {
		return br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonTooLarge) == 1
	})
	dl := deadLetters(t, e.rdb)
	if len(dl) != 1 {
		t.Fatalf("dead letters: %v", dl)
	}
	if msg := dl[0]["error"].(string); !strings.Contains(msg, "1001 records, limit 1000") {
		t.Errorf("error %q does not say why", msg)
	}
	if dl[0]["payload_bytes"] != strconv.Itoa(len(big)) || !strings.HasPrefix(string(big), dl[0]["payload"].(string)) {
		t.Errorf("payload not kept: %v bytes", dl[0]["payload_bytes"])
	}
}

// The window ahead of arrival in which a mapped message's times are kept
// is no wider than the store's MaxFuture (the cloud's --max-future, as
// published): a reading 5 minutes ahead under a MaxFuture of 1 minute is
// restamped, not kept for the store to refuse (acknowledged, counted in
// readings_refused_total{reason="future"}, no dead letter: lost).
func TestMappedTimesWithinStoreMaxFuture(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	st := store.New(e.rdb, store.Options{MaxFuture: time.Minute})
	mp := Mapping{Name: "z2m", Topic: "zigbee2mqtt/+", Format: FormatFlat, DeviceLevel: 2, DevicePrefix: "z2m-", Sensor: "s", TimeField: "last_seen",
		Fields: map[string]Field{"temperature": {Metric: "temperature", Unit: "Cel"}}}
	br := startBridge(t, e, func(o *Options) { o.Store, o.Mappings = st, []Mapping{mp} })
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	ahead := time.Now().Add(5 * time.Minute).UnixMilli()
	publish(t, c, "zigbee2mqtt/lamp", []byte(`{"temperature":21,"last_seen":`+strconv.FormatInt(ahead, 10)+`}`), false)
	eventually(t, "the message handled", func() bool {
		return br.counter(t, "tributary_bridge_messages_stored_total", "kind", kindMapped) == 1
	})
	if n := br.counter(t, "tributary_bridge_readings_refused_total", "reason", store.RefusedFuture); n != 0 {
		t.Errorf("%v readings refused as future", n)
	}
	if n := br.counter(t, "tributary_bridge_restamped_readings_total", "mapping", "z2m"); n != 1 {
		t.Errorf("%v readings restamped, want 1", n)
	}
	awaitCount(t, st, "z2m-lamp", 1)
}
