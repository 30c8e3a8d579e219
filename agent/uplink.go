package agent

import (
	"context"
	"fmt"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Uplink takes readings off the device. The agent calls Send from one
// goroutine, with batches of one device in seq order, and retries a failed
// batch (the same readings) until it succeeds, so Send must be idempotent on
// (device, seq): storing a batch twice must store each reading once.
//
// Send blocks until the readings are stored or ctx ends. It returns how many
// of them the far end already had (0 where it cannot tell). An error
// wrapping reading.ErrInvalid means the uplink will never accept these
// readings; the agent then drops the batch instead of retrying. A
// *RefusedError means the batch is done but some readings were refused for
// good; the agent counts them as dropped.
type Uplink interface {
	Send(ctx context.Context, rs []reading.Reading) (duplicates int, err error)
}

// RefusedError is returned by Send when the far end refused some readings
// of the batch for good (store.Result.Refused: a seq behind its dedup
// window, a time too far ahead of its clock) and stored, or already had,
// the others. Sending the batch again cannot store them.
type RefusedError struct {
	Duplicates int    // readings the far end already had
	Refused    int    // readings refused
	Reason     string // why the first was (store.RefusedTooOld, ...)
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("uplink refused %d readings (first: %s)", e.Refused, e.Reason)
}

// SeqResumer is an optional ability of an Uplink: it knows the highest seq
// it has stored for a device. An agent that finds no seq lease in its state
// dir (a new SD card, a container without its volume) resumes after it, so
// that its readings are not dropped as repeats of ones stored before.
type SeqResumer interface {
	LastSeq(ctx context.Context, device string) (uint64, error)
}

// RedisUplink sends readings straight to Redis with store.Store.Ingest, which
// is idempotent on (device, seq). It borrows the store; the caller closes the
// Redis client after the agent has stopped. It is safe for concurrent use.
type RedisUplink struct {
	store *store.Store
}

// NewRedisUplink returns an uplink that ingests into s.
func NewRedisUplink(s *store.Store) *RedisUplink { return &RedisUplink{store: s} }

// Send implements Uplink.
func (u *RedisUplink) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	res, err := u.store.Ingest(ctx, rs)
	if err == nil && res.Refused > 0 {
		return res.Duplicates, &RefusedError{Duplicates: res.Duplicates, Refused: res.Refused, Reason: res.Refusals[0].Reason}
	}
	return res.Duplicates, err
}

// LastSeq implements SeqResumer.
func (u *RedisUplink) LastSeq(ctx context.Context, device string) (uint64, error) {
	return u.store.LastSeq(ctx, device)
}

// Boot implements Booter: it records the boot in Redis (store.RecordBoot).
func (u *RedisUplink) Boot(ctx context.Context, b Boot) error {
	return u.store.RecordBoot(ctx, b.Device, b.ID, b.FirstSeq, b.Time)
}
