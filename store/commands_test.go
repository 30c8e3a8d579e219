package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

func cmdAt(dev, id string, at time.Time) command.Command {
	at = at.UTC().Truncate(time.Millisecond)
	return command.Command{ID: id, Device: dev, Actuator: "heater", Value: 1, Deadline: at.Add(time.Minute), By: "alice", At: at}
}

func status(c command.Command, st command.State, at time.Time) command.Event {
	s := command.Status{ID: c.ID, Device: c.Device, Actuator: c.Actuator, State: st, Value: c.Value, Time: at.UTC().Truncate(time.Millisecond)}
	if st == command.Refused {
		s.Reason = command.ReasonInterlock
	}
	return command.Event{Status: &s}
}

// Commands sent to a device reach its stream in order, and only its own;
// the outbox gets every command; malformed entries are returned with an
// error and skipped past, never fatal.
func TestSendAndReadCommands(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		now := time.Now()
		for i := range 3 {
			if err := s.SendCommand(ctx, cmdAt("dev-a", fmt.Sprintf("a%d", i), now)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SendCommand(ctx, cmdAt("dev-b", "b0", now)); err != nil {
			t.Fatal(err)
		}
		bad := cmdAt("dev-a", "bad id", now)
		if err := s.SendCommand(ctx, bad); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("an invalid command: %v, want ErrInvalid", err)
		}
		// Entries no cloud writes: garbage, a command of another device.
		other := cmdAt("dev-b", "x", now)
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandsKey("dev-a"), Values: []any{"c", "not json"}})
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandsKey("dev-a"), Values: []any{"c", string(other.AppendJSON(nil))}})
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandsKey("dev-a"), Values: []any{"other", "1"}})
		if err := s.SendCommand(ctx, cmdAt("dev-a", "a3", now)); err != nil {
			t.Fatal(err)
		}

		es, err := s.ReadCommands(ctx, "dev-a", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		bad3 := 0
		for _, e := range es {
			if e.Err != nil {
				bad3++
				if !errors.Is(e.Err, command.ErrInvalid) {
					t.Errorf("entry %s: %v, want ErrInvalid", e.ID, e.Err)
				}
				continue
			}
			ids = append(ids, e.Command.ID)
		}
		if strings.Join(ids, ",") != "a0,a1,a2,a3" || bad3 != 3 {
			t.Errorf("read %v and %d malformed, want a0..a3 and 3", ids, bad3)
		}
		last := es[len(es)-1].ID
		if more, err := s.ReadCommands(ctx, "dev-a", last, 0); err != nil || len(more) != 0 {
			t.Errorf("after the last: %v, %v", more, err)
		}
		if es, err := s.ReadCommands(ctx, "dev-a", es[1].ID, 0); err != nil || len(es) != len(ids)+bad3-2 {
			t.Errorf("after the second: %d entries, %v", len(es), err)
		}
		if _, err := s.ReadCommands(ctx, "dev-a", "nonsense", 0); err == nil {
			t.Error("a malformed position was accepted")
		}
		bs, err := s.ReadCommands(ctx, "dev-b", "", 0)
		if err != nil || len(bs) != 1 || bs[0].Command.ID != "b0" {
			t.Errorf("dev-b read %+v, %v", bs, err)
		}
		if n, err := rdb.XLen(ctx, s.CommandOutboxKey()).Result(); err != nil || n != 5 {
			t.Errorf("outbox holds %d (%v), want 5", n, err)
		}
	})
}

// Commands older than command.MaxLifetime are not read from an empty
// position.
func TestReadCommandsStartsWithinLifetime(t *testing.T) {
	ctx := t.Context()
	rdb := shared.Client(t)
	s := store.New(rdb, store.Options{Prefix: fmt.Sprintf("t%d_life", runs.Add(1))})
	old := time.Now().Add(-command.MaxLifetime - time.Hour)
	c := cmdAt("dev-a", "old", old)
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandsKey("dev-a"), ID: fmt.Sprintf("%d-0", old.UnixMilli()), Values: []any{"c", string(c.AppendJSON(nil))}})
	if err := s.SendCommand(ctx, cmdAt("dev-a", "new", time.Now())); err != nil {
		t.Fatal(err)
	}
	es, err := s.ReadCommands(ctx, "dev-a", "", 0)
	if err != nil || len(es) != 1 || es[0].Command.ID != "new" {
		t.Errorf("read %+v, %v; want only the new command", es, err)
	}
}

