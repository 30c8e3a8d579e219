package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tributary-iot/tributary/command"
)

// cmdFixture is the cloud handler with accounts: val (AuthUser, a viewer),
// alice (an operator) and bob (a viewer) from an htpasswd file, and an
// in-memory Commander knowing gh-1's heater and fan.
type cmdFixture struct {
	*fixture
	cmds *memCommander
}

var (
	val   = [2]string{"val", "val-pw"}
	alice = [2]string{"alice", "alice-pw"}
	bob   = [2]string{"bob", "bob-pw"}
)

func htpasswd(t testing.TB, users ...[2]string) []User {
	t.Helper()
	var lines []string
	for _, u := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, u[0]+":"+string(h))
	}
	us, err := ReadUsers(strings.NewReader("# users\n\n" + strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return us
}

func newCmdFixture(t testing.TB, adjust func(*Options)) *cmdFixture {
	t.Helper()
	cf := &cmdFixture{cmds: newMemCommander()}
	cf.cmds.acts["gh-1"] = testActuators
	users := htpasswd(t, alice, bob)
	cf.fixture = newFixture(t, fixtureOptions{web: func(o *Options) {
		o.AuthUser, o.AuthPassword = val[0], val[1]
		o.Users, o.Operators, o.Commands = users, []string{"alice"}, cf.cmds
		if adjust != nil {
			adjust(o)
		}
	}})
	cf.cmds.hub = cf.hub
	return cf
}

// request sends method path as cred with body (JSON unless the header
// says otherwise) and returns the status and body.
func (f *fixture) request(t testing.TB, method, path string, cred [2]string, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = nil, 0
	}
	if cred[0] != "" {
		req.SetBasicAuth(cred[0], cred[1])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// TestMeAndRights: each account says who it is and whether it may act; an
// operator's command is recorded with its name, a viewer's is 403.
func TestMeAndRights(t *testing.T) {
	f := newCmdFixture(t, nil)
	for _, c := range []struct {
		cred     [2]string
		operator bool
	}{{val, false}, {alice, true}, {bob, false}} {
		code, body := f.request(t, "GET", "/api/me", c.cred, "", nil)
		want := fmt.Sprintf(`{"user":%q,"operator":%v,"commands":true}`, c.cred[0], c.operator)
		if code != 200 || strings.TrimSpace(body) != want {
			t.Errorf("GET /api/me as %s: %d %s, want %s", c.cred[0], code, body, want)
		}
		code, body = f.request(t, "POST", "/api/devices/gh-1/commands", c.cred, `{"id":"c-`+c.cred[0]+`","actuator":"heater","value":1}`, nil)
		switch {
		case c.operator && code != http.StatusAccepted:
			t.Errorf("operator %s: %d %s, want 202", c.cred[0], code, body)
		case !c.operator && (code != http.StatusForbidden || !strings.Contains(body, "may view but not send")):
			t.Errorf("viewer %s: %d %s, want 403", c.cred[0], code, body)
		}
	}
	sent := f.cmds.sentCommands()
	if len(sent) != 1 || sent[0].By != "alice" || sent[0].ID != "c-alice" {
		t.Fatalf("recorded %+v, want alice's command alone", sent)
	}
	if code, _ := f.request(t, "GET", "/api/me", [2]string{"alice", "wrong"}, "", nil); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	if code, _ := f.request(t, "GET", "/api/me", [2]string{"mallory", "alice-pw"}, "", nil); code != http.StatusUnauthorized {
		t.Errorf("unknown user: %d, want 401", code)
	}
}

// TestBcryptOnce: a signed-in user's requests run bcrypt once; failures
// are never remembered and keep their limit.
func TestBcryptOnce(t *testing.T) {
	f := newCmdFixture(t, func(o *Options) { o.AuthFailureLimit = 3 })
	accts := f.s.accounts
	for range 20 {
		if code, body := f.request(t, "GET", "/api/me", alice, "", nil); code != 200 {
			t.Fatalf("alice: %d %s", code, body)
		}
	}
	if n := accts.bcrypts.Load(); n != 1 {
		t.Errorf("20 requests ran bcrypt %d times, want 1", n)
	}
	for i := range 3 {
		if code, _ := f.request(t, "GET", "/api/me", [2]string{"bob", "guess"}, "", nil); code != http.StatusUnauthorized {
			t.Errorf("guess %d: %d, want 401", i, code)
		}
	}
	if n := accts.bcrypts.Load(); n != 4 {
		t.Errorf("after 3 wrong passwords bcrypt ran %d times, want 4", n)
	}
	if code, _ := f.request(t, "GET", "/api/me", bob, "", nil); code != http.StatusTooManyRequests {
		t.Errorf("after the limit of failures: %d, want 429", code)
	}
}

// TestPostCommand: what POST /api/devices/{id}/commands records, and each
// way it refuses, with the reason.
func TestPostCommand(t *testing.T) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	f := newCmdFixture(t, func(o *Options) { o.Now = func() time.Time { return now } })
	post := func(body string, header map[string]string) (int, string) {
		return f.request(t, "POST", "/api/devices/gh-1/commands", alice, body, header)
	}
	code, body := post(`{"actuator":"fan","value":55}`, nil)
	if code != http.StatusAccepted {
		t.Fatalf("%d %s, want 202", code, body)
	}
	got, err := command.Decode([]byte(strings.TrimSpace(body)))
	if err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	want := command.Command{ID: got.ID, Device: "gh-1", Actuator: "fan", Value: 55, Deadline: now.Add(30 * time.Second), By: "alice", At: now}
	if got != want || !strings.HasPrefix(got.ID, "c-") {
		t.Errorf("recorded %+v, want %+v with an id made up", got, want)
	}
	if sent := f.cmds.sentCommands(); len(sent) != 1 || sent[0] != got {
		t.Errorf("the Commander got %+v, want %+v", sent, got)
	}
	code, body = post(`{"id":"mine-1","actuator":"heater","value":0,"deadline":"2026-12-03T18:05:00Z"}`, nil)
	if c, err := command.Decode([]byte(body)); code != 202 || err != nil || c.ID != "mine-1" || !c.Deadline.Equal(now.Add(5*time.Minute)) {
		t.Errorf("with id and deadline: %d %s", code, body)
	}
	code, body = post(`{"actuator":"heater","value":1,"timeout":"2m"}`, map[string]string{"Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin",
		"Content-Type": "application/json; charset=utf-8"})
	if c, err := command.Decode([]byte(body)); code != 202 || err != nil || !c.Deadline.Equal(now.Add(2*time.Minute)) {
		t.Errorf("with timeout, from the dashboard's own page: %d %s", code, body)
	}

	for _, c := range []struct {
		name, body string
		header     map[string]string
		code       int
		want       string
	}{
		{"not JSON", `actuator=heater&value=1`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"cross-site", `{"actuator":"heater","value":1}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "own pages"},
		{"foreign origin", `{"actuator":"heater","value":1}`, map[string]string{"Origin": "http://evil.example"}, 403, "own pages"},
		{"too large", `{"actuator":"heater","value":1,"id":"` + strings.Repeat("x", 1100) + `"}`, nil, 413, "at most 1024 bytes"},
		{"unknown field", `{"actuator":"heater","value":1,"by":"root"}`, nil, 400, `unknown field \"by\"`},
		{"trailing data", `{"actuator":"heater","value":1} {}`, nil, 400, "trailing data"},
		{"no value", `{"actuator":"heater"}`, nil, 400, "value missing"},
		{"timeout and deadline", `{"actuator":"heater","value":1,"timeout":"1s","deadline":"2026-12-03T18:05:00Z"}`, nil, 400, "not both"},
		{"timeout too long", `{"actuator":"heater","value":1,"timeout":"25h"}`, nil, 400, "timeout"},
		{"deadline passed", `{"actuator":"heater","value":1,"deadline":"2026-12-03T17:59:00Z"}`, nil, 400, "after now"},
		{"bad id", `{"id":"-x","actuator":"heater","value":1}`, nil, 400, "id"},
		{"unknown actuator", `{"actuator":"pump","value":1}`, nil, 400, `no actuator \"pump\" (it has heater, fan)`},
		{"switch half on", `{"actuator":"heater","value":0.5}`, nil, 400, "a switch"},
		{"out of range", `{"actuator":"fan","value":10}`, nil, 400, "from 20 to 100"},
	} {
		code, body := post(c.body, c.header)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.code, c.want)
		}
	}
	code, body = f.request(t, "POST", "/api/devices/gh-2/commands", alice, `{"actuator":"heater","value":1}`, nil)
	if code != 400 || !strings.Contains(body, "announced no actuators") {
		t.Errorf("a device without actuators: %d %s", code, body)
	}
	if n := len(f.cmds.sentCommands()); n != 3 {
		t.Errorf("%d commands recorded, want the 3 accepted", n)
	}
	// A body of unknown length (chunked) is cut at the limit too.
	chunked, _ := http.NewRequest("POST", f.srv.URL+"/api/devices/gh-1/commands",
		io.MultiReader(strings.NewReader(`{"actuator":"heater","value":1,"id":"`), strings.NewReader(strings.Repeat("x", 2000)+`"}`)))
	chunked.ContentLength = -1
	chunked.SetBasicAuth(alice[0], alice[1])
	chunked.Header.Set("Content-Type", "application/json")
	if code, body := do(t, chunked); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked body over the limit: %d %s, want 413", code, body)
	}
	// Other routes still take no body.
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/me", strings.NewReader("x"))
	req.SetBasicAuth(alice[0], alice[1])
	if code, _ := do(t, req); code != http.StatusRequestEntityTooLarge {
		t.Errorf("GET with a body: %d, want 413", code)
	}
	f.cmds.setFail(errors.New("redis: connection refused"))
	if code, body := post(`{"actuator":"heater","value":1}`, nil); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("store down: %d %s, want 503", code, body)
	}
}

