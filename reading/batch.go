package reading

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxBatch is the most readings one batch may hold, and MaxBatchEncoded the
// most bytes its encoding may take (MaxBatch readings of MaxEncoded bytes,
// plus brackets and commas). A batch is what an edge agent publishes as one
// MQTT message.
const (
	MaxBatch        = 1000
	MaxBatchEncoded = MaxBatch*(MaxEncoded+1) + 1
)

// AppendBatch appends the canonical encoding of rs, a JSON array of reading
// objects in the order given, to b:
//
//	[{"v":1,"device":"pi-1",...,"seq":7},{"v":1,...,"seq":8}]
//
// Like AppendJSON it does not validate.
func AppendBatch(b []byte, rs []Reading) []byte {
	b = append(b, '[')
	for i := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = rs[i].AppendJSON(b)
	}
	return append(b, ']')
}

// DecodeBatch parses and validates a batch: a JSON array of 1 to MaxBatch
// readings, each checked as strictly as Decode checks one. It rejects input
// larger than MaxBatchEncoded. An error names the index of the first bad
// reading and wraps the same error values as Decode (ErrInvalid,
// ErrTooLarge, ...), so that a caller can reject the whole batch with a
// reason.
func DecodeBatch(data []byte) ([]Reading, error) {
	if len(data) > MaxBatchEncoded {
		return nil, fmt.Errorf("reading: batch: %w: %d bytes, limit %d", ErrTooLarge, len(data), MaxBatchEncoded)
	}
	var raw []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("reading: batch: %w: not a JSON array of objects: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("reading: batch: %w: trailing data after the array", ErrInvalid)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("reading: batch: %w: empty", ErrInvalid)
	}
	if len(raw) > MaxBatch {
		return nil, fmt.Errorf("reading: batch: %w: %d readings, limit %d", ErrTooLarge, len(raw), MaxBatch)
	}
	rs := make([]Reading, len(raw))
	for i, m := range raw {
		r, err := Decode(m)
		if err != nil {
			return nil, fmt.Errorf("reading: batch: reading %d: %w", i, err)
		}
		rs[i] = r
	}
	return rs, nil
}
