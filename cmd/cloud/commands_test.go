package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// usersFile writes an htpasswd file of name:password pairs.
func usersFile(t *testing.T, pairs ...string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(pairs[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(pairs[i] + ":" + string(h) + "\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommandFlags(t *testing.T) {
	users := usersFile(t, "alice", "a", "bob", "b")
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("alice:$apr1$x$y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "users and an operator, public", args: []string{"--listen", "0.0.0.0:8080", "--auth-users", users, "--operator", "alice"}},
		{name: "operator of no account", args: []string{"--auth-users", users, "--operator", "carol"}, wantErr: `operator "carol" is not a user`},
		{name: "operator without accounts", args: []string{"--operator", "alice"}, wantErr: "there are none"},
		{name: "open commands with accounts", args: []string{"--auth-users", users, "--insecure-open-commands"}, wantErr: "without authentication"},
		{name: "open commands, loopback", args: []string{"--insecure-open-commands"}},
		{name: "open commands, public, no auth", args: []string{"--listen", "0.0.0.0:8080", "--insecure-open-commands"}, wantErr: "--insecure-no-auth"},
		{name: "not bcrypt", args: []string{"--auth-users", bad}, wantErr: `--auth-users: ` + bad + `: line 1: user "alice": not a bcrypt hash`},
		{name: "missing users file", args: []string{"--auth-users", filepath.Join(t.TempDir(), "nope")}, wantErr: "--auth-users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, nil, func(string) string { return "" })
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want error %q", err, tc.wantErr)
			}
		})
	}
}

// TestRunCommands: the real cloud against redis-server: an operator's
// command, by REST and on the WebSocket, lands in the device's command
// stream with the operator's name; a viewer's is refused; the audit trail
// shows each with what the device reported.
func TestRunCommands(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{})
	users := usersFile(t, "alice", "alice-pw", "bob", "bob-pw")
	logs := startRun(t, "--listen", "127.0.0.1:0", "--redis", "redis://"+redis.Addr(), "--auth-users", users, "--operator", "alice")
	base := logs.Await(t, `msg="cloud serving" url=(http://127\.0\.0\.1:\d+/)`, logTimeout)
	st := store.New(redis.Client(t), store.Options{})
	ctx := context.Background()
	acts := []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	if err := st.SetActuators(ctx, "gh-1", acts); err != nil {
		t.Fatal(err)
	}

	// A viewer watches gh-1 (once the live feed is up, so that nothing
	// published is missed).
	vh := http.Header{}
	(&http.Request{Header: vh}).SetBasicAuth("bob", "bob-pw")
	watcher := fanouttest.Dialer{Header: vh}.Dial(t, "ws"+strings.TrimPrefix(base, "http")+"api/stream?device=gh-1")
	watcher.AwaitLive(t)

	post := func(user, pw, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+"api/devices/gh-1/commands", strings.NewReader(body))
		req.SetBasicAuth(user, pw)
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
		return resp.StatusCode, string(b)
	}
	if code, body := post("bob", "bob-pw", `{"id":"b-1","actuator":"heater","value":1}`); code != 403 {
		t.Errorf("viewer: %d %s, want 403", code, body)
	}
	if code, body := post("alice", "alice-pw", `{"id":"a-1","actuator":"heater","value":1,"timeout":"1m"}`); code != 202 {
		t.Fatalf("operator: %d %s, want 202", code, body)
	}

	h := http.Header{}
	(&http.Request{Header: h}).SetBasicAuth("alice", "alice-pw")
	ws := fanouttest.Dialer{Header: h}.DialRaw(t, "ws"+strings.TrimPrefix(base, "http")+"api/stream?device=none")
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"command","id":"a-2","device":"gh-1","actuator":"heater","value":0}`)); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no answer to the command: %v", err)
		}
		if strings.Contains(string(data), `"type":"status"`) {
			continue
		}
		if !strings.Contains(string(data), `"type":"command","command":{"v":1,"id":"a-2"`) || !strings.Contains(string(data), `"by":"alice"`) {
			t.Errorf("answer %s, want the command a-2 by alice", data)
		}
		break
	}

	entries, err := st.ReadCommands(ctx, "gh-1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Command.ID != "a-1" || entries[1].Command.ID != "a-2" || entries[0].Command.By != "alice" ||
		entries[0].Command.Deadline.Sub(entries[0].Command.At) != time.Minute {
		t.Fatalf("the device's command stream holds %+v, want a-1 and a-2 by alice", entries)
	}
	// The device reports; the viewer reads the audit trail.
	c := entries[0].Command
	if err := st.ReportEvents(ctx, "gh-1", []command.Event{
		{Status: &command.Status{ID: c.ID, Device: "gh-1", Actuator: "heater", State: command.Accepted, Value: 1, Time: time.Now()}},
		{Status: &command.Status{ID: c.ID, Device: "gh-1", Actuator: "heater", State: command.Applied, Value: 1, Time: time.Now()}},
	}); err != nil {
		t.Fatal(err)
	}
	// Through Redis, the watcher saw both commands recorded, then the
	// device's statuses, in order.
	var seen []string
	for len(seen) < 4 {
		f := watcher.Frame(t)
		switch {
		case f.Type != "command":
			continue
		case f.Command != nil:
			got, err := command.Decode(f.Command)
			if err != nil {
				t.Fatalf("command frame: %v", err)
			}
			seen = append(seen, "command "+got.ID)
		default:
			got, err := command.DecodeStatus(f.CommandStatus)
			if err != nil {
				t.Fatalf("status frame: %v", err)
			}
			seen = append(seen, string(got.State)+" "+got.ID)
		}
	}
	if want := []string{"command a-1", "command a-2", "accepted a-1", "applied a-1"}; !slices.Equal(seen, want) {
		t.Errorf("the watcher saw %q, want %q", seen, want)
	}
	code, body := httpGet(t, base+"api/devices/gh-1/commands", "bob", "bob-pw")
	var log struct {
		Commands []command.Record `json:"commands"`
	}
	if err := json.Unmarshal(body, &log); code != 200 || err != nil {
		t.Fatalf("audit: %d %s %v", code, body, err)
	}
	if len(log.Commands) != 2 || log.Commands[0].Command.ID != "a-2" || log.Commands[1].Command.ID != "a-1" ||
		log.Commands[1].State() != command.Applied || log.Commands[1].Command.By != "alice" {
		t.Errorf("audit %s", body)
	}
	if code, body := httpGet(t, base+"api/me", "bob", "bob-pw"); code != 200 || !strings.Contains(string(body), `"operator":false`) {
		t.Errorf("me: %d %s", code, body)
	}
	if code, body := httpGet(t, base+"api/devices/gh-1/actuators", "bob", "bob-pw"); code != 200 || !strings.Contains(string(body), `"name":"heater"`) {
		t.Errorf("actuators: %d %s", code, body)
	}
}

// TestCommandsEmbeddedRedis: make demo's cloud (the embedded Redis, no
// sign-in, --insecure-open-commands) takes a command and shows its audit.
func TestCommandsEmbeddedRedis(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, done := serveInBackground(t, ctx, testConfig(t, "--insecure-open-commands"))
	rdb, err := store.NewClient(l.Redis)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{})
	if err := st.SetActuators(ctx, "sim-1", []command.Actuator{{Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", l.URL+"api/devices/sim-1/commands", strings.NewReader(`{"id":"d-1","actuator":"heater","value":1}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || !strings.Contains(string(body), `"by":"anonymous"`) {
		t.Fatalf("POST: %d %s, want 202 by anonymous", resp.StatusCode, body)
	}
	if err := st.ReportEvents(ctx, "sim-1", []command.Event{{Status: &command.Status{ID: "d-1", Device: "sim-1", Actuator: "heater",
		State: command.Applied, Value: 1, Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, l.URL+"api/devices/sim-1/commands", "", ""); code != 200 || !strings.Contains(string(body), `"state":"applied"`) {
		t.Errorf("audit: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