// TestCommandLogAndActuators: viewers read the audit trail (who sent each
// command, its statuses) and the actuators.
func TestCommandLogAndActuators(t *testing.T) {
	f := newCmdFixture(t, nil)
	for i := range 3 {
		if code, body := f.request(t, "POST", "/api/devices/gh-1/commands", alice, fmt.Sprintf(`{"id":"c%d","actuator":"heater","value":%d}`, i, i%2), nil); code != 202 {
			t.Fatalf("%d %s", code, body)
		}
	}
	f.cmds.status(command.Status{ID: "c2", Device: "gh-1", Actuator: "heater", State: command.Refused, Reason: command.ReasonInterlock, Time: time.Now()})
	var log struct {
		Device   string           `json:"device"`
		Commands []command.Record `json:"commands"`
	}
	code, body := f.request(t, "GET", "/api/devices/gh-1/commands?limit=2", bob, "", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &log); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if log.Device != "gh-1" || len(log.Commands) != 2 || log.Commands[0].Command.ID != "c2" || log.Commands[0].Command.By != "alice" ||
		log.Commands[0].State() != command.Refused || log.Commands[1].Command.ID != "c1" || log.Commands[1].Statuses == nil {
		t.Errorf("audit %s", body)
	}
	if code, body := f.request(t, "GET", "/api/devices/gh-1/commands?limit=0", bob, "", nil); code != 400 {
		t.Errorf("limit=0: %d %s", code, body)
	}
	code, body = f.request(t, "GET", "/api/devices/gh-1/actuators", val, "", nil)
	var acts struct {
		Actuators []command.Actuator `json:"actuators"`
	}
	if err := json.Unmarshal([]byte(body), &acts); code != 200 || err != nil || len(acts.Actuators) != 2 || acts.Actuators[1].Name != "fan" || acts.Actuators[1].Min != 20 {
		t.Errorf("actuators: %d %s", code, body)
	}
	if code, body := f.request(t, "GET", "/api/devices/gh-2/actuators", val, "", nil); code != 200 || strings.TrimSpace(body) != `{"device":"gh-2","actuators":[]}` {
		t.Errorf("no actuators: %d %s", code, body)
	}
}

