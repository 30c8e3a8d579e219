package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/durable"
	"github.com/tributary-iot/tributary/store"
)

// EventOutbox keeps a device's command events (command.Event) on disk until
// its uplink has them, and sends them in order: events of commands given on
// the device while the uplink is down are sent when it returns, nothing
// lost. Files in the state dir: <device>.events (one event's JSON a line,
// appended and fsync'd by Add) and <device>.events.pos (how many bytes of it
// are sent). An event whose sending was not confirmed is sent again
// (store.CommandLog shows a repeat once).
//
// Add and Pending are safe for concurrent use; Run is called once.
type EventOutbox struct {
	path, posPath string
	log           *slog.Logger

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes in the file
	sent    int64 // bytes of it sent
	pending []pendingEvent
	wake    chan struct{}
}

type pendingEvent struct {
	ev  command.Event
	end int64 // the file's size after its line
}

// MaxOutboxEvents bounds the events an outbox keeps unsent; beyond, Add
// drops the event and logs it.
const MaxOutboxEvents = 100000

// OpenEventOutbox opens (or creates) device's outbox in dir, with the
// events left unsent by an earlier run. A line torn by a crash is dropped.
func OpenEventOutbox(dir, device string, logger *slog.Logger) (*EventOutbox, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &EventOutbox{path: filepath.Join(dir, device+".events"), posPath: filepath.Join(dir, device+".events.pos"),
		log: logger, wake: make(chan struct{}, 1)}
	if b, err := os.ReadFile(o.posPath); err == nil {
		o.sent, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agent: event outbox: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent: event outbox: %w", err)
	}
	o.f = f
	if err := o.load(); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// load reads the unsent events and cuts a torn or malformed tail.
func (o *EventOutbox) load() error {
	if _, err := o.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("agent: event outbox: %w", err)
	}
	r := bufio.NewReader(o.f)
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF || (err == nil && len(line) > 0 && line[len(line)-1] != '\n') {
			break // a torn last line, if any, is cut below
		}
		if err != nil {
			return fmt.Errorf("agent: event outbox: %w", err)
		}
		ev, derr := command.DecodeEvent(bytes.TrimSpace(line))
		if derr != nil {
			o.log.Error("agent: event outbox: a malformed line and what follows dropped", "path", o.path, "offset", off, "err", derr)
			break
		}
		off += int64(len(line))
		if off > o.sent {
			o.pending = append(o.pending, pendingEvent{ev: ev, end: off})
		}
	}
	if err := o.f.Truncate(off); err != nil {
		return fmt.Errorf("agent: event outbox: %w", err)
	}
	if _, err := o.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("agent: event outbox: %w", err)
	}
	o.size = off
	o.sent = min(o.sent, off)
	return nil
}

// Add appends ev, durably, to be sent. It never blocks on the uplink; it
// waits for the disk (an fsync). An invalid event is logged and dropped.
func (o *EventOutbox) Add(ev command.Event) {
	if err := ev.Validate(); err != nil {
		o.log.Error("agent: event outbox: an invalid event dropped", "err", err)
		return
	}
	line := append(ev.AppendJSON(nil), '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) >= MaxOutboxEvents {
		o.log.Error("agent: event outbox full; an event dropped", "limit", MaxOutboxEvents)
		return
	}
	if _, err := o.f.Write(line); err != nil {
		o.log.Error("agent: event outbox: cannot write; the event is kept in memory only", "err", err)
	} else if err := o.f.Sync(); err != nil {
		o.log.Error("agent: event outbox: cannot sync", "err", err)
	}
	o.size += int64(len(line))
	o.pending = append(o.pending, pendingEvent{ev: ev, end: o.size})
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many events wait to be sent.
func (o *EventOutbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// SendEvents sends events of one device, in order, and returns once the far
// end has them. An error wrapping command.ErrInvalid means it never will.
type SendEvents func(ctx context.Context, evs []command.Event) error

// Run sends the pending events in order, batches of up to 100, as they
// come, retrying a failed batch with backoff (an invalid one is dropped and
// logged), until ctx ends; then it returns nil.
func (o *EventOutbox) Run(ctx context.Context, send SendEvents) error {
	retry := backoff.Policy{Min: 100 * time.Millisecond, Max: 15 * time.Second}
	failures := 0
	for {
		o.mu.Lock()
		n := min(len(o.pending), 100)
		batch := make([]command.Event, n)
		for i := range batch {
			batch[i] = o.pending[i].ev
		}
		o.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-o.wake:
				continue
			}
		}
		err := send(ctx, batch)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, command.ErrInvalid) {
			if failures == 0 {
				o.log.Warn("agent: cannot send command events; retrying", "err", err)
			}
			failures++
			backoff.Sleep(ctx, retry.Delay(failures-1))
			continue
		}
		if err != nil {
			o.log.Error("agent: command events refused for good; dropped", "events", n, "err", err)
		}
		failures = 0
		o.done(n)
	}
}

// done marks the first n pending events sent, and empties the file once
// everything in it is.
func (o *EventOutbox) done(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = o.pending[n-1].end
	o.pending = o.pending[n:]
	if len(o.pending) == 0 {
		// The position first: a crash before the truncation sends the
		// file's events again, never skips new ones.
		if err := durable.WriteFile(o.posPath, []byte("0\n")); err == nil {
			if err := o.f.Truncate(0); err == nil {
				o.f.Seek(0, io.SeekStart)
				o.size, o.sent = 0, 0
				return
			}
		}
	}
	if err := durable.WriteFile(o.posPath, []byte(strconv.FormatInt(o.sent, 10)+"\n")); err != nil {
		o.log.Error("agent: event outbox: cannot save the position; events may be sent again", "err", err)
	}
}

// Close closes the outbox's file.
func (o *EventOutbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Close()
}

// RedisEventSender sends a device's events with st.ReportEvents.
func RedisEventSender(st *store.Store, device string) SendEvents {
	return func(ctx context.Context, evs []command.Event) error { return st.ReportEvents(ctx, device, evs) }
}
