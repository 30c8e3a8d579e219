package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
)

// The command outbox (tributary:command_outbox): every command SendCommand
// records, relayed to MQTT by the bridges with a consumer group, so that
// each command goes out through one bridge of a group and is acknowledged
// (XACK) only once the broker has it.

// EnsureOutboxGroup creates the consumer group group on the outbox, with the
// stream if need be, starting with commands recorded within
// command.MaxLifetime (by Redis's clock). A group that exists is kept as it
// is.
func (s *Store) EnsureOutboxGroup(ctx context.Context, group string) error {
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return fmt.Errorf("store: outbox group %q: redis time: %w", group, err)
	}
	start := strconv.FormatInt(now.Add(-command.MaxLifetime).UnixMilli(), 10) + "-0"
	err = s.rdb.XGroupCreateMkStream(ctx, s.CommandOutboxKey(), group, start).Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("store: outbox group %q: %w", group, err)
	}
	return nil
}

// OutboxEntry is one command of the outbox.
type OutboxEntry struct {
	ID      string          // the stream entry id, to acknowledge
	Command command.Command // valid when Err is nil
	Err     error           // why the entry holds no valid command: acknowledge it and count it
}

// ReadOutbox returns up to count (1..MaxCommandRead) outbox entries never
// delivered to group, for consumer, waiting up to block for one (block <=
// 0: not waiting). They stay pending until AckOutbox. A blocking call holds
// its connection for up to block, whatever ctx says.
func (s *Store) ReadOutbox(ctx context.Context, group, consumer string, count int, block time.Duration) ([]OutboxEntry, error) {
	args := &redis.XReadGroupArgs{Group: group, Consumer: consumer, Streams: []string{s.CommandOutboxKey(), ">"},
		Count: int64(min(max(count, 1), MaxCommandRead)), Block: -1}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	res, err := s.rdb.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read outbox as %s/%s: %w", group, consumer, err)
	}
	var out []OutboxEntry
	for _, st := range res {
		out = append(out, outboxEntries(st.Messages)...)
	}
	return out, nil
}

// ClaimOutbox takes over, for consumer, up to count outbox entries pending
// in group for at least minIdle (their consumer died before acknowledging
// them), oldest first.
func (s *Store) ClaimOutbox(ctx context.Context, group, consumer string, minIdle time.Duration, count int) ([]OutboxEntry, error) {
	msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s.CommandOutboxKey(), Group: group, Consumer: consumer,
		MinIdle: minIdle, Start: "0-0", Count: int64(min(max(count, 1), MaxCommandRead))}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: claim outbox as %s/%s: %w", group, consumer, err)
	}
	return outboxEntries(msgs), nil
}

// AckOutbox acknowledges outbox entries delivered to group.
func (s *Store) AckOutbox(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.rdb.XAck(ctx, s.CommandOutboxKey(), group, ids...).Err(); err != nil {
		return fmt.Errorf("store: ack outbox as %s: %w", group, err)
	}
	return nil
}

func outboxEntries(msgs []redis.XMessage) []OutboxEntry {
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		e := OutboxEntry{ID: m.ID}
		raw, _ := m.Values["c"].(string)
		if c, err := command.Decode([]byte(raw)); err != nil {
			e.Err = fmt.Errorf("outbox entry %s: %w", m.ID, err)
		} else {
			e.Command = c
		}
		out = append(out, e)
	}
	return out
}