// TestNoAuthCommands: without authentication nobody may act, unless
// OpenCommands says everyone may; without a Commander, no command routes.
func TestNoAuthCommands(t *testing.T) {
	for _, open := range []bool{false, true} {
		cmds := newMemCommander()
		cmds.acts["gh-1"] = testActuators
		f := newFixture(t, fixtureOptions{web: func(o *Options) { o.Commands, o.OpenCommands = cmds, open }})
		code, body := f.request(t, "GET", "/api/me", [2]string{}, "", nil)
		if want := fmt.Sprintf(`{"user":"","operator":%v,"commands":true}`, open); strings.TrimSpace(body) != want {
			t.Errorf("open=%v: /api/me %d %s, want %s", open, code, body, want)
		}
		code, body = f.request(t, "POST", "/api/devices/gh-1/commands", [2]string{}, `{"actuator":"heater","value":1}`, nil)
		if open && code != 202 || !open && (code != 403 || !strings.Contains(body, "no authentication")) {
			t.Errorf("open=%v: POST %d %s", open, code, body)
		}
	}
	f := newFixture(t, fixtureOptions{})
	if code, body := f.request(t, "POST", "/api/devices/gh-1/commands", [2]string{}, `{"actuator":"heater","value":1}`, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("without a Commander: %d %s, want 413 (no route takes a body)", code, body)
	}
	if code, body := f.request(t, "GET", "/api/devices/gh-1/actuators", [2]string{}, "", nil); code != 404 {
		t.Errorf("without a Commander, actuators: %d %s, want 404", code, body)
	}
}

