package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// Commander records commands to devices' actuators and answers what the
// dashboard shows of them. *store.Store (Redis) is one; the edge plugs its
// controller in through another. Its methods are called concurrently.
type Commander interface {
	// SendCommand records c, valid and stamped with By and At, hands it to
	// its device's uplink, and publishes its frame
	// (command.Event.AppendFrame) to the hub's clients watching the device
	// (*store.Store through Redis, to every cloud instance). An id names
	// one command of a device: if c's id is in use for its device (by a
	// command whose deadline has not passed), nothing is recorded and the
	// error wraps store.ErrCommandIDUsed (the API answers 409 Conflict,
	// the WebSocket an error frame).
	SendCommand(ctx context.Context, c command.Command) error
	// CommandLog returns up to limit of device's commands with their
	// statuses, newest first.
	CommandLog(ctx context.Context, device string, limit int) ([]command.Record, error)
	// Actuators returns the actuators device announced; none is no error.
	Actuators(ctx context.Context, device string) ([]command.Actuator, error)
}

var _ Commander = (*store.Store)(nil)

// AnonymousBy names the sender of a command in the audit trail when the
// server takes commands without authentication (Options.OpenCommands).
const AnonymousBy = "anonymous"

// Limits of the command routes.
const (
	// MaxCommandBody bounds a command: the body of POST
	// /api/devices/{id}/commands, or a command message on the WebSocket.
	MaxCommandBody = 1024
	// DefaultCommandTimeout is a command's lifetime when it gives neither
	// timeout nor deadline.
	DefaultCommandTimeout = 30 * time.Second
	// DefaultCommandLog and MaxCommandLog bound GET .../commands?limit=.
	DefaultCommandLog = 50
	MaxCommandLog     = 200
	// maxCommandLogs bounds the audit answers read at once: each reads up
	// to a few MB of events from Redis, which a device can keep full.
	maxCommandLogs = 4
	// CommandBurst commands may be sent at once on one WebSocket, then one
	// every CommandEvery; and so may each user POST them (else 429 with
	// Retry-After).
	CommandBurst = 10
	CommandEvery = 2 * time.Second
)

// FrameError is the type of a frame that answers a client's message with
// an error, to that client alone: {"v":1,"type":"error","error":"...","id":"..."}
// (id: the command's, when known).
const FrameError = "error"

// commandBody is what a sender gives of a command. Value is required;
// Timeout (a Go duration, "30s") and Deadline (RFC 3339) exclude each
// other; without either the command lives DefaultCommandTimeout. Without
// ID one is made up.
type commandBody struct {
	ID       string   `json:"id"`
	Actuator string   `json:"actuator"`
	Value    *float64 `json:"value"`
	Timeout  string   `json:"timeout"`
	Deadline string   `json:"deadline"`
}

// commandMessage is a command sent on the WebSocket:
// {"type":"command","id":..,"device":..,"actuator":..,"value":..,"timeout":..}.
type commandMessage struct {
	Type   string `json:"type"`
	Device string `json:"device"`
	commandBody
}

// requestError is a refused command: the HTTP status and why.
type requestError struct {
	status int
	msg    string
	retry  time.Duration // for 429: Retry-After
}

func (e *requestError) Error() string { return e.msg }

