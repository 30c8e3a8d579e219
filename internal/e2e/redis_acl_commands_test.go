package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// Commands to actuators under the Redis users of deploy/redis: the cloud
// sends and reads the log, a device reads only its own commands and reports
// only its own events, the bridge relays the outbox and writes any device's
// events.

func aclCommand(dev, id string) command.Command {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return command.Command{ID: id, Device: dev, Actuator: "heater", Value: 1, Deadline: at.Add(time.Minute), By: "op", At: at}
}

func aclStatus(c command.Command, st command.State) command.Event {
	return command.Event{Status: &command.Status{ID: c.ID, Device: c.Device, Actuator: c.Actuator, State: st, Value: c.Value, Time: c.At}}
}

// commandProbes are what a device (attacker) must not do with commands.
var commandProbes = []struct {
	name string
	do   func(ctx context.Context, c *redis.Client, st *store.Store, attacker, victim string) error
}{
	{"XADD to its own command stream", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: st.CommandsKey(a), Values: []any{"c", "{}"}}).Err()
	}},
	{"SendCommand to itself", func(ctx context.Context, _ *redis.Client, st *store.Store, a, _ string) error {
		return st.SendCommand(ctx, aclCommand(a, "self"))
	}},
	{"ZREM an id in use of its own (to reuse it)", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.ZRem(ctx, st.CommandIDsKey(a), "c1").Err()
	}},
	{"DEL its own ids in use", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.Del(ctx, st.CommandIDsKey(a)).Err()
	}},
	{"ZRANGE the victim's ids in use", func(ctx context.Context, c *redis.Client, st *store.Store, _, v string) error {
		return c.ZRange(ctx, st.CommandIDsKey(v), 0, -1).Err()
	}},
	{"DEL its own command stream", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.Del(ctx, st.CommandsKey(a)).Err()
	}},
	{"XREAD the victim's commands", func(ctx context.Context, _ *redis.Client, st *store.Store, _, v string) error {
		_, err := st.ReadCommands(ctx, v, "0-0", 0)
		return err
	}},
	{"XREVRANGE the victim's commands", func(ctx context.Context, c *redis.Client, st *store.Store, _, v string) error {
		return c.XRevRange(ctx, st.CommandsKey(v), "+", "-").Err()
	}},
	{"ReportEvents as the victim", func(ctx context.Context, _ *redis.Client, st *store.Store, _, v string) error {
		return st.ReportEvents(ctx, v, []command.Event{aclStatus(aclCommand(v, "forged"), command.Applied)})
	}},
	{"the events script on the victim's stream, its own channel", func(ctx context.Context, c *redis.Client, st *store.Store, a, v string) error {
		return c.EvalSha(ctx, store.EventsScriptSHA(), []string{st.CommandEventsKey(v)}, st.EventsChannel(a), 10, 0).Err()
	}},
	{"the events script on its own stream, the victim's channel", func(ctx context.Context, c *redis.Client, st *store.Store, a, v string) error {
		return c.EvalSha(ctx, store.EventsScriptSHA(), []string{st.CommandEventsKey(a)}, st.EventsChannel(v), 10, 1, "{}", "{}").Err()
	}},
	{"PUBLISH on the victim's events channel", func(ctx context.Context, c *redis.Client, st *store.Store, _, v string) error {
		return c.Publish(ctx, st.EventsChannel(v), "{}").Err()
	}},
	{"PUBLISH on its own recorded commands channel (the cloud's word)", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.Publish(ctx, st.RecordedChannel(a), "{}").Err()
	}},
	{"the events script on its own stream, its recorded commands channel", func(ctx context.Context, c *redis.Client, st *store.Store, a, _ string) error {
		return c.EvalSha(ctx, store.EventsScriptSHA(), []string{st.CommandEventsKey(a)}, st.RecordedChannel(a), 10, 1, "{}", "{}").Err()
	}},
	{"SetActuators of the victim", func(ctx context.Context, _ *redis.Client, st *store.Store, _, v string) error {
		return st.SetActuators(ctx, v, nil)
	}},
	{"XADD to the outbox", func(ctx context.Context, c *redis.Client, st *store.Store, _, _ string) error {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: st.CommandOutboxKey(), Values: []any{"c", "{}"}}).Err()
	}},
	{"XRANGE the outbox (every device's commands)", func(ctx context.Context, c *redis.Client, st *store.Store, _, _ string) error {
		return c.XRange(ctx, st.CommandOutboxKey(), "-", "+").Err()
	}},
	{"XREADGROUP the outbox", func(ctx context.Context, _ *redis.Client, st *store.Store, _, _ string) error {
		_, err := st.ReadOutbox(ctx, "bridges", "x", 10, 0)
		return err
	}},
	{"PSUBSCRIBE to every device's events", func(ctx context.Context, c *redis.Client, st *store.Store, _, _ string) error {
		return subscribeErr(ctx, c.PSubscribe(ctx, st.EventsPattern()))
	}},
}

