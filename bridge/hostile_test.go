package bridge

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
)

// A hostile pack of many records whose units cannot be converted is
// dead-lettered with reason unit, the payload truncated as always, and
// an error that is bounded too: the dead-letter stream keeps up to
// DeadLetterMaxLen entries, so an error that grows with the payload (one
// sentence per record, four times the record's size) would let a device
// fill Redis with megabytes per entry.
func TestDeadLetterErrorBounded(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{})
	mp := Mapping{Name: "senml", Topic: "senml/+", Format: FormatSenML, DeviceLevel: 2, Sensor: "s",
		Fields: map[string]Field{"h": {Metric: "humidity", Unit: "%"}}}
	br := startBridge(t, e, func(o *Options) { o.Mappings = []Mapping{mp} })
	c := mqttClient(t, e.mq.URL(), "gateway", "", "", nil)
	var b strings.Builder
	b.WriteString("[")
	const n = 20000
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
	awaitCount(t, e.st, "other", 1)
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
