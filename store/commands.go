package store

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
)

// Commands to actuators (package command): the keys the cloud, the bridge
// and a device's Redis uplink share; see the keyspace in doc.go.

// Caps of the command keys, approximate (MAXLEN ~) where they are streams.
const (
	// MaxCommands caps each device's command stream.
	MaxCommands = 1000
	// MaxCommandOutbox caps the stream the bridges relay commands from.
	MaxCommandOutbox = 100000
	// MaxCommandEvents caps each device's command events stream.
	MaxCommandEvents = 10000
	// MaxCommandRead is the most entries one ReadCommands returns.
	MaxCommandRead = 100
	// DefaultCommandLog and MaxCommandLog bound CommandLog's records.
	DefaultCommandLog = 100
	MaxCommandLog     = 200
	// commandLogEvents bounds the events one CommandLog reads.
	commandLogEvents = 2000
	// MaxActuatorsBytes bounds a device's encoded actuator list.
	MaxActuatorsBytes = 64 << 10
)

// maxEventBatch is the most events one run of events.lua appends, and
// maxEventJSON the longest event or frame it takes. Keep in step with
// events.lua.
const (
	maxEventBatch = 100
	maxEventJSON  = 1100
)

//go:embed events.lua
var eventsLua string

var eventsScript = redis.NewScript(eventsLua)

// CommandsKey is the key of device's command stream, written by the cloud
// only (outside the device's own keys, so that the device's user may only
// read it).
func (s *Store) CommandsKey(device string) string {
	return s.opt.Prefix + ":commands:{" + device + "}"
}

// CommandOutboxKey is the key of the stream of every device's commands,
// which the MQTT bridges relay with a consumer group.
func (s *Store) CommandOutboxKey() string { return s.opt.Prefix + ":command_outbox" }

// CommandEventsKey is the key of device's command events stream.
func (s *Store) CommandEventsKey(device string) string { return s.key(device, "command_events") }

// ActuatorsKey is the key of device's announced actuators.
func (s *Store) ActuatorsKey(device string) string { return s.key(device, "actuators") }

// EventsChannel is the Pub/Sub channel of device's command frames.
func (s *Store) EventsChannel(device string) string {
	return s.opt.Prefix + ":events:{" + device + "}"
}

// RecordedChannel is the Pub/Sub channel of the frames of device's commands
// as the cloud recorded them. Only the cloud may publish on it (a device
// may publish on its events channel, never here), so a frame from it names
// who sent the command truly.
func (s *Store) RecordedChannel(device string) string {
	return s.opt.Prefix + ":events:cloud:{" + device + "}"
}

// DeviceFromRecordedChannel returns the device id of a RecordedChannel name.
func (s *Store) DeviceFromRecordedChannel(ch string) (string, bool) {
	p := s.opt.Prefix + ":events:cloud:{"
	if len(ch) < len(p)+2 || ch[:len(p)] != p || ch[len(ch)-1] != '}' {
		return "", false
	}
	return ch[len(p) : len(ch)-1], true
}

// EventsPattern matches every device's events channel, and the recorded
// commands' channels.
func (s *Store) EventsPattern() string { return s.opt.Prefix + ":events:*" }

// DeviceFromEventsChannel returns the device id of an events channel name.
func (s *Store) DeviceFromEventsChannel(ch string) (string, bool) {
	p := s.opt.Prefix + ":events:{"
	if len(ch) < len(p)+2 || ch[:len(p)] != p || ch[len(ch)-1] != '}' {
		return "", false
	}
	return ch[len(p) : len(ch)-1], true
}

// ErrCommandIDUsed is returned by SendCommand for a command whose id was
// already used for its device, by a command whose deadline has not passed.
var ErrCommandIDUsed = errors.New("command id already used")

//go:embed command.lua
var commandLua string

var commandScript = redis.NewScript(commandLua)

