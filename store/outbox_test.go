package store_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/store"
)

// The outbox delivers each command to one consumer of a group; an entry
// not acknowledged is claimed by another consumer; garbage is returned
// with an error.
func TestOutbox(t *testing.T) {
	backends(t, testOutbox)
}

func testOutbox(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := t.Context()
	s := store.New(rdb, store.Options{Prefix: prefix})
	for range 2 {
		if err := s.EnsureOutboxGroup(ctx, "bridges"); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := s.SendCommand(ctx, cmdAt("dev-a", "c1", now)); err != nil {
		t.Fatal(err)
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandOutboxKey(), Values: []any{"c", "junk"}})
	if err := s.SendCommand(ctx, cmdAt("dev-b", "c2", now)); err != nil {
		t.Fatal(err)
	}
	es, err := s.ReadOutbox(ctx, "bridges", "b1", 10, time.Minute)
	if err != nil || len(es) != 3 || es[0].Command.ID != "c1" || es[1].Err == nil || es[2].Command.Device != "dev-b" {
		t.Fatalf("read %+v, %v", es, err)
	}
	if more, err := s.ReadOutbox(ctx, "bridges", "b2", 10, 0); err != nil || len(more) != 0 {
		t.Errorf("another consumer read %+v, %v: delivered twice", more, err)
	}
	if err := s.AckOutbox(ctx, "bridges", es[0].ID, es[1].ID); err != nil {
		t.Fatal(err)
	}
	// c2 was never acknowledged: b1 died; b2 claims it.
	claimed, err := s.ClaimOutbox(ctx, "bridges", "b2", 0, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Command.ID != "c2" {
		t.Errorf("claimed %+v, %v", claimed, err)
	}
	if claimed, err := s.ClaimOutbox(ctx, "bridges", "b3", time.Hour, 10); err != nil || len(claimed) != 0 {
		t.Errorf("claimed a fresh entry: %+v, %v", claimed, err)
	}
}
