package fanout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
)

// runHub runs h from src until the test ends; it returns a function that
// stops the source and returns Run's error.
func runHub(t *testing.T, h *fanout.Hub, src fanout.Source) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, src) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(fanouttest.Timeout):
				t.Fatalf("hub's Run did not return within %v of its context's end", fanouttest.Timeout)
			}
		}
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("hub's Run: %v", err)
		}
	})
	return stop
}

// TestHubFromMemorySource: a hub fed by a source other than Redis serves
// its readings and status changes to WebSocket clients.
func TestHubFromMemorySource(t *testing.T) {
	var src fanout.MemorySource
	if err := src.Ready(); err == nil || err.Error() != "waiting for the live feed" {
		t.Errorf("ready before any status: %v, want waiting for the live feed", err)
	}
	if src.Publish("a", time.Time{}, encoded(testReading("a", 1, 1))) {
		t.Error("publish before Run reported delivered")
	}
	src.SetStatus(false, "sensors warming up") // before Run: replayed by Run
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	all, onlyB := ts.Dial(t, ""), ts.Dial(t, "?device=b")
	for _, c := range []*fanouttest.Client{all, onlyB} {
		if st := c.Status(t, false); st.Reason != "waiting for the live feed" {
			t.Errorf("first status %q", st.Reason)
		}
	}
	stop := runHub(t, h, &src)
	for _, c := range []*fanouttest.Client{all, onlyB} {
		if st := c.Status(t, false); st.Reason != "sensors warming up" {
			t.Errorf("status from the source before Run: %q", st.Reason)
		}
	}
	if err := src.Ready(); err == nil || err.Error() != "sensors warming up" {
		t.Errorf("ready: %v, want the status reason", err)
	}

	src.SetStatus(true, "")
	all.Status(t, true)
	onlyB.Status(t, true)
	if err := src.Ready(); err != nil {
		t.Errorf("not ready once live: %v", err)
	}
	var want []reading.Reading
	for i := range 20 {
		want = append(want, testReading("a", uint64(i+1), float64(i)), testReading("b", uint64(i+1), -float64(i)))
	}
	for _, r := range want {
		if !src.Publish(r.Device, time.Time{}, encoded(r)) {
			t.Fatalf("publish %s/%d while running reported dropped", r.Device, r.Seq)
		}
	}
	for i, r := range all.Readings(t, len(want)) {
		if r != want[i] {
			t.Fatalf("reading %d: got %+v, want %+v", i, r, want[i])
		}
	}
	for i, r := range onlyB.Readings(t, 20) {
		if r.Device != "b" || r.Seq != uint64(i+1) {
			t.Fatalf("device=b client got %s/%d at %d", r.Device, r.Seq, i)
		}
	}

	src.SetStatus(false, "uplink lost")
	if st := all.Status(t, false); st.Reason != "uplink lost" {
		t.Errorf("reason %q, want uplink lost", st.Reason)
	}
	onlyB.Status(t, false)
	// A client that connects now learns it at once.
	late := ts.Dial(t, "")
	if st := late.Status(t, false); st.Reason != "uplink lost" {
		t.Errorf("late client's first status %q", st.Reason)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range []*fanouttest.Client{all, onlyB, late} {
		if st := c.Status(t, false); st.Reason != "server shutting down" {
			t.Errorf("status after Run returned: %q", st.Reason)
		}
	}
	if src.Publish("a", time.Time{}, encoded(testReading("a", 99, 1))) {
		t.Error("publish after Run reported delivered")
	}
}

// statusSink is a Sink that passes on the status it gets.
type statusSink chan reading.Status

func (s statusSink) Publish(string, time.Time, []byte) {}
func (s statusSink) PublishEvent(string, []byte)       {}
func (s statusSink) SetStatus(live bool, reason string) {
	s <- reading.Status{Live: live, Reason: reason}
}

func TestMemorySourceRunsOnce(t *testing.T) {
	var src fanout.MemorySource
	src.SetStatus(true, "")
	sink := make(statusSink, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	select {
	case <-sink: // Run has started
	case <-time.After(fanouttest.Timeout):
		t.Fatal("Run gave no status")
	}
	err := src.Run(context.Background(), make(statusSink, 1))
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run: %v, want already running", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("first Run: %v", err)
	}
}

// failingSource fails at once.
type failingSource struct{ err error }

func (s failingSource) Run(context.Context, fanout.Sink) error { return s.err }
func (s failingSource) Ready() error                           { return s.err }

func TestRunReportsAFailedSource(t *testing.T) {
	h := fanout.NewHub(fanout.Options{})
	ts := fanouttest.NewServer(t, h)
	c := ts.Dial(t, "")
	c.Status(t, false)
	h.SetStatus(true, "")
	c.Status(t, true)
	boom := errors.New("boom")
	if err := h.Run(context.Background(), failingSource{boom}); err != boom {
		t.Errorf("Run: %v, want the source's error", err)
	}
	if st := c.Status(t, false); st.Reason != "live feed stopped" {
		t.Errorf("reason %q, want live feed stopped", st.Reason)
	}
}