// CommandIDsKey is the key of the sorted set of device's command ids in
// use (member: id; score: the command's deadline, unix ms), written by the
// cloud only.
func (s *Store) CommandIDsKey(device string) string {
	return s.opt.Prefix + ":command_ids:{" + device + "}"
}

// SendCommand records c for its device: appended to the device's command
// stream (which a Redis uplink reads) and to the outbox (which the MQTT
// bridges relay), and its frame ({"v":1,"type":"command","command":...})
// published on the device's RecordedChannel, so that every cloud
// instance's dashboards show it. c must be valid, By and At set by the caller.
//
// An id names one command: if c's id was already used for its device by a
// command whose deadline has not passed (by Redis's clock), nothing is
// written and the error wraps ErrCommandIDUsed. The check and the writes
// are one script (atomic). Its keys are not all in the device's Cluster
// slot (the outbox is shared), so it needs one Redis, not a Cluster.
func (s *Store) SendCommand(ctx context.Context, c command.Command) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("store: send command: %w", err)
	}
	raw := string(c.AppendJSON(nil))
	ev := command.Event{Command: &c}
	keys := []string{s.CommandIDsKey(c.Device), s.CommandsKey(c.Device), s.CommandOutboxKey()}
	n, err := s.runScript(ctx, commandScript, keys, c.ID, c.Deadline.UnixMilli(), raw, MaxCommands, MaxCommandOutbox,
		s.RecordedChannel(c.Device), string(ev.AppendFrame(nil))).Int()
	if err != nil {
		return fmt.Errorf("store: send command %q to %q: %w", c.ID, c.Device, err)
	}
	if n == 0 {
		return fmt.Errorf("store: send command %q to %q: %w for this device by a command whose deadline has not passed; give each command its own id",
			c.ID, c.Device, ErrCommandIDUsed)
	}
	return nil
}

// CommandEntry is one entry of a device's command stream.
type CommandEntry struct {
	ID      string          // the stream entry id: the position to read after next
	Command command.Command // valid and addressed to the device when Err is nil
	// Err says why the entry holds no valid command of the device
	// (wrapping command.ErrInvalid). The reader skips it, counts it, and
	// goes on after ID.
	Err error
}