// A blocking read returns as soon as a command is sent.
func TestReadCommandsBlocks(t *testing.T) {
	ctx := t.Context()
	prefix := fmt.Sprintf("t%d_block", runs.Add(1))
	s := store.New(shared.Client(t), store.Options{Prefix: prefix})
	es, err := s.ReadCommands(ctx, "dev-a", "", 0)
	if err != nil || len(es) != 0 {
		t.Fatalf("%v, %v", es, err)
	}
	type res struct {
		es  []store.CommandEntry
		err error
	}
	got := make(chan res, 1)
	go func() {
		reader := store.New(shared.Client(t), store.Options{Prefix: prefix})
		es, err := reader.ReadCommands(ctx, "dev-a", "0-0", time.Minute)
		got <- res{es, err}
	}()
	// The reader may block before or after the command is sent: either
	// way it gets it.
	if err := s.SendCommand(ctx, cmdAt("dev-a", "c1", time.Now())); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.es) != 1 || r.es[0].Command.ID != "c1" {
			t.Errorf("blocking read: %+v, %v", r.es, r.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the blocking read did not return within a minute")
	}
}

// Reported events reach the events channel as frames, in order, and the
// command log, merged with the cloud's commands and shown once each.
func TestReportEventsAndCommandLog(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		ps := rdb.Subscribe(ctx, s.EventsChannel("dev-a"), s.RecordedChannel("dev-a"))
		defer ps.Close()
		for range 2 { // the two subscriptions' confirmations
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now().Add(-time.Minute)
		c1, c2 := cmdAt("dev-a", "c1", t0), cmdAt("dev-a", "c2", t0.Add(time.Second))
		local := cmdAt("dev-a", "l1", t0.Add(2*time.Second))
		local.By = "tech"
		for _, c := range []command.Command{c1, c2} {
			if err := s.SendCommand(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		evs := []command.Event{
			status(c1, command.Accepted, t0), status(c1, command.Applied, t0),
			{Command: &local}, status(local, command.Accepted, t0), status(local, command.Refused, t0),
			status(c1, command.Applied, t0), // a repeat (a batch sent again)
			status(cmdAt("dev-a", "unknown", t0), command.Accepted, t0),
		}
		if err := s.ReportEvents(ctx, "dev-a", evs); err != nil {
			t.Fatal(err)
		}
		// Junk the device could write to its own stream.
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandEventsKey("dev-a"), Values: []any{"e", "{"}})
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.CommandEventsKey("dev-a"), Values: []any{"e", strings.Repeat("x", 5000)}})

		// Frames: the two commands sent, then each event, in order.
		var want []string
		for _, c := range []command.Command{c1, c2} {
			want = append(want, string((&command.Event{Command: &c}).AppendFrame(nil)))
		}
		for i := range evs {
			want = append(want, string(evs[i].AppendFrame(nil)))
		}
		for i, w := range want {
			m, err := ps.ReceiveTimeout(ctx, time.Minute)
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			msg, ok := m.(*redis.Message)
			if !ok || msg.Payload != w {
				t.Fatalf("frame %d: %v, want %s", i, m, w)
			}
			if f, err := reading.DecodeFrame([]byte(msg.Payload)); err != nil || f.Type != reading.FrameCommand {
				t.Errorf("frame %d does not decode as a command frame: %+v, %v", i, f, err)
			}
		}

		log, err := s.CommandLog(ctx, "dev-a", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range log {
			var sts []string
			for _, st := range r.Statuses {
				sts = append(sts, string(st.State))
			}
			got = append(got, fmt.Sprintf("%s local=%v by=%s [%s]", r.Command.ID, r.Local, r.Command.By, strings.Join(sts, " ")))
		}
		wantLog := []string{"l1 local=true by=tech [accepted refused]", "c2 local=false by=alice []", "c1 local=false by=alice [accepted applied]"}
		if strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
			t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
		}
		if log, err := s.CommandLog(ctx, "dev-a", 2); err != nil || len(log) != 2 || log[0].Command.ID != "l1" {
			t.Errorf("log of 2: %+v, %v", log, err)
		}
		if log, err := s.CommandLog(ctx, "dev-none", 0); err != nil || len(log) != 0 {
			t.Errorf("log of a device without commands: %+v, %v", log, err)
		}
	})
}

