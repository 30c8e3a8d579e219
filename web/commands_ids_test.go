package web

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/store"
)

// A command reusing an id in use for the device is refused, 409 on the
// API and an error frame on the WebSocket, by the cloud's own Commander
// (*store.Store on redis-server): the audit keeps the first command, never
// showing the second as applied in its place.
func TestCommandIDReuseRefused(t *testing.T) {
	f := newCmdFixture(t, func(o *Options) { o.Commands = o.Store.(*store.Store) })
	ctx := t.Context()
	if err := f.st.SetActuators(ctx, "dev-b", testActuators); err != nil {
		t.Fatal(err)
	}
	post := func(body string) (int, string) {
		return f.request(t, "POST", "/api/devices/dev-b/commands", alice, body, nil)
	}
	if code, body := post(`{"id":"dup-2","actuator":"heater","value":1,"timeout":"1h"}`); code != http.StatusAccepted {
		t.Fatalf("first: %d %s, want 202", code, body)
	}
	code, body := post(`{"id":"dup-2","actuator":"heater","value":0}`)
	if code != http.StatusConflict || !strings.Contains(body, `command id \"dup-2\" is already used`) {
		t.Errorf("the id again, another value: %d %s, want 409", code, body)
	}
	ws := f.dialAs(t, alice, "?device=dev-b")
	send(t, ws, `{"type":"command","id":"dup-2","device":"dev-b","actuator":"heater","value":0}`)
	if fr := next(t, ws); fr.Type != FrameError || fr.ID != "dup-2" || !strings.Contains(fr.Error, "already used") {
		t.Errorf("on the WebSocket: %+v, want an error frame naming dup-2", fr)
	}
	log, err := f.st.CommandLog(ctx, "dev-b", 10)
	if err != nil || len(log) != 1 || log[0].Command.Value != 1 || log[0].Command.ID != "dup-2" {
		t.Errorf("audit %+v, %v; want the first command (heater -> 1) alone", log, err)
	}
	if code, body := post(`{"id":"dup-3","actuator":"heater","value":0}`); code != http.StatusAccepted {
		t.Errorf("a new id: %d %s, want 202", code, body)
	}
}

// Each user may POST CommandBurst commands at once, then one every
// CommandEvery: beyond, 429 with Retry-After, and nothing is sent. Another
// user has a bucket of their own; time refills it.
func TestPostCommandRateLimitedPerUser(t *testing.T) {
	var now atomic.Int64 // the handler's clock, unix ns
	now.Store(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC).UnixNano())
	f := newCmdFixture(t, func(o *Options) {
		o.Operators = []string{"alice", "bob"}
		o.Now = func() time.Time { return time.Unix(0, now.Load()).UTC() }
	})
	post := func(cred [2]string) (int, string, http.Header) {
		req, err := http.NewRequest("POST", f.srv.URL+"/api/devices/gh-1/commands", strings.NewReader(`{"actuator":"heater","value":0}`))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(cred[0], cred[1])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b), resp.Header
	}
	for i := 0; i < CommandBurst; i++ {
		if code, body, _ := post(alice); code != http.StatusAccepted {
			t.Fatalf("alice's command %d: %d %s, want 202", i+1, code, body)
		}
	}
	code, body, h := post(alice)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") != "2" || !strings.Contains(body, "too many commands from alice") {
		t.Errorf("alice's command %d: %d %s (Retry-After %q), want 429 with Retry-After 2", CommandBurst+1, code, body, h.Get("Retry-After"))
	}
	if n := len(f.cmds.sentCommands()); n != CommandBurst {
		t.Errorf("%d commands sent, want %d", n, CommandBurst)
	}
	if code, body, _ := post(bob); code != http.StatusAccepted {
		t.Errorf("bob, another user: %d %s, want 202", code, body)
	}
	// A malformed command (400) costs nothing.
	if code, _ := f.request(t, "POST", "/api/devices/gh-1/commands", bob, `{"actuator":"heater"}`, nil); code != http.StatusBadRequest {
		t.Errorf("bob's malformed command: %d, want 400", code)
	}
	now.Add(int64(CommandEvery))
	if code, body, _ := post(alice); code != http.StatusAccepted {
		t.Errorf("alice after %v: %d %s, want 202", CommandEvery, code, body)
	}
	if code, _, _ := post(alice); code != http.StatusTooManyRequests {
		t.Errorf("alice again at once: %d, want 429", code)
	}
}
