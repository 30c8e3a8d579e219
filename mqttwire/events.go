package mqttwire

import (
	"encoding/json"
	"fmt"

	"github.com/tributary-iot/tributary/command"
)

// MaxEventBatch is the most command events one message on EventsTopic holds.
const MaxEventBatch = 100

// MaxEventsEncoded bounds one message on EventsTopic.
const MaxEventsEncoded = MaxEventBatch * (command.MaxEncoded + 32)

// EncodeEvents encodes 1 to MaxEventBatch events, validating each, as a
// JSON array in order: the payload of EventsTopic.
func EncodeEvents(evs []command.Event) ([]byte, error) {
	if len(evs) == 0 || len(evs) > MaxEventBatch {
		return nil, fmt.Errorf("mqttwire: %w: %d events in one message, want 1 to %d", command.ErrInvalid, len(evs), MaxEventBatch)
	}
	b := append(make([]byte, 0, 300*len(evs)), '[')
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return nil, fmt.Errorf("mqttwire: event %d: %w", i, err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = evs[i].AppendJSON(b)
	}
	return append(b, ']'), nil
}

// DecodeEvents parses and validates a message of EventsTopic: a JSON array
// of 1 to MaxEventBatch valid events, at most MaxEventsEncoded bytes.
// Errors wrap command.ErrInvalid.
func DecodeEvents(data []byte) ([]command.Event, error) {
	if len(data) > MaxEventsEncoded {
		return nil, fmt.Errorf("mqttwire: %w: %d bytes of events, limit %d", command.ErrInvalid, len(data), MaxEventsEncoded)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("mqttwire: %w: events: %v", command.ErrInvalid, err)
	}
	if len(raws) == 0 || len(raws) > MaxEventBatch {
		return nil, fmt.Errorf("mqttwire: %w: %d events in one message, want 1 to %d", command.ErrInvalid, len(raws), MaxEventBatch)
	}
	evs := make([]command.Event, len(raws))
	for i, r := range raws {
		ev, err := command.DecodeEvent(r)
		if err != nil {
			return nil, fmt.Errorf("mqttwire: event %d: %w", i, err)
		}
		evs[i] = ev
	}
	return evs, nil
}