// mayCommand refuses an identity that is not an operator's.
func (s *server) mayCommand(id identity) error {
	if id.operator {
		return nil
	}
	if !s.accounts.enabled() {
		return &requestError{status: http.StatusForbidden, msg: "this server has no authentication, so nobody may send commands (see --auth-users, --operator, --insecure-open-commands)"}
	}
	return &requestError{status: http.StatusForbidden, msg: fmt.Sprintf("user %q may view but not send commands (operators are named by --operator)", id.user)}
}

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// newCommand checks what id asks of device and records it: it returns the
// command as recorded, or a *requestError. limit, if not nil, is asked
// once the command is well-formed, before the Commander is: a non-nil
// error refuses it.
func (s *server) newCommand(ctx context.Context, id identity, device string, b commandBody, limit func() error) (command.Command, error) {
	if err := s.mayCommand(id); err != nil {
		return command.Command{}, err
	}
	if !reading.ValidID(device) {
		return command.Command{}, badRequest("invalid device id %s", clipQuote(device, 80))
	}
	if b.Value == nil {
		return command.Command{}, badRequest("value missing")
	}
	if b.ID == "" {
		b.ID = newCommandID()
	}
	now := s.opt.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(DefaultCommandTimeout)
	switch {
	case b.Timeout != "" && b.Deadline != "":
		return command.Command{}, badRequest("give timeout or deadline, not both")
	case b.Timeout != "":
		d, err := time.ParseDuration(b.Timeout)
		if err != nil || d < time.Millisecond || d > command.MaxLifetime {
			return command.Command{}, badRequest("timeout %s: want a duration from 1ms to %v (\"30s\")", clipQuote(b.Timeout, 40), command.MaxLifetime)
		}
		deadline = now.Add(d)
	case b.Deadline != "":
		t, err := time.Parse(time.RFC3339Nano, b.Deadline)
		if err != nil {
			return command.Command{}, badRequest("deadline %s: want an RFC 3339 time", clipQuote(b.Deadline, 40))
		}
		t = t.UTC().Truncate(time.Millisecond)
		if !t.After(now) || t.Sub(now) > command.MaxLifetime {
			return command.Command{}, badRequest("deadline %s: want a time after now (%s) and at most %v ahead", b.Deadline, now.Format(time.RFC3339), command.MaxLifetime)
		}
		deadline = t
	}
	c := command.Command{ID: b.ID, Device: device, Actuator: b.Actuator, Value: *b.Value, Deadline: deadline, By: cmp.Or(id.user, AnonymousBy), At: now}
	if err := c.Validate(); err != nil {
		return c, badRequest("%s", strings.TrimPrefix(err.Error(), "command: invalid command: "))
	}
	if limit != nil {
		if err := limit(); err != nil {
			return c, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.StoreTimeout)
	defer cancel()
	acts, err := s.opt.Commands.Actuators(ctx, device)
	if errors.Is(err, command.ErrInvalid) {
		return c, badRequest("device %q announced actuators that are not valid: %v", device, err)
	}
	if err != nil {
		return c, s.unavailable(err)
	}
	if err := checkValue(acts, device, c.Actuator, c.Value); err != nil {
		return c, err
	}
	if err := s.opt.Commands.SendCommand(ctx, c); errors.Is(err, store.ErrCommandIDUsed) {
		return c, &requestError{status: http.StatusConflict, msg: fmt.Sprintf("command id %q is already used for %s by a command whose deadline has not passed: give each command its own id (or none, to have one made up)", c.ID, device)}
	} else if err != nil {
		return c, s.unavailable(err)
	}
	return c, nil
}

// checkValue refuses a command the device's announced actuators could
// only refuse: the device decides, under its own limits, the rest.
func checkValue(acts []command.Actuator, device, name string, v float64) error {
	if len(acts) == 0 {
		return badRequest("device %q has announced no actuators", device)
	}
	for _, a := range acts {
		if a.Name != name {
			continue
		}
		if a.Kind == command.KindSwitch && v != 0 && v != 1 {
			return badRequest("%s is a switch: value 0 (off) or 1 (on), not %v", name, v)
		}
		if (v < a.Min || v > a.Max) && v != 0 { // 0, off, is always allowed
			return badRequest("%s takes 0 (off) or values from %v to %v, not %v", name, a.Min, a.Max, v)
		}
		return nil
	}
	names := make([]string, len(acts))
	for i, a := range acts {
		names[i] = a.Name
	}
	return badRequest("device %q has no actuator %q (it has %s)", device, name, strings.Join(names, ", "))
}

func (s *server) unavailable(err error) error {
	s.warnFailure("command store request failed", "err", err)
	return &requestError{status: http.StatusServiceUnavailable, msg: "store unavailable: " + err.Error()}
}

// newCommandID makes up a command id: "c-" and 16 random hex digits.
func newCommandID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails
	return "c-" + hex.EncodeToString(b[:])
}

// commandFrame is the WebSocket frame of a recorded command.
func commandFrame(c command.Command) []byte {
	ev := command.Event{Command: &c}
	return ev.AppendFrame(nil)
}

// errorFrame is the WebSocket frame answering a message with msg.
func errorFrame(msg, id string) []byte {
	b := []byte(`{"v":1,"type":"error","error":`)
	b = strconv.AppendQuote(b, clip(msg, maxErrorMessage))
	if id != "" {
		b = append(b, `,"id":`...)
		b = strconv.AppendQuote(b, clip(id, 80))
	}
	return append(b, '}')
}

// me answers GET /api/me: who the request is from, whether they may send
// commands, and whether this server takes commands at all.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	id := s.identityOf(r)
	writeJSON(w, struct {
		User     string `json:"user"`
		Operator bool   `json:"operator"`
		Commands bool   `json:"commands"`
	}{id.user, id.operator, s.opt.Commands != nil})
}