// TestCommandOptions: options that cannot work are refused by New.
func TestCommandOptions(t *testing.T) {
	users := htpasswd(t, alice)
	for _, c := range []struct {
		name string
		opt  Options
		want string
	}{
		{"operator of no account", Options{AuthUser: "val", AuthPassword: "x", Operators: []string{"alice"}}, `operator "alice" is not a user`},
		{"operators without accounts", Options{Operators: []string{"alice"}}, `operator "alice" is not a user`},
		{"open commands with accounts", Options{Users: users, OpenCommands: true}, "without authentication"},
		{"a user twice", Options{AuthUser: "alice", AuthPassword: "x", Users: users}, `"alice" is defined twice`},
		{"a hash not bcrypt", Options{Users: []User{{"md5", "$apr1$abc$def"}}}, "only bcrypt"},
	} {
		f := newFixture(t, fixtureOptions{raw: true})
		c.opt.Store, c.opt.Hub = f.st, f.hub
		if _, err := New(c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestReadUsers: htpasswd lines, bcrypt only, with errors naming the line
// and never the hash.
func TestReadUsers(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(h)
	y := "$2y$" + strings.TrimPrefix(hash, "$2a$")
	us, err := ReadUsers(strings.NewReader("# operators\n\nalice:" + hash + "\n  bob:" + y + "  \n"))
	if err != nil || len(us) != 2 || us[0] != (User{"alice", hash}) || us[1] != (User{"bob", y}) {
		t.Fatalf("ReadUsers: %+v, %v", us, err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(us[1].Hash), []byte("pw")); err != nil {
		t.Errorf("a $2y$ hash (htpasswd -B) does not verify: %v", err)
	}
	costly, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	costly = []byte(strings.Replace(string(costly), "$04$", "$16$", 1))
	for _, c := range []struct{ in, want string }{
		{"alice", "line 1: want name:hash"},
		{"alice:" + hash + "\nalice:" + hash, `line 2: user "alice" again (first on line 1)`},
		{"# x\nmd5:$apr1$salt$hash", `line 2: user "md5": not a bcrypt hash`},
		{"sha:{SHA}abc=", "not a bcrypt hash"},
		{":" + hash, "line 1: empty user name"},
		{strings.Repeat("n", 65) + ":" + hash, "longer than 64 bytes"},
		{"a\tb:" + hash, "control character"},
		{"slow:" + string(costly), "cost 16 above 15"},
		{"cut:$2y$10$abc", "malformed bcrypt hash"},
	} {
		_, err := ReadUsers(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "$2a$04$") {
			t.Errorf("%q: the error shows a hash: %v", c.in, err)
		}
	}
}

// A level's 0 is off, always allowed whatever its min: a fan with min 20
// must be switchable off (and an interlock partner with it).
func TestCheckValueAlwaysAllowsOff(t *testing.T) {
	acts := []command.Actuator{{Name: "fan", Kind: command.KindLevel, Min: 20, Max: 100, Safe: "0"}, {Name: "heater", Kind: command.KindSwitch, Max: 1, Safe: "off"}}
	for _, tc := range []struct {
		name string
		v    float64
		ok   bool
	}{{"fan", 0, true}, {"fan", 20, true}, {"fan", 100, true}, {"fan", 10, false}, {"fan", 101, false}, {"heater", 0.5, false}, {"heater", 1, true}} {
		if err := checkValue(acts, "gh-1", tc.name, tc.v); (err == nil) != tc.ok {
			t.Errorf("%s %v: %v, want ok=%v", tc.name, tc.v, err, tc.ok)
		}
	}
}
