package actuate

import (
	"reflect"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
)

// FuzzOpenLedger: any file opens without a panic, and what it yields
// encodes and decodes to itself.
func FuzzOpenLedger(f *testing.F) {
	t0 := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	rec := make([]byte, recSize)
	e := &entry{id: "c-1", actuator: "heater", value: 1, deadline: t0.Add(time.Minute), accepted: t0,
		state: command.Refused, reason: command.ReasonInterlock, detail: "fan is on", ftime: t0}
	encodeHead(rec, e)
	f.Add(append([]byte(nil), rec...))
	encodeOutcome(rec, e)
	f.Add(append(append([]byte(nil), rec...), rec[:200]...))
	f.Add([]byte("TRCM\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var l ledger
		ld := l.parse(b)
		if l.slots*recSize > len(b)+recSize || ld.damaged != len(l.keep) {
			t.Fatalf("%d slots, %d damaged, %d kept, from %d bytes", l.slots, ld.damaged, len(l.keep), len(b))
		}
		for _, e := range l.ids {
			rec := make([]byte, recSize)
			encodeHead(rec, e)
			if e.state != "" {
				encodeOutcome(rec, e)
			}
			got, ok := decodeHead(rec)
			if !ok {
				t.Fatalf("%+v does not decode", e)
			}
			decodeOutcome(rec, got)
			got.slot = e.slot
			if !reflect.DeepEqual(got, e) && !(e.value != e.value || e.fvalue != e.fvalue) {
				t.Fatalf("round trip: %+v, want %+v", got, e)
			}
		}
	})
}