// ReadCommands returns up to MaxCommandRead entries of device's command
// stream after the entry id after, oldest first, waiting up to block for
// one if there is none (block <= 0: not waiting). An empty after means
// every command recorded within command.MaxLifetime, by Redis's clock. It
// returns no entries and no error when block passes without one.
//
// A blocking call holds its connection for up to block, whatever ctx says:
// give it a client of its own and close it to stop the wait.
func (s *Store) ReadCommands(ctx context.Context, device, after string, block time.Duration) ([]CommandEntry, error) {
	if !reading.ValidID(device) {
		return nil, fmt.Errorf("store: read commands: %w: device %q", reading.ErrInvalid, device)
	}
	if after == "" {
		now, err := s.rdb.Time(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("store: read commands of %q: redis time: %w", device, err)
		}
		after = strconv.FormatInt(now.Add(-command.MaxLifetime).UnixMilli(), 10) + "-0"
	} else if !validEntryID(after) {
		return nil, fmt.Errorf("store: read commands of %q: %q is not a stream entry id", device, truncate(after, 48))
	}
	args := &redis.XReadArgs{Streams: []string{s.CommandsKey(device), after}, Count: MaxCommandRead, Block: -1}
	if block > 0 {
		args.Block = max(block, time.Millisecond)
	}
	res, err := s.rdb.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read commands of %q: %w", device, err)
	}
	var out []CommandEntry
	for _, st := range res {
		for _, m := range st.Messages {
			e := CommandEntry{ID: m.ID}
			raw, _ := m.Values["c"].(string)
			switch c, err := command.Decode([]byte(raw)); {
			case err != nil:
				e.Err = fmt.Errorf("entry %s: %w", m.ID, err)
			case c.Device != device:
				e.Err = fmt.Errorf("entry %s: %w: addressed to %q", m.ID, command.ErrInvalid, c.Device)
			default:
				e.Command = c
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// validEntryID reports whether id is a stream entry id ("ms-seq").
func validEntryID(id string) bool {
	a, b, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(a, 10, 64)
	_, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil
}

// ReportEvents appends evs, events of device in the order given, to the
// device's command events stream (capped at about MaxCommandEvents) and
// publishes each one's frame on the device's events channel, through a
// script a device's user may run (EVALSHA), 100 events a script call.
// Every event must be valid and about device, or nothing is written (an
// error wrapping command.ErrInvalid). After a Redis error some events may
// be stored: sending them again stores them twice, which CommandLog shows
// once.
func (s *Store) ReportEvents(ctx context.Context, device string, evs []command.Event) error {
	if !reading.ValidID(device) {
		return fmt.Errorf("store: report events: %w: device %q", command.ErrInvalid, device)
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return fmt.Errorf("store: report events of %q: event %d: %w", device, i, err)
		}
		if d := evs[i].Device(); d != device {
			return fmt.Errorf("store: report events of %q: event %d: %w: about device %q", device, i, command.ErrInvalid, d)
		}
	}
	for len(evs) > 0 {
		k := min(len(evs), maxEventBatch)
		args := make([]any, 0, 3+2*k)
		args = append(args, s.EventsChannel(device), MaxCommandEvents, k)
		for i := range evs[:k] {
			args = append(args, string(evs[i].AppendJSON(nil)), string(evs[i].AppendFrame(nil)))
		}
		if err := s.runScript(ctx, eventsScript, []string{s.CommandEventsKey(device)}, args...).Err(); err != nil {
			return fmt.Errorf("store: report events of %q: %w", device, err)
		}
		evs = evs[k:]
	}
	return nil
}

// CommandLog returns device's latest commands, newest first (by At), at
// most limit (default DefaultCommandLog, at most MaxCommandLog): those the
// cloud recorded and those given on the device itself (Local, from its
// events), each with its statuses as reported, oldest first, repeats
// shown once. It reads a bounded part of the events stream (ten events a
// record, at least 1000): a command whose statuses are older than that
// shows none. Entries that hold no valid command or event of device are
// left out.
func (s *Store) CommandLog(ctx context.Context, device string, limit int) ([]command.Record, error) {
	if !reading.ValidID(device) {
		return nil, fmt.Errorf("store: command log: %w: device %q", reading.ErrInvalid, device)
	}
	if limit <= 0 {
		limit = DefaultCommandLog
	}
	limit = min(limit, MaxCommandLog)
	cmds, err := s.readNewest(ctx, s.CommandsKey(device), limit, command.MaxEncoded, "c")
	if err != nil {
		return nil, fmt.Errorf("store: command log of %q: %w", device, err)
	}
	// About four events a command (accepted, an outcome, repeats); a log
	// answer reads at most commandLogEvents of them, so that one request
	// holds a few MB at most, whatever a device wrote.
	evs, err := s.readNewest(ctx, s.CommandEventsKey(device), min(commandLogEvents, max(200, 8*limit)), maxEventJSON, "e")
	if err != nil {
		return nil, fmt.Errorf("store: command log of %q: %w", device, err)
	}
	recs := map[string]*command.Record{}
	for _, m := range cmds {
		raw, _ := m.Values[0].(string)
		c, err := command.Decode([]byte(raw))
		if err != nil || c.Device != device || recs[c.ID] != nil {
			continue
		}
		recs[c.ID] = &command.Record{Command: c, Statuses: []command.Status{}}
	}
	var sts []command.Status // newest first
	for _, m := range evs {
		raw, _ := m.Values[0].(string)
		ev, err := command.DecodeEvent([]byte(raw))
		if err != nil || ev.Device() != device {
			continue
		}
		if ev.Command != nil {
			if recs[ev.Command.ID] == nil {
				c := *ev.Command
				// A device says when it was given; it cannot be later than
				// Redis took it (a device must not float its own entries
				// above every command the cloud recorded).
				if at, ok := entryTime(m.ID); ok && c.At.After(at) {
					c.At = at
				}
				recs[c.ID] = &command.Record{Command: c, Local: true, Statuses: []command.Status{}}
			}
			continue
		}
		sts = append(sts, *ev.Status)
	}
	seen := map[command.Status]bool{}
	for i := len(sts) - 1; i >= 0; i-- {
		st := sts[i]
		r := recs[st.ID]
		if r == nil || st.Actuator != r.Command.Actuator || seen[st] {
			continue
		}
		seen[st] = true
		r.Statuses = append(r.Statuses, st)
	}
	out := make([]command.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b command.Record) int {
		if c := b.Command.At.Compare(a.Command.At); c != 0 {
			return c
		}
		return cmp.Compare(b.Command.ID, a.Command.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// entryTime is the time in a stream entry's id ("<ms>-<n>"), which Redis
// sets when it adds the entry.
func entryTime(id string) (time.Time, bool) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n).UTC(), true
}

// readNewest reads up to n entries of a stream, newest first, in pages, with
// the named field's value (nil if longer than limit or absent). A key of
// another type reads as empty.
func (s *Store) readNewest(ctx context.Context, key string, n, limit int, field string) ([]streamEntry, error) {
	var out []streamEntry
	for back := "+"; len(out) < n; {
		want := int64(min(1000, n-len(out)))
		page, err := s.readStream(ctx, key, "XREVRANGE", back, "-", want, limit, field)
		if isWrongType(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if int64(len(page)) < want || page[len(page)-1].ID == "0-0" {
			break
		}
		back = prevID(page[len(page)-1].ID)
	}
	return out, nil
}

// SetActuators records device's actuators (command.EncodeActuators), as
// its agent announces them, replacing any earlier list.
func (s *Store) SetActuators(ctx context.Context, device string, as []command.Actuator) error {
	if !reading.ValidID(device) {
		return fmt.Errorf("store: set actuators: %w: device %q", command.ErrInvalid, device)
	}
	b, err := command.EncodeActuators(as)
	if err == nil && len(as) > command.MaxActuators {
		err = fmt.Errorf("%w: %d actuators, limit %d", command.ErrInvalid, len(as), command.MaxActuators)
	}
	if err == nil && len(b) > MaxActuatorsBytes {
		err = fmt.Errorf("%w: %d bytes, limit %d", command.ErrInvalid, len(b), MaxActuatorsBytes)
	}
	if err != nil {
		return fmt.Errorf("store: set actuators of %q: %w", device, err)
	}
	if err := s.rdb.Set(ctx, s.ActuatorsKey(device), b, 0).Err(); err != nil {
		return fmt.Errorf("store: set actuators of %q: %w", device, err)
	}
	return nil
}

// Actuators returns device's announced actuators, an empty slice if it
// announced none. It reads at most MaxActuatorsBytes+1 bytes of the key
// (the device may write anything there): a longer or invalid list is an
// error wrapping command.ErrInvalid.
func (s *Store) Actuators(ctx context.Context, device string) ([]command.Actuator, error) {
	if !reading.ValidID(device) {
		return nil, fmt.Errorf("store: actuators: %w: device %q", command.ErrInvalid, device)
	}
	v, err := s.rdb.GetRange(ctx, s.ActuatorsKey(device), 0, MaxActuatorsBytes).Result()
	if isWrongType(err) {
		return nil, fmt.Errorf("store: actuators of %q: %w: not a string", device, command.ErrInvalid)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: actuators of %q: %w", device, err)
	}
	if v == "" {
		return []command.Actuator{}, nil
	}
	if len(v) > MaxActuatorsBytes {
		return nil, fmt.Errorf("store: actuators of %q: %w: longer than %d bytes", device, command.ErrInvalid, MaxActuatorsBytes)
	}
	as, err := command.DecodeActuators([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("store: actuators of %q: %w", device, err)
	}
	return as, nil
}
