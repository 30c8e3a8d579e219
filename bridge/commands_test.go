package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/mqttwire"
)

func cmdFor(dev, id string) command.Command {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return command.Command{ID: id, Device: dev, Actuator: "heater", Value: 1, Deadline: at.Add(time.Minute), By: "op", At: at}
}

func statusOf(c command.Command, st command.State) command.Event {
	return command.Event{Status: &command.Status{ID: c.ID, Device: c.Device, Actuator: c.Actuator, State: st, Value: c.Value, Time: c.At}}
}

// edge is a real agent MQTT uplink that records the commands it is given.
type edge struct {
	up    *agent.MQTTUplink
	mu    sync.Mutex
	ids   []string
	close sync.Once
}

func (e *edge) stop() { e.close.Do(func() { e.up.Close() }) }

func (e *edge) handled() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ids...)
}

func startEdge(t *testing.T, url, dev string, as []command.Actuator) *edge {
	t.Helper()
	e := &edge{}
	subscribed := make(chan struct{}, 1)
	up, err := agent.NewMQTTUplink(agent.MQTTUplinkOptions{Broker: mqttwire.Broker{URL: url, Password: users[dev]}, Device: dev, Boot: "boot-" + dev,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, Actuators: as,
		Commands: func(c command.Command) {
			e.mu.Lock()
			e.ids = append(e.ids, c.Device+"/"+c.ID)
			e.mu.Unlock()
		},
		CommandsUp: func(up bool) {
			if up {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.up = up
	t.Cleanup(e.stop)
	select {
	case <-subscribed:
	case <-time.After(time.Minute):
		t.Fatalf("%s not subscribed to its commands within a minute", dev)
	}
	return e
}

// A command recorded with SendCommand reaches its device's agent through
// the bridge, and no other device's; one another bridge left pending is
// taken over; the agent's events reach the command log and the events
// channel; the status's actuators are recorded; events published as
// another device are dead-lettered.
func TestCommandsRoundTrip(t *testing.T) {
	e := newEnv(t, shippedBroker())
	ctx := t.Context()
	as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	a := startEdge(t, e.mq.URL(), "pi-a", as)
	b := startEdge(t, e.mq.URL(), "pi-b", nil)
	if err := a.up.Boot(ctx, agent.Boot{Device: "pi-a", ID: "boot-pi-a", FirstSeq: 1}); err != nil {
		t.Fatal(err)
	}
	// The device's events, and the commands as the cloud recorded them.
	frames := e.rdb.Subscribe(ctx, e.st.EventsChannel("pi-a"), e.st.RecordedChannel("pi-a"))
	defer frames.Close()
	for range 2 {
		if _, err := frames.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A command a dead bridge read and never acknowledged.
	if err := e.st.EnsureOutboxGroup(ctx, DefaultCommandGroup); err != nil {
		t.Fatal(err)
	}
	a0 := cmdFor("pi-a", "a0")
	if err := e.st.SendCommand(ctx, a0); err != nil {
		t.Fatal(err)
	}
	if es, err := e.st.ReadOutbox(ctx, DefaultCommandGroup, "dead-bridge", 10, 0); err != nil || len(es) != 1 {
		t.Fatalf("the dead bridge's read: %v, %v", es, err)
	}
	br := startBridge(t, e, func(o *Options) {
		asUser("tributary-bridge-1")(o)
		o.CommandClaimIdle = 200 * time.Millisecond
	})
	eventually(t, "a0 taken over and delivered", func() bool { return len(a.handled()) == 1 })

	a1, b1 := cmdFor("pi-a", "a1"), cmdFor("pi-b", "b1")
	for _, c := range []command.Command{a1, b1} {
		if err := e.st.SendCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a1 and b1 delivered", func() bool { return len(a.handled()) == 2 && len(b.handled()) == 1 })
	if got := fmt.Sprint(a.handled(), b.handled()); got != "[pi-a/a0 pi-a/a1] [pi-b/b1]" {
		t.Errorf("handled %s", got)
	}
	eventually(t, "the outbox acknowledged", func() bool {
		p, err := e.rdb.XPending(ctx, e.st.CommandOutboxKey(), DefaultCommandGroup).Result()
		return err == nil && p.Count == 0
	})

	// Events through the agent's outbox and the bridge.
	ob, err := agent.OpenEventOutbox(t.TempDir(), "pi-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ob.Run(octx, a.up.SendEvents)
	ob.Add(statusOf(a1, command.Accepted))
	ob.Add(statusOf(a1, command.Applied))
	eventually(t, "a1 applied in the log", func() bool {
		log, err := e.st.CommandLog(ctx, "pi-a", 10)
		return err == nil && len(log) == 2 && log[0].Command.ID == "a1" && log[0].State() == command.Applied
	})
	// The frames: a0, a1 as sent, then a1's two statuses.
	var got []string
	for len(got) < 4 {
		m, err := frames.ReceiveTimeout(ctx, time.Minute)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if msg, ok := m.(*redis.Message); ok {
			got = append(got, msg.Payload)
		}
	}
	if !strings.Contains(got[3], `"state":"applied"`) || !strings.Contains(got[2], `"state":"accepted"`) {
		t.Errorf("frames %q", got)
	}
	eventually(t, "the actuators recorded", func() bool {
		got, err := e.st.Actuators(ctx, "pi-a")
		return err == nil && len(got) == 1 && got[0].Name == "heater"
	})

	// pi-b forges events about pi-a on its own topic: dead-lettered. (Its
	// agent goes first: a client of the same user takes its session over.)
	b.stop()
	ev := statusOf(a0, command.Refused)
	ev.Status.Reason = command.ReasonInterlock
	forged, err := mqttwire.EncodeEvents([]command.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	c := mqttClient(t, e.mq.URL(), "pi-b", "pi-b", users["pi-b"], nil)
	publish(t, c, mqttwire.EventsTopic("pi-b"), forged, false)
	eventually(t, "the forgery dead-lettered", func() bool {
		return br.counter(t, "tributary_bridge_dead_letters_total", "reason", ReasonDeviceMismatch) == 1
	})
	if log, _ := e.st.CommandLog(ctx, "pi-a", 10); len(log) != 2 || log[1].State() != "" {
		t.Errorf("pi-a's log after the forgery: %+v", log)
	}
	if n := br.counter(t, "tributary_bridge_commands_relayed_total"); n != 3 {
		t.Errorf("commands relayed %v, want 3", n)
	}
	if n := br.counter(t, "tributary_bridge_command_events_relayed_total"); n != 2 {
		t.Errorf("events relayed %v, want 2", n)
	}
}