// postCommand answers POST /api/devices/{id}/commands: 202 with the
// command as recorded. Only an operator may (403); the body is JSON (415
// otherwise) of at most MaxCommandBody bytes (413), from no other site
// (403: a page elsewhere must not use the browser's credentials). An id
// in use for the device is 409. Each user may send CommandBurst
// well-formed commands at once, then one every CommandEvery (429 with
// Retry-After beyond), whatever became of them.
func (s *server) postCommand(w http.ResponseWriter, r *http.Request) {
	id := s.identityOf(r)
	if err := s.mayCommand(id); err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" || r.Header.Get("Origin") != "" && !s.originAllowed(r, "command from a foreign origin refused") {
		writeError(w, http.StatusForbidden, "commands are taken from this server's own pages and allowed origins only")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the command as Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(r.Body) // at most MaxCommandBody: the guard limits it
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a command is at most %d bytes", MaxCommandBody))
		}
		return // else the client went away
	}
	var b commandBody
	if err := decodeStrict(body, &b); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := s.newCommand(r.Context(), id, r.PathValue("id"), b, func() error {
		wait := s.userLim.wait(cmp.Or(id.user, AnonymousBy), s.opt.Now)
		if wait == 0 {
			return nil
		}
		return &requestError{status: http.StatusTooManyRequests, retry: wait,
			msg: fmt.Sprintf("too many commands from %s: at most %d at once, then one every %v", cmp.Or(id.user, AnonymousBy), CommandBurst, CommandEvery)}
	})
	if err != nil {
		re, _ := errors.AsType[*requestError](err)
		if re.retry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((re.retry+time.Second-1)/time.Second)))
		}
		writeError(w, re.status, re.msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	w.Write(append(c.AppendJSON(nil), '\n'))
}

// decodeStrict decodes one JSON object into v: unknown fields and
// trailing data are errors.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed command: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("malformed command: trailing data after the object")
	}
	return nil
}

// commandLog answers GET /api/devices/{id}/commands: the audit trail,
// newest first, {"device":..,"commands":[{"command","local","statuses"}]}.
// ?limit=N (default DefaultCommandLog, at most MaxCommandLog).
func (s *server) commandLog(w http.ResponseWriter, r *http.Request) {
	dev := r.PathValue("id")
	if !reading.ValidID(dev) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid device id %q", clip(dev, 80)))
		return
	}
	v, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := DefaultCommandLog
	if len(v["limit"]) > 1 {
		writeError(w, http.StatusBadRequest, "limit given more than once")
		return
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %s: want a whole number >= 1", clipQuote(l, 40)))
			return
		}
		limit = min(n, MaxCommandLog)
	}
	select {
	case s.logSem <- struct{}{}:
		defer func() { <-s.logSem }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many audit requests at once; retry in a second")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StoreTimeout)
	defer cancel()
	recs, err := s.opt.Commands.CommandLog(ctx, dev, limit)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	b := append([]byte(`{"device":`), strconv.Quote(dev)...)
	b = append(b, `,"commands":[`...)
	n := 0
	for _, rec := range recs {
		if rec.Statuses == nil {
			rec.Statuses = []command.Status{}
		}
		j, err := json.Marshal(rec)
		if err != nil { // the store returns valid records; one that is not is left out
			s.warnFailure("commands: a stored record does not encode", "device", dev, "err", err)
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, j...)
		n++
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, "]}\n"...))
}

// actuators answers GET /api/devices/{id}/actuators:
// {"device":..,"actuators":[...]}, empty for a device that announced none.
func (s *server) actuators(w http.ResponseWriter, r *http.Request) {
	dev := r.PathValue("id")
	if !reading.ValidID(dev) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid device id %q", clip(dev, 80)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StoreTimeout)
	defer cancel()
	acts, err := s.opt.Commands.Actuators(ctx, dev)
	if errors.Is(err, command.ErrInvalid) {
		// Written by the device: it may write anything there.
		s.warnFailure("actuators: the device announced an invalid list; shown as none", "device", dev, "err", err)
		acts = nil
	} else if err != nil {
		s.storeError(w, r, err)
		return
	}
	if acts == nil {
		acts = []command.Actuator{}
	}
	writeJSON(w, struct {
		Device    string             `json:"device"`
		Actuators []command.Actuator `json:"actuators"`
	}{dev, acts})
}