// ReportEvents refuses events about another device or invalid ones, and
// stores nothing of such a batch; it splits long batches.
func TestReportEventsChecks(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		t0 := time.Now()
		a, b := cmdAt("dev-a", "c1", t0), cmdAt("dev-b", "c1", t0)
		if err := s.ReportEvents(ctx, "dev-a", []command.Event{status(a, command.Accepted, t0), status(b, command.Accepted, t0)}); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("an event of another device: %v, want ErrInvalid", err)
		}
		if err := s.ReportEvents(ctx, "dev-a", []command.Event{{}}); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("an empty event: %v, want ErrInvalid", err)
		}
		if n, _ := rdb.Exists(ctx, s.CommandEventsKey("dev-a")).Result(); n != 0 {
			t.Error("a refused batch wrote events")
		}
		var many []command.Event
		for i := range 250 {
			many = append(many, status(cmdAt("dev-a", fmt.Sprintf("m%d", i), t0), command.Accepted, t0))
		}
		if err := s.ReportEvents(ctx, "dev-a", many); err != nil {
			t.Fatal(err)
		}
		if n, err := rdb.XLen(ctx, s.CommandEventsKey("dev-a")).Result(); err != nil || n != 250 {
			t.Errorf("%d events stored (%v), want 250", n, err)
		}
		// A key of another type, made by the device's raw writes, is replaced.
		rdb.Set(ctx, s.CommandEventsKey("dev-c"), "x", 0)
		if err := s.ReportEvents(ctx, "dev-c", []command.Event{status(cmdAt("dev-c", "c", t0), command.Accepted, t0)}); err != nil {
			t.Errorf("over a key of another type: %v", err)
		}
	})
}

// The events script checks its own arguments: a device may call it.
func TestEventsScriptBounds(t *testing.T) {
	ctx := t.Context()
	rdb := shared.Client(t)
	s := store.New(rdb, store.Options{Prefix: fmt.Sprintf("t%d_evbounds", runs.Add(1))})
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	args := []any{s.EventsChannel("d"), 10, 101}
	for range 101 {
		args = append(args, "{}", "{}")
	}
	err := rdb.EvalSha(ctx, store.EventsScriptSHA(), []string{s.CommandEventsKey("d")}, args...).Err()
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("101 events: %v, want a refusal", err)
	}
	err = rdb.EvalSha(ctx, store.EventsScriptSHA(), []string{s.CommandEventsKey("d")}, s.EventsChannel("d"), 10, 1, strings.Repeat("x", 2000), "{}").Err()
	if err == nil {
		t.Error("a 2000-byte event was accepted")
	}
}

// Actuators round-trip; a missing list is empty; what a device could write
// raw is refused with an error, read only to a bound.
func TestActuators(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		if as, err := s.Actuators(ctx, "dev-a"); err != nil || as == nil || len(as) != 0 {
			t.Errorf("none announced: %#v, %v", as, err)
		}
		as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}, {Name: "fan", Kind: command.KindLevel, Max: 100, Safe: "0"}}
		if err := s.SetActuators(ctx, "dev-a", as); err != nil {
			t.Fatal(err)
		}
		got, err := s.Actuators(ctx, "dev-a")
		if err != nil || len(got) != 2 || got[1].Name != "fan" || got[1].Max != 100 {
			t.Errorf("got %+v, %v", got, err)
		}
		if err := s.SetActuators(ctx, "dev-a", []command.Actuator{{Name: "x", Kind: "dial"}}); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("an invalid actuator: %v", err)
		}
		rdb.Set(ctx, s.ActuatorsKey("dev-b"), strings.Repeat(" ", store.MaxActuatorsBytes+10), 0)
		if _, err := s.Actuators(ctx, "dev-b"); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("an oversized list: %v", err)
		}
		rdb.HSet(ctx, s.ActuatorsKey("dev-c"), "a", "b")
		if _, err := s.Actuators(ctx, "dev-c"); !errors.Is(err, command.ErrInvalid) {
			t.Errorf("a key of another type: %v", err)
		}
	})
}

// A device says when a local command was given, but not later than Redis
// took it: a command dated in the future would float above every command
// the cloud recorded and push them out of the log's first page.
func TestLocalCommandsAreNotDatedAfterTheirEntry(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := t.Context()
		s := store.New(rdb, store.Options{Prefix: prefix})
		real := cmdAt("dev-a", "real-1", time.Now().Add(-time.Second))
		if err := s.SendCommand(ctx, real); err != nil {
			t.Fatal(err)
		}
		future := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		var evs []command.Event
		for i := range 60 {
			c := cmdAt("dev-a", fmt.Sprintf("forged-%d", i), future.Add(-time.Hour))
			c.Deadline = c.At.Add(time.Minute)
			evs = append(evs, command.Event{Command: &c})
		}
		if err := s.ReportEvents(ctx, "dev-a", evs); err != nil {
			t.Fatal(err)
		}
		log, err := s.CommandLog(ctx, "dev-a", 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range log {
			if r.Command.At.After(time.Now().Add(time.Minute)) {
				t.Fatalf("record %s dated %v, after Redis took it", r.Command.ID, r.Command.At)
			}
			found = found || r.Command.ID == "real-1"
		}
		if !found || len(log) != 61 {
			t.Fatalf("%d records, real-1 among them: %v", len(log), found)
		}
	})
}
