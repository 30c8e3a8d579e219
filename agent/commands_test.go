package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

func testCommand(dev, id string) command.Command {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return command.Command{ID: id, Device: dev, Actuator: "heater", Value: 1, Deadline: at.Add(time.Minute), By: "op", At: at}
}

func testStatus(c command.Command, st command.State) command.Event {
	return command.Event{Status: &command.Status{ID: c.ID, Device: c.Device, Actuator: c.Actuator, State: st, Value: c.Value, Time: c.At}}
}

// got collects handled commands.
type got struct {
	mu  sync.Mutex
	ids []string
	ch  chan struct{}
}

func newGot() *got { return &got{ch: make(chan struct{}, 100)} }

func (g *got) handle(c command.Command) {
	g.mu.Lock()
	g.ids = append(g.ids, c.Device+"/"+c.ID)
	g.mu.Unlock()
	g.ch <- struct{}{}
}

func (g *got) await(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		g.mu.Lock()
		ids := append([]string(nil), g.ids...)
		g.mu.Unlock()
		if len(ids) >= n {
			return ids
		}
		select {
		case <-g.ch:
		case <-deadline:
			t.Fatalf("handled %v within a minute, want %d commands", ids, n)
		}
	}
}

// A command sent with SendCommand reaches the Redis command source's
// handler; another device's never does; after a restart the source goes on
// after its saved position (nothing handled twice); events go through the
// outbox to the command log; the actuators are announced.
func TestRedisCommandsRoundTrip(t *testing.T) {
	rd := redistest.Start(t, redistest.Options{})
	ctx := t.Context()
	cloud := store.New(rd.Client(t), store.Options{})
	dir := t.TempDir()
	as := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	run := func(g *got, ups chan bool) (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- RunRedisCommands(ctx, RedisCommandsOptions{Client: rd.Client(t), Device: "dev-a", StateDir: dir,
				Handle: g.handle, Actuators: as, Block: time.Second, Uplink: func(up bool) {
					select {
					case ups <- up:
					default:
					}
				}})
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	g, ups := newGot(), make(chan bool, 1)
	stop := run(g, ups)
	select {
	case up := <-ups:
		if !up {
			t.Error("the source says the uplink is down")
		}
	case <-time.After(time.Minute):
		t.Fatal("no uplink state within a minute")
	}
	for _, c := range []command.Command{testCommand("dev-b", "b1"), testCommand("dev-a", "a1"), testCommand("dev-a", "a2")} {
		if err := cloud.SendCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if ids := g.await(t, 2); fmt.Sprint(ids) != "[dev-a/a1 dev-a/a2]" {
		t.Errorf("handled %v", ids)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "dev-a.cmdpos")); err != nil {
		t.Errorf("no position saved: %v", err)
	}
	if got, err := cloud.Actuators(ctx, "dev-a"); err != nil || len(got) != 1 {
		t.Errorf("actuators announced: %+v, %v", got, err)
	}

	g2 := newGot()
	stop = run(g2, make(chan bool, 1))
	if err := cloud.SendCommand(ctx, testCommand("dev-a", "a3")); err != nil {
		t.Fatal(err)
	}
	if ids := g2.await(t, 1); fmt.Sprint(ids) != "[dev-a/a3]" {
		t.Errorf("after a restart, handled %v; want only a3", ids)
	}
	stop()

	// Events through the outbox to the log.
	ob, err := OpenEventOutbox(dir, "dev-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	a1 := testCommand("dev-a", "a1")
	ob.Add(testStatus(a1, command.Accepted))
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ob.Run(octx, RedisEventSender(store.New(rd.Client(t), store.Options{}), "dev-a"))
	deadline := time.Now().Add(time.Minute)
	for {
		log, err := cloud.CommandLog(ctx, "dev-a", 10)
		if err == nil && len(log) == 3 && len(log[2].Statuses) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log within a minute: %+v, %v", log, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The outbox keeps events across a restart and sends them in order once
// the sender works.
func TestEventOutboxDurable(t *testing.T) {
	dir := t.TempDir()
	ob, err := OpenEventOutbox(dir, "dev-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		c := testCommand("dev-a", fmt.Sprintf("c%d", i))
		ob.Add(command.Event{Command: &c})
		want = append(want, c.ID)
	}
	ob.Add(command.Event{}) // invalid: dropped
	ob.Close()
	// A torn line, as a crash mid-write leaves.
	f, _ := os.OpenFile(filepath.Join(dir, "dev-a.events"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"command":{"v":1,`)
	f.Close()

	ob, err = OpenEventOutbox(dir, "dev-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := ob.Pending(); n != 5 {
		t.Fatalf("%d pending after a restart, want 5", n)
	}
	if n := testutil.ToFloat64(CommandCollector(nil, ob)); n != 5 {
		t.Errorf("tributary_edge_command_events_pending %v, want 5", n)
	}
	var mu sync.Mutex
	var sent []string
	fails := 2
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Run(ctx, func(_ context.Context, evs []command.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if fails > 0 {
				fails--
				return fmt.Errorf("uplink down")
			}
			for _, e := range evs {
				sent = append(sent, e.Command.ID)
			}
			return nil
		})
	}()
	deadline := time.Now().Add(time.Minute)
	for ob.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	if fmt.Sprint(sent) != fmt.Sprint(want) {
		t.Errorf("sent %v, want %v", sent, want)
	}
	mu.Unlock()
	ob.Close()
	ob, err = OpenEventOutbox(dir, "dev-a", nil)
	if err != nil || ob.Pending() != 0 {
		t.Errorf("after sending: %d pending, %v", ob.Pending(), err)
	}
	ob.Close()
}

// Over MQTT: a command the bridge's user publishes on the device's topic
// reaches the handler; another device's topic is not the agent's to read;
// events go out on the events topic; a command sent while the agent was
// away arrives when it is back (the persistent session).
func TestMQTTCommands(t *testing.T) {
	users := map[string]string{"pi-1": "pi-1-password", "pi-2": "pi-2-password", "tributary-bridge-1": "bridge-password"}
	srv := mosquittotest.Start(t, mosquittotest.Options{Users: users, Persistence: true, ACLFile: "../deploy/mosquitto/acl"})
	g, ups := newGot(), make(chan bool, 10)
	stats := &CommandStats{}
	up, err := NewMQTTUplink(MQTTUplinkOptions{Broker: mqttwire.Broker{URL: srv.URL(), Password: users["pi-1"]}, Device: "pi-1", Boot: "boot-1",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, Commands: g.handle, CommandStats: stats,
		CommandsUp: func(u bool) { ups <- u }})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-ups:
		if !u {
			t.Fatal("down first")
		}
	case <-time.After(time.Minute):
		t.Fatal("not subscribed within a minute")
	}
	bridge := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr()).SetClientID("tributary-bridge-1").
		SetUsername("tributary-bridge-1").SetPassword(users["tributary-bridge-1"]).SetCleanSession(true))
	if tok := bridge.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("bridge connect: %v", tok.Error())
	}
	defer bridge.Disconnect(0)
	// The bridge reads events: subscribe first (mosquitto 2.0.11 drops what
	// is published before).
	evs := make(chan []byte, 10)
	if tok := bridge.Subscribe(mqttwire.EventsFilter, 1, func(_ mqtt.Client, m mqtt.Message) { evs <- m.Payload() }); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := func(dev string, c command.Command) {
		if tok := bridge.Publish(mqttwire.CommandsTopic(dev), 1, false, c.AppendJSON(nil)); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	wrong := testCommand("pi-2", "w")
	pub("pi-1", wrong) // a command of another device on pi-1's topic: dropped
	pub("pi-2", testCommand("pi-2", "b1"))
	pub("pi-1", testCommand("pi-1", "c1"))
	if ids := g.await(t, 1); fmt.Sprint(ids) != "[pi-1/c1]" {
		t.Errorf("handled %v", ids)
	}
	if r, i := stats.Received.Load(), stats.Invalid.Load(); r != 1 || i != 1 {
		t.Errorf("received %d, invalid %d; want 1 and 1 (pi-2's command on pi-1's topic)", r, i)
	}
	c1 := testCommand("pi-1", "c1")
	if err := up.SendEvents(t.Context(), []command.Event{testStatus(c1, command.Applied)}); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-evs:
		if es, err := mqttwire.DecodeEvents(b); err != nil || len(es) != 1 || es[0].Status.ID != "c1" {
			t.Errorf("events %s: %v", b, err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no events within a minute")
	}
	if err := up.SendEvents(t.Context(), []command.Event{testStatus(testCommand("pi-2", "x"), command.Applied)}); err == nil {
		t.Error("events about another device were sent")
	}

	// A device cannot subscribe to another's commands: mosquitto grants the
	// subscription but delivers nothing; publish as the bridge and check a
	// message to pi-1 arrives at pi-1's snoop while pi-2's does not.
	snoop := make(chan string, 10)
	sc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr()).SetClientID("pi-2").
		SetUsername("pi-2").SetPassword(users["pi-2"]).SetCleanSession(true))
	if tok := sc.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sc.Disconnect(0)
	for _, f := range []string{mqttwire.CommandsTopic("pi-1"), mqttwire.CommandsTopic("pi-2")} {
		if tok := sc.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { snoop <- m.Topic() }); !tok.WaitTimeout(time.Minute) {
			t.Fatal("subscribe")
		}
	}
	pub("pi-1", testCommand("pi-1", "c2"))
	pub("pi-2", testCommand("pi-2", "b2"))
	g.await(t, 2)
	select {
	case topic := <-snoop:
		if topic != mqttwire.CommandsTopic("pi-2") {
			t.Errorf("pi-2 received a message on %s", topic)
		}
	case <-time.After(time.Minute):
		t.Fatal("pi-2 got nothing on its own topic")
	}
	// pi-2 cannot publish events as pi-1: the bridge sees only pi-2's own.
	if tok := sc.Publish(mqttwire.EventsTopic("pi-1"), 1, false, "forged"); !tok.WaitTimeout(time.Minute) {
		t.Fatal("publish")
	}
	if tok := sc.Publish(mqttwire.EventsTopic("pi-2"), 1, false, "own"); !tok.WaitTimeout(time.Minute) {
		t.Fatal("publish")
	}
	select {
	case b := <-evs:
		if string(b) != "own" {
			t.Errorf("the bridge received %q: a forged event passed", b)
		}
	case <-time.After(time.Minute):
		t.Fatal("the bridge got nothing")
	}
	select {
	case topic := <-snoop:
		t.Errorf("pi-2 received %s", topic)
	default:
	}

	// A command sent while the agent is away is delivered when it comes
	// back: the broker keeps it in the agent's persistent session.
	up.Close()
	pub("pi-1", testCommand("pi-1", "c3"))
	up2, err := NewMQTTUplink(MQTTUplinkOptions{Broker: mqttwire.Broker{URL: srv.URL(), Password: users["pi-1"]}, Device: "pi-1", Boot: "boot-2",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, Commands: g.handle})
	if err != nil {
		t.Fatal(err)
	}
	defer up2.Close()
	if ids := g.await(t, 3); fmt.Sprint(ids) != "[pi-1/c1 pi-1/c2 pi-1/c3]" {
		t.Errorf("handled %v", ids)
	}
}

// Without a position (a new device, or a lost state dir and its ledger),
// the source takes the commands recorded from then on: one recorded before
// could otherwise run a second time.
func TestRedisCommandsWithoutPositionStartNow(t *testing.T) {
	rd := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cloud := store.New(rd.Client(t), store.Options{})
	if err := cloud.SendCommand(ctx, testCommand("dev-a", "before")); err != nil {
		t.Fatal(err)
	}
	g := newGot()
	ups := make(chan bool, 100)
	done := make(chan error, 1)
	go func() {
		done <- RunRedisCommands(ctx, RedisCommandsOptions{Client: rd.Client(t), Device: "dev-a", StateDir: t.TempDir(),
			Handle: g.handle, Block: time.Second, Uplink: func(up bool) { ups <- up }})
	}()
	select { // it has read once: its start position is set
	case up := <-ups:
		if !up {
			t.Fatal("the source could not read")
		}
	case <-time.After(time.Minute):
		t.Fatal("no read within a minute")
	}
	if err := cloud.SendCommand(ctx, testCommand("dev-a", "after")); err != nil {
		t.Fatal(err)
	}
	if ids := g.await(t, 1); len(ids) != 1 || ids[0] != "dev-a/after" {
		t.Fatalf("handled %v, want only the command recorded after the start", ids)
	}
	cancel()
	<-done
}