func TestRedisACLCommands(t *testing.T) {
	t.Parallel()
	const dev, victim = "acl-cmd-a", "acl-cmd-b"
	r := newACLRig(t, dev, victim)
	ctx := t.Context()
	cloud := store.New(r.client(t, aclCloud), store.Options{})
	if err := cloud.EnsureOutboxGroup(ctx, "bridges"); err != nil {
		t.Fatalf("the cloud's user creates the outbox group: %v", err)
	}
	evs := r.client(t, aclCloud).PSubscribe(ctx, cloud.EventsPattern())
	defer evs.Close()
	if _, err := evs.Receive(ctx); err != nil {
		t.Fatalf("the cloud's PSUBSCRIBE to the events: %v", err)
	}
	c1, cv := aclCommand(dev, "c1"), aclCommand(victim, "cv")
	for _, c := range []command.Command{c1, cv} {
		if err := cloud.SendCommand(ctx, c); err != nil {
			t.Fatalf("the cloud's SendCommand: %v", err)
		}
	}
	reuse := c1
	reuse.Value = 0
	if err := cloud.SendCommand(ctx, reuse); !errors.Is(err, store.ErrCommandIDUsed) {
		t.Errorf("the cloud's SendCommand reusing id c1: %v, want ErrCommandIDUsed", err)
	}

	// The device: its own commands (blocking too), events, actuators.
	dc := r.client(t, dev)
	ds := store.New(dc, store.Options{})
	es, err := ds.ReadCommands(ctx, dev, "", 0)
	if err != nil || len(es) != 1 || es[0].Command.ID != "c1" {
		t.Fatalf("the device reads its commands: %+v, %v", es, err)
	}
	if more, err := ds.ReadCommands(ctx, dev, es[0].ID, 10*time.Millisecond); err != nil || len(more) != 0 {
		t.Errorf("a blocking read with nothing new: %+v, %v", more, err)
	}
	if err := ds.ReportEvents(ctx, dev, []command.Event{aclStatus(c1, command.Accepted), aclStatus(c1, command.Applied)}); err != nil {
		t.Errorf("the device reports its events: %v", err)
	}
	as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	if err := ds.SetActuators(ctx, dev, as); err != nil {
		t.Errorf("the device announces its actuators: %v", err)
	}

	// The cloud sees them.
	frames := 0
	for frames < 4 { // c1, cv, and the device's two statuses
		m, err := evs.ReceiveTimeout(ctx, time.Minute)
		if err != nil {
			t.Fatalf("after %d frames: %v", frames, err)
		}
		if _, ok := m.(*redis.Message); ok {
			frames++
		}
	}
	log, err := cloud.CommandLog(ctx, dev, 10)
	if err != nil || len(log) != 1 || log[0].State() != command.Applied {
		t.Errorf("the cloud's command log: %+v, %v", log, err)
	}
	if got, err := cloud.Actuators(ctx, dev); err != nil || len(got) != 1 {
		t.Errorf("the cloud reads the actuators: %+v, %v", got, err)
	}

	// The bridge: the outbox by consumer group, any device's events and
	// actuators.
	bs := store.New(r.client(t, aclBridge), store.Options{})
	if err := bs.EnsureOutboxGroup(ctx, "bridges2"); err != nil {
		t.Errorf("the bridge's user creates a group: %v", err)
	}
	out, err := bs.ReadOutbox(ctx, "bridges", "b1", 10, time.Second)
	if err != nil || len(out) != 2 {
		t.Fatalf("the bridge reads the outbox: %+v, %v", out, err)
	}
	if err := bs.AckOutbox(ctx, "bridges", out[0].ID); err != nil {
		t.Errorf("XACK: %v", err)
	}
	if cl, err := bs.ClaimOutbox(ctx, "bridges", "b2", 0, 10); err != nil || len(cl) != 1 {
		t.Errorf("XAUTOCLAIM: %+v, %v", cl, err)
	}
	if err := bs.ReportEvents(ctx, victim, []command.Event{aclStatus(cv, command.Accepted)}); err != nil {
		t.Errorf("the bridge reports a device's events: %v", err)
	}
	if err := bs.SetActuators(ctx, victim, as); err != nil {
		t.Errorf("the bridge writes a device's actuators: %v", err)
	}
	bc := r.client(t, aclBridge)
	if err := bc.XRange(ctx, bs.CommandOutboxKey(), "-", "+").Err(); !refused(err) {
		t.Errorf("the bridge's XRANGE of the outbox: %v, want refused", err)
	}

	// What a device must not do.
	before, _ := r.rd.Client(t).XLen(ctx, ds.CommandsKey(dev)).Result()
	for _, p := range commandProbes {
		if err := p.do(ctx, dc, ds, dev, victim); !refused(err) {
			t.Errorf("%s as %s: not refused by the ACL (err %v)", p.name, dev, err)
		}
	}
	if after, _ := r.rd.Client(t).XLen(ctx, ds.CommandsKey(dev)).Result(); after != before {
		t.Errorf("the device's command stream went from %d to %d entries", before, after)
	}
	if log, _ := cloud.CommandLog(ctx, victim, 10); len(log) != 1 || log[0].State() != command.Accepted {
		t.Errorf("the victim's log changed: %+v", log)
	}
}

