package redissource

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// sinkRecorder is a fanout.Sink that records what it is given.
type sinkRecorder struct {
	mu     sync.Mutex
	live   bool
	events []string // device + " " + frame
}

func (r *sinkRecorder) Publish(string, time.Time, []byte) {}
func (r *sinkRecorder) PublishEvent(dev string, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, dev+" "+string(frame))
}
func (r *sinkRecorder) SetStatus(live bool, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = live
}

func (r *sinkRecorder) snapshot() (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live, append([]string(nil), r.events...)
}

// Command frames published on the events channels reach the sink's
// PublishEvent, in order; anything else there is counted and dropped.
func TestDeliversCommandFrames(t *testing.T) {
	rd := redistest.Start(t, redistest.Options{})
	rdb := rd.Client(t)
	st := store.New(rdb, store.Options{})
	src := New(st, Options{PingInterval: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	rec := &sinkRecorder{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for live, _ := rec.snapshot(); !live; live, _ = rec.snapshot() {
		if time.Now().After(deadline) {
			t.Fatal("not live within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	c := command.Command{ID: "c1", Device: "dev-a", Actuator: "heater", Value: 1, Deadline: at.Add(time.Minute), By: "op", At: at}
	s := command.Status{ID: "c1", Device: "dev-a", Actuator: "heater", State: command.Applied, Value: 1, Time: at}
	// Not frames of the channel's device: dropped.
	other := c
	other.Device = "dev-b"
	for _, junk := range []string{"{}", "not json", string((&command.Event{Command: &other}).AppendFrame(nil)), `{"v":1,"type":"readings","readings":[]}`} {
		rdb.Publish(ctx, st.EventsChannel("dev-a"), junk)
	}
	if err := st.SendCommand(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.ReportEvents(ctx, "dev-a", []command.Event{{Status: &s}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"dev-a " + string((&command.Event{Command: &c}).AppendFrame(nil)), "dev-a " + string((&command.Event{Status: &s}).AppendFrame(nil))}
	for {
		_, evs := rec.snapshot()
		if len(evs) >= 2 {
			if len(evs) != 2 || evs[0] != want[0] || evs[1] != want[1] {
				t.Errorf("events:\n%q\nwant\n%q", evs, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events within a minute: %q", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := src.Stats().Dropped; d != 4 {
		t.Errorf("dropped %d, want 4", d)
	}
}
