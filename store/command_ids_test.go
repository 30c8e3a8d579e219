package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/store"
)

// An id names one command of a device: a second command under an id in
// use (its deadline not passed) is refused with ErrCommandIDUsed and
// writes nothing, so the audit never shows it as the first one's outcome.
// Another device may use the id; once the deadline has passed, so may the
// device again.
func TestSendCommandRefusesUsedID(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		now := time.Now()
		first := cmdAt("dev-b", "dup-2", now)
		first.Deadline = first.At.Add(time.Hour)
		if err := s.SendCommand(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := first
		second.Value = 0
		err := s.SendCommand(ctx, second)
		if !errors.Is(err, store.ErrCommandIDUsed) {
			t.Fatalf("a second command under id dup-2: %v, want ErrCommandIDUsed", err)
		}
		if err := s.SendCommand(ctx, first); !errors.Is(err, store.ErrCommandIDUsed) {
			t.Errorf("the same command again: %v, want ErrCommandIDUsed", err)
		}
		for key, want := range map[string]int64{s.CommandsKey("dev-b"): 1, s.CommandOutboxKey(): 1} {
			if n, err := rdb.XLen(ctx, key).Result(); err != nil || n != want {
				t.Errorf("%s: %d entries, %v; want %d", key, n, err, want)
			}
		}
		log, err := s.CommandLog(ctx, "dev-b", 10)
		if err != nil || len(log) != 1 || log[0].Command.Value != 1 {
			t.Errorf("command log %+v, %v; want the first command only", log, err)
		}
		if ttl, err := rdb.TTL(ctx, s.CommandIDsKey("dev-b")).Result(); err != nil || ttl <= 0 || ttl > time.Hour+time.Minute {
			t.Errorf("ids key TTL %v, %v; want about an hour (the latest deadline)", ttl, err)
		}

		if err := s.SendCommand(ctx, cmdAt("dev-c", "dup-2", now)); err != nil {
			t.Errorf("another device's command under the id: %v", err)
		}
		// A command whose deadline has passed frees its id.
		past := cmdAt("dev-b", "old-1", now.Add(-2*time.Hour))
		if err := s.SendCommand(ctx, past); err != nil {
			t.Fatal(err)
		}
		again := cmdAt("dev-b", "old-1", now)
		if err := s.SendCommand(ctx, again); err != nil {
			t.Errorf("an id whose command's deadline passed, used again: %v", err)
		}
		if n, err := rdb.ZCard(ctx, s.CommandIDsKey("dev-b")).Result(); err != nil || n != 2 {
			t.Errorf("ids in use: %d, %v; want 2 (dup-2, old-1)", n, err)
		}
		if err := s.SendCommand(ctx, again); !errors.Is(err, store.ErrCommandIDUsed) {
			t.Errorf("old-1 reused once more: %v, want ErrCommandIDUsed", err)
		}
	})
}