// Against a Redis without ACLs every command probe succeeds: they test the
// ACL, not a typo.
func TestRedisACLCommandProbesOnOpenRedis(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t, redistest.Options{})
	ctx := t.Context()
	c := rd.Client(t)
	st := store.New(c, store.Options{})
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureOutboxGroup(ctx, "bridges"); err != nil {
		t.Fatal(err)
	}
	for _, p := range commandProbes {
		if err := p.do(ctx, c, st, "acl-cmd-a", "acl-cmd-b"); err != nil && !errors.Is(err, redis.Nil) {
			t.Errorf("%s on an open Redis: %v; want it to succeed", p.name, err)
		}
	}
}

// The agent's Redis command path under the device's ACL user: its command
// source reads (blocking) and announces the actuators, its event outbox
// reports; the cloud sees the command applied.
func TestRedisACLAgentCommandPath(t *testing.T) {
	t.Parallel()
	const dev = "acl-cmd-agent"
	r := newACLRig(t, dev)
	ctx := t.Context()
	cloud := store.New(r.client(t, aclCloud), store.Options{})
	got := make(chan command.Command, 10)
	ups := make(chan bool, 100)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	go func() {
		done <- agent.RunRedisCommands(sctx, agent.RedisCommandsOptions{Client: r.client(t, dev), Device: dev, StateDir: t.TempDir(),
			Handle: func(c command.Command) { got <- c }, Actuators: as, Block: time.Second,
			Uplink: func(up bool) {
				select {
				case ups <- up:
				default:
				}
			}})
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case up := <-ups:
		if !up {
			t.Fatal("the command source cannot read as the device")
		}
	case <-time.After(time.Minute):
		t.Fatal("no uplink state within a minute")
	}
	c := aclCommand(dev, "c1")
	if err := cloud.SendCommand(ctx, c); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g.ID != "c1" {
			t.Errorf("handled %+v", g)
		}
	case <-time.After(time.Minute):
		t.Fatal("the command did not arrive within a minute")
	}
	ob, err := agent.OpenEventOutbox(t.TempDir(), dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	go ob.Run(sctx, agent.RedisEventSender(store.New(r.client(t, dev), store.Options{}), dev))
	ob.Add(aclStatus(c, command.Accepted))
	ob.Add(aclStatus(c, command.Applied))
	eventually(t, "the command applied in the cloud's log", time.Minute, func() bool {
		log, err := cloud.CommandLog(ctx, dev, 10)
		return err == nil && len(log) == 1 && log[0].State() == command.Applied
	})
	if a, err := cloud.Actuators(ctx, dev); err != nil || len(a) != 1 {
		t.Errorf("actuators: %+v, %v", a, err)
	}
}
