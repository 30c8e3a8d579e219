package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// The Redis users of deploy/redis/redis-acl.sh, tested against a real
// redis-server that loads the file the generator writes: a device's user
// runs the real edge agent's whole Redis uplink, and nothing that touches
// another device, the shared keys beyond what ingest needs, or the server;
// the bridge's and the cloud's users do their whole job.
//
// Every refusal probe is also run against a Redis without ACLs
// (TestRedisACLProbesOnOpenRedis), where none of them is refused: each
// probe reaches Redis and would succeed but for the ACL.

const (
	aclAdmin  = "tributary-admin"
	aclCloud  = "tributary-cloud"
	aclBridge = "tributary-bridge"
)

// aclRig is a redis-server whose users come from the shipped generator.
type aclRig struct {
	rd    *redistest.Server
	admin *store.Store      // everything: to seed and to check
	pw    map[string]string // user -> password
	dir   string
}

// newACLRig writes an ACL file with the generator (the admin, the cloud, the
// bridge and a user per device) and starts Redis with it.
func newACLRig(t *testing.T, devices ...string) *aclRig {
	t.Helper()
	return newACLRigThen(t, nil, devices...)
}

// newACLRigThen is newACLRig with refresh run on the ACL file before Redis
// loads it.
func newACLRigThen(t *testing.T, refresh func(file string), devices ...string) *aclRig {
	t.Helper()
	proctest.SkipShort(t, "redis-server")
	t.Helper()
	r := &aclRig{pw: map[string]string{}, dir: t.TempDir()}
	file := filepath.Join(r.dir, "users.acl")
	add := func(role, name string) {
		pw := name + "-password-0123456789"
		redisACL(t, pw+"\n", file, role, name)
		r.pw[name] = pw
	}
	add("admin", aclAdmin)
	add("cloud", aclCloud)
	add("bridge", aclBridge)
	for _, d := range devices {
		add("device", d)
	}
	if refresh != nil {
		refresh(file)
	}
	r.rd = redistest.Start(t, redistest.Options{ACLFile: file, Username: aclAdmin, Password: r.pw[aclAdmin],
		Args: []string{"--enable-debug-command", "yes", "--proto-max-bulk-len", "1mb"}}) // as deploy/compose.yaml
	r.admin = store.New(r.rd.Client(t), store.Options{})
	// What the cloud does at start (store.KeepScriptsLoaded): a device's
	// user runs the ingesters' scripts by SHA only.
	if err := r.admin.LoadScripts(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

// redisACL runs deploy/redis/redis-acl.sh with args and stdin.
func redisACL(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join("..", "..", "deploy", "redis", "redis-acl.sh")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-acl.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// client is a client of user with its password.
func (r *aclRig) client(t *testing.T, user string) *redis.Client {
	return r.rd.ClientAs(t, user, r.pw[user])
}

// pwFile writes user's password to a file and returns its path.
func (r *aclRig) pwFile(t *testing.T, user string) string {
	return writeSecret(t, r.dir, user+".pw", r.pw[user])
}

// refused reports whether err is Redis refusing a command by ACL, directly
// (NOPERM) or inside a script.
func refused(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "NOPERM") || strings.Contains(s, "The user executing the script can't")
}

// someReadings are n readings of device with seqs from first on.
func someReadings(device string, first uint64, n int) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		rs[i] = reading.Reading{Device: device, Sensor: "t0", Metric: "temperature", Unit: "C",
			Value: 20 + float64(i), Seq: first + uint64(i), Time: time.Now().UTC().Truncate(time.Millisecond)}
	}
	return rs
}

// probe is something a device must not be able to do to another device
// (victim) or to the server.
type probe struct {
	name string
	do   func(ctx context.Context, c *redis.Client, st *store.Store, victim string) error
}

func key(device, name string) string { return "tributary:{" + device + "}:" + name }

var deviceProbes = []probe{
	// Another device's keys: no raw writes, no reads.
	{"XADD to the victim's stream", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: key(v, "readings"), Values: []any{"r", "{}"}}).Err()
	}},
	{"HSET the victim's latest", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.HSet(ctx, key(v, "latest"), "t0/temperature", "{}").Err()
	}},
	{"DEL the victim's stream", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.Del(ctx, key(v, "readings")).Err()
	}},
	{"SETBIT the victim's dedup bitmap", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.SetBit(ctx, key(v, "seen:0"), 100, 1).Err()
	}},
	{"XRANGE the victim's stream", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.XRange(ctx, key(v, "readings"), "-", "+").Err()
	}},
	{"HGETALL the victim's latest", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.HGetAll(ctx, key(v, "latest")).Err()
	}},
	{"LastSeq of the victim", func(ctx context.Context, _ *redis.Client, st *store.Store, v string) error {
		_, err := st.LastSeq(ctx, v)
		return err
	}},
	{"store.Ingest of a reading with the victim's id", func(ctx context.Context, _ *redis.Client, st *store.Store, v string) error {
		_, err := st.Ingest(ctx, someReadings(v, 1000, 1))
		return err
	}},
	{"store.RecordBoot of the victim", func(ctx context.Context, _ *redis.Client, st *store.Store, v string) error {
		return st.RecordBoot(ctx, v, "forged-boot", 1000, time.Now())
	}},
	{"a script writing the victim's stream, key undeclared", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.Eval(ctx, `return redis.call('XADD', ARGV[1], '*', 'r', '{}')`, nil, key(v, "readings")).Err()
	}},
	// Another device's live channel.
	{"EVAL of Lua of its own (a loop that never ends would hold the server)", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Eval(ctx, `return 1`, nil).Err()
	}},
	{"SCRIPT LOAD of Lua of its own, to run by SHA", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ScriptLoad(ctx, `return 2`).Err()
	}},
	{"PUBLISH on the victim's channel", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.Publish(ctx, "tributary:live:{"+v+"}", "{}").Err()
	}},
	{"a script publishing on the victim's channel", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.Eval(ctx, `return redis.call('PUBLISH', ARGV[1], '{}')`, nil, "tributary:live:{"+v+"}").Err()
	}},
	{"SUBSCRIBE to the victim's channel", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return subscribeErr(ctx, c.Subscribe(ctx, "tributary:live:{"+v+"}"))
	}},
	{"PSUBSCRIBE to every device's channel", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return subscribeErr(ctx, c.PSubscribe(ctx, "tributary:live:*"))
	}},
	// The shared keys: only the registry's ZADD and the retention's read.
	{"HSET the retention every ingester applies", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.HSet(ctx, "tributary:retention", "maxlen", 1).Err()
	}},
	{"DEL the registry", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Del(ctx, "tributary:devices").Err()
	}},
	{"ZREM the victim from the registry", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.ZRem(ctx, "tributary:devices", v).Err()
	}},
	{"ZRANGE the registry (the list of devices)", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ZRange(ctx, "tributary:devices", 0, -1).Err()
	}},
	{"XADD to the dead letters", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:deadletter", Values: []any{"reason", "forged"}}).Err()
	}},
	// The server.
	{"KEYS", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Keys(ctx, "*").Err()
	}},
	{"SCAN", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Scan(ctx, 0, "*", 10).Err()
	}},
	{"CONFIG GET", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ConfigGet(ctx, "maxmemory").Err()
	}},
	{"CONFIG SET", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err()
	}},
	{"SCRIPT FLUSH", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ScriptFlush(ctx).Err()
	}},
	{"FUNCTION FLUSH", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.FunctionFlush(ctx).Err()
	}},
	{"ACL LIST", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Do(ctx, "ACL", "LIST").Err()
	}},
	{"ACL SETUSER", func(ctx context.Context, c *redis.Client, _ *store.Store, v string) error {
		return c.Do(ctx, "ACL", "SETUSER", v, "on", "nopass").Err()
	}},
	{"DEBUG", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Do(ctx, "DEBUG", "SLEEP", "0").Err()
	}},
	{"MODULE LIST", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Do(ctx, "MODULE", "LIST").Err()
	}},
	{"CLIENT LIST", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.ClientList(ctx).Err()
	}},
	{"a script running FLUSHALL", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.Eval(ctx, `return redis.call('FLUSHALL')`, nil).Err()
	}},
	{"FLUSHDB", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.FlushDB(ctx).Err()
	}},
	{"FLUSHALL", func(ctx context.Context, c *redis.Client, _ *store.Store, _ string) error {
		return c.FlushAll(ctx).Err()
	}},
}

// subscribeErr is the server's answer to a (P)SUBSCRIBE.
func subscribeErr(ctx context.Context, ps *redis.PubSub) error {
	defer ps.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := ps.Receive(ctx)
	return err
}

// runProbes runs every probe as device attacker against victim and returns
// the name and error of each.
func runProbes(ctx context.Context, c *redis.Client, attacker, victim string) (names []string, errs []error) {
	st := store.New(c, store.Options{})
	for _, p := range deviceProbes {
		names = append(names, p.name)
		errs = append(errs, p.do(ctx, c, st, victim))
	}
	return names, errs
}

// The real edge agent, with its own Redis user and nothing else, stores its
// readings and its boot, reads the published retention and resumes its seq
// from Redis (a fresh state dir): its whole direct uplink works under the
// device's ACL.
func TestRedisACLEdgeAgent(t *testing.T) {
	t.Parallel()
	const dev = "acl-edge"
	r := newACLRig(t, dev)
	ctx := t.Context()
	// The cloud publishes a retention with an age cap, so that the agent's
	// ingest reads it and trims by age (XTRIM) in its script.
	cloud := store.New(r.client(t, aclCloud), store.Options{MaxAge: time.Hour})
	if err := cloud.PublishRetention(ctx); err != nil {
		t.Fatalf("the cloud's user publishes the retention: %v", err)
	}
	// Readings stored before this agent's state dir existed: it resumes
	// after them (store.LastSeq, as the device's user).
	dst := store.New(r.client(t, dev), store.Options{})
	if _, err := dst.Ingest(ctx, someReadings(dev, 1, 5)); err != nil {
		t.Fatalf("the device's user ingests its own readings: %v", err)
	}

	a := startEdgeProc(t, dev, "--redis", r.rd.URLAs(dev), "--redis-password-file", r.pwFile(t, dev),
		"--interval", fastSampling, "--spool-sync", "interval", "--state-dir", t.TempDir())
	if a.first <= 5 {
		t.Errorf("the agent starts at seq %d: it did not resume after the 5 readings stored (LastSeq refused?)", a.first)
	}
	awaitStored(t, r.admin, []string{dev}, 100)
	eventually(t, "the boot recorded", 30*time.Second, func() bool {
		bs, err := r.admin.Boots(ctx, dev)
		return err == nil && len(bs) > 0 && bs[len(bs)-1].ID == a.boot
	})
	eventually(t, "the uplink up", 30*time.Second, func() bool { return a.scrape(t).sum("tributary_edge_uplink_up") == 1 })
	if m := a.scrape(t); m.sum("tributary_edge_uplink_errors_total") != 0 || m.drops() != 0 {
		t.Errorf("uplink errors %v, drops %v: some of the agent's Redis commands were refused",
			m.sum("tributary_edge_uplink_errors_total"), m.drops())
	}
	next := a.terminate(t)
	if last, err := r.admin.LastSeq(ctx, dev); err != nil || last != next-1 {
		t.Errorf("last seq stored %d (%v), want %d", last, err, next-1)
	}
	if _, err := r.rd.Client(t).ZScore(ctx, "tributary:devices", dev).Result(); err != nil {
		t.Errorf("the device is not in the registry: %v", err)
	}
	if strings.Contains(a.Log.String(), "NOPERM") {
		t.Errorf("the agent's log shows a refusal:\n%s", a.Log.String())
	}
}

// A device's user is refused everything that touches another device, the
// shared keys beyond ingest's needs, or the server; and the victim's data
// is as it was.
func TestRedisACLDeviceConfined(t *testing.T) {
	t.Parallel()
	const attacker, victim = "acl-a", "acl-b"
	r := newACLRig(t, attacker, victim)
	ctx := t.Context()
	if _, err := store.New(r.client(t, victim), store.Options{}).Ingest(ctx, someReadings(victim, 1, 3)); err != nil {
		t.Fatalf("the victim ingests its own readings: %v", err)
	}
	before, _ := r.admin.History(ctx, victim, store.Query{})
	beforeLatest, _ := r.rd.Client(t).HGetAll(ctx, key(victim, "latest")).Result()

	c := r.client(t, attacker)
	names, errs := runProbes(ctx, c, attacker, victim)
	for i, err := range errs {
		if !refused(err) {
			t.Errorf("%s as %s: not refused by the ACL (err %v)", names[i], attacker, err)
		}
	}

	// The attacker can still do its own job.
	st := store.New(c, store.Options{})
	if res, err := st.Ingest(ctx, someReadings(attacker, 1, 3)); err != nil || res.Stored != 3 {
		t.Errorf("the attacker's own ingest: %+v, %v", res, err)
	}
	if err := st.RecordBoot(ctx, attacker, "boot-1", 1, time.Now()); err != nil {
		t.Errorf("the attacker's own boot: %v", err)
	}
	after, err := r.admin.History(ctx, victim, store.Query{})
	if err != nil || fmt.Sprint(after) != fmt.Sprint(before) || len(after) != 3 {
		t.Errorf("the victim's history changed: %d readings before, %d after (%v)", len(before), len(after), err)
	}
	afterLatest, _ := r.rd.Client(t).HGetAll(ctx, key(victim, "latest")).Result()
	if fmt.Sprint(afterLatest) != fmt.Sprint(beforeLatest) {
		t.Errorf("the victim's latest changed:\nbefore %v\nafter  %v", beforeLatest, afterLatest)
	}
	if bs, _ := r.admin.Boots(ctx, victim); len(bs) != 0 {
		t.Errorf("boots recorded for the victim: %v", bs)
	}
	if n, _ := r.rd.Client(t).DBSize(ctx).Result(); n == 0 {
		t.Error("the database is empty")
	}

	// Even on its own keys, no value over 1 MB (proto-max-bulk-len, as
	// deployed): the cloud never reads a huge field or live message.
	if err := c.HSet(ctx, key(attacker, "latest"), "big/x", strings.Repeat("x", 2<<20)).Err(); err == nil {
		t.Error("a 2 MB field written to the attacker's own latest hash")
	}
	if err := c.Publish(ctx, "tributary:live:{"+attacker+"}", strings.Repeat("x", 2<<20)).Err(); err == nil {
		t.Error("a 2 MB message published on the attacker's own channel")
	}

	// With the scripts gone from Redis's cache (a restart) and no cloud to
	// load them, the device may not load them itself: its ingest fails,
	// saying why, and stores nothing; once they are loaded again, it works.
	if err := r.rd.Client(t).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Ingest(ctx, someReadings(attacker, 4, 1))
	if err == nil || !strings.Contains(err.Error(), "the cloud loads it") {
		t.Errorf("ingest without the scripts loaded: %v, want the reason", err)
	}
	if err := r.admin.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := st.Ingest(ctx, someReadings(attacker, 4, 1)); err != nil || res.Stored != 1 {
		t.Errorf("ingest once the scripts are loaded: %+v, %v", res, err)
	}
}

// Against a Redis without ACLs, every probe that TestRedisACLDeviceConfined
// expects refused is not: they test the ACL, not a typo.
func TestRedisACLProbesOnOpenRedis(t *testing.T) {
	t.Parallel()
	rd := redistest.Start(t, redistest.Options{Args: []string{"--enable-debug-command", "yes"}})
	ctx := t.Context()
	c := rd.Client(t)
	if _, err := store.New(c, store.Options{}).Ingest(ctx, someReadings("acl-b", 1, 3)); err != nil {
		t.Fatal(err)
	}
	names, errs := runProbes(ctx, c, "acl-a", "acl-b")
	for i, err := range errs {
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Errorf("%s on an open Redis: %v; want it to succeed, so that only an ACL can refuse it", names[i], err)
		}
	}
}

// The bridge's user does what the bridge does (store.Ingest for any device,
// RecordBoot, NextSeqs for foreign formats, the dead-letter stream, PING)
// and nothing of the server's.
func TestRedisACLBridge(t *testing.T) {
	t.Parallel()
	r := newACLRig(t)
	ctx := t.Context()
	if err := store.New(r.client(t, aclCloud), store.Options{MaxAge: time.Hour}).PublishRetention(ctx); err != nil {
		t.Fatal(err)
	}
	c := r.client(t, aclBridge)
	st := store.New(c, store.Options{})
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
	rs := append(someReadings("bridged-a", 1, 3), someReadings("bridged-b", 1, 3)...)
	if res, err := st.Ingest(ctx, rs); err != nil || res.Stored != 6 {
		t.Errorf("Ingest of two devices: %+v, %v", res, err)
	}
	if err := st.RecordBoot(ctx, "bridged-a", "boot-1", 1, time.Now()); err != nil {
		t.Errorf("RecordBoot: %v", err)
	}
	if first, err := st.NextSeqs(ctx, "zigbee-1", 3); err != nil || first != 1 {
		t.Errorf("NextSeqs: %d, %v", first, err)
	}
	if first, err := st.NextSeqs(ctx, "bridged-a", 1); err != nil || first != 4 {
		t.Errorf("NextSeqs after stored readings: %d, %v", first, err)
	}
	// As bridge.writeDeadLetters does.
	err := c.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:deadletter", MaxLen: 1000, Approx: true,
		Values: []any{"reason", "invalid", "topic", "tributary/x/readings", "payload", "{"}}).Err()
	if err != nil {
		t.Errorf("dead letter: %v", err)
	}
	if n, _ := r.rd.Client(t).XLen(ctx, "tributary:deadletter").Result(); n != 1 {
		t.Errorf("%d dead letters", n)
	}
	for _, p := range []struct {
		name string
		err  error
	}{
		{"FLUSHALL", c.FlushAll(ctx).Err()},
		{"KEYS", c.Keys(ctx, "*").Err()},
		{"CONFIG GET", c.ConfigGet(ctx, "*").Err()},
		{"SCRIPT FLUSH", c.ScriptFlush(ctx).Err()},
		{"ACL LIST", c.Do(ctx, "ACL", "LIST").Err()},
		{"HSET the retention", c.HSet(ctx, "tributary:retention", "maxlen", 1).Err()},
		{"DEL the registry", c.Del(ctx, "tributary:devices").Err()},
		{"XRANGE the dead letters", c.XRange(ctx, "tributary:deadletter", "-", "+").Err()},
		{"SET outside the keyspace", c.Set(ctx, "elsewhere", "x", 0).Err()},
	} {
		if !refused(p.err) {
			t.Errorf("%s as the bridge: not refused by the ACL (err %v)", p.name, p.err)
		}
	}
}

// The real cloud, with its Redis user, serves what devices store: the
// device list, history, boots and the live stream (PSUBSCRIBE), and
// publishes its retention; its user may also run the retention's trim.
func TestRedisACLCloud(t *testing.T) {
	t.Parallel()
	const dev = "acl-cloud-dev"
	r := newACLRig(t, dev)
	ctx := t.Context()
	p, base := startCloud(t, "--redis", r.rd.URLAs(aclCloud), "--redis-password-file", r.pwFile(t, aclCloud),
		"--history-maxage", "1h")
	eventually(t, "the cloud published its retention", 30*time.Second, func() bool {
		v, _ := r.rd.Client(t).HGet(ctx, "tributary:retention", "maxage_ms").Result()
		return v == "3600000"
	})
	s := dialStream(t, base, "")
	// The live feed is subscribed once /readyz says so.
	eventually(t, "the cloud ready", 30*time.Second, func() bool { return httpStatus(ctx, base+"/readyz") == 200 })

	dst := store.New(r.client(t, dev), store.Options{})
	if err := dst.RecordBoot(ctx, dev, "boot-1", 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Ingest(ctx, someReadings(dev, 1, 3)); err != nil {
		t.Fatal(err)
	}
	got := s.readings(30*time.Second, func(rs []reading.Reading) bool {
		n := 0
		for _, r := range rs {
			if r.Device == dev {
				n++
			}
		}
		return n >= 3
	})
	t.Logf("%d readings live", len(got))

	var devices []struct {
		ID string `json:"id"`
	}
	getJSON(t, ctx, base+"/api/devices", &devices)
	if len(devices) != 1 || devices[0].ID != dev {
		t.Errorf("/api/devices: %+v", devices)
	}
	var hist struct{ Readings []reading.Reading }
	getJSON(t, ctx, base+"/api/devices/"+dev+"/readings", &hist)
	if len(hist.Readings) != 3 {
		t.Errorf("history: %d readings, want 3", len(hist.Readings))
	}
	var boots struct{ Boots []map[string]any }
	getJSON(t, ctx, base+"/api/devices/"+dev+"/boots", &boots)
	if len(boots.Boots) != 1 {
		t.Errorf("boots: %v", boots)
	}
	if strings.Contains(p.Log.String(), "NOPERM") {
		t.Errorf("the cloud's log shows a refusal:\n%s", p.Log.String())
	}

	// Redis forgets its scripts (a restart, SCRIPT FLUSH): the cloud loads
	// them again, and the device, which may not, ingests again.
	if err := r.rd.Client(t).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cloud to load the scripts again and the device to ingest", 60*time.Second, func() bool {
		_, err := dst.Ingest(ctx, someReadings(dev, 4, 1))
		return err == nil
	})

	// What store.RunRetention's trim runs (it retries its errors silently).
	c := r.client(t, aclCloud)
	ids, err := c.ZRange(ctx, "tributary:devices", 0, -1).Result()
	if err != nil || len(ids) != 1 {
		t.Errorf("ZRANGE the registry: %v, %v", ids, err)
	}
	if _, err := c.Time(ctx).Result(); err != nil {
		t.Errorf("TIME: %v", err)
	}
	if err := c.XTrimMinID(ctx, key(dev, "readings"), "0").Err(); err != nil {
		t.Errorf("XTRIM: %v", err)
	}
	// The sizes the readers check before reading what a device could grow
	// (without MEMORY USAGE they would fall back to no byte check), and
	// the sweep's check of the id index.
	if n, err := c.MemoryUsage(ctx, key(dev, "latest"), 0).Result(); err != nil || n <= 0 {
		t.Errorf("MEMORY USAGE: %d, %v", n, err)
	}
	if n, err := c.XLen(ctx, key(dev, "readings")).Result(); err != nil || n == 0 {
		t.Errorf("XLEN: %d, %v", n, err)
	}
	if n, err := c.Exists(ctx, key(dev, "latest")).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS: %d, %v", n, err)
	}
	for _, p := range []struct {
		name string
		err  error
	}{
		{"FLUSHALL", c.FlushAll(ctx).Err()},
		{"KEYS", c.Keys(ctx, "*").Err()},
		{"CONFIG SET", c.ConfigSet(ctx, "maxmemory", "1").Err()},
		{"SCRIPT FLUSH", c.ScriptFlush(ctx).Err()},
		{"ACL SETUSER", c.Do(ctx, "ACL", "SETUSER", "x", "on", "nopass", "+@all").Err()},
		{"DEBUG", c.Do(ctx, "DEBUG", "SLEEP", "0").Err()},
		{"MODULE LIST", c.Do(ctx, "MODULE", "LIST").Err()},
		{"SET outside the keyspace", c.Set(ctx, "elsewhere", "x", 0).Err()},
	} {
		if !refused(p.err) {
			t.Errorf("%s as the cloud: not refused by the ACL (err %v)", p.name, p.err)
		}
	}
}

// httpStatus is the status of a GET of url, 0 if it failed.
func httpStatus(ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A device line written by an older generator (here: nothing but PING) gets
// the current rules from `redis-acl.sh FILE refresh`, with its password
// kept: the device can ingest again.
func TestRedisACLRefresh(t *testing.T) {
	t.Parallel()
	const dev = "acl-old"
	r := newACLRigThen(t, func(file string) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); f[1] == dev {
				l = strings.Join(f[:5], " ") + " ~tributary:{" + dev + "}:* &tributary:live:{" + dev + "} +ping"
			}
			lines = append(lines, l)
		}
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		redisACL(t, "", file, "refresh")
	}, dev)
	st := store.New(r.client(t, dev), store.Options{})
	if res, err := st.Ingest(t.Context(), someReadings(dev, 1, 2)); err != nil || res.Stored != 2 {
		t.Errorf("ingest after refresh: %+v, %v", res, err)
	}
}

// The MQTT path with Redis users: the real bridge (broker user tributary-bridge-1; Redis user tributary-bridge), and
// the real cloud with the bridge inside it (--mqtt, as in Compose) as
// tributary-cloud, store an agent's readings and boot, and dead-letter a
// malformed message, without one refusal.
func TestRedisACLMQTTPath(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"bridge", "cloud"} {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			dev := "acl-mq-" + bin
			r := newACLRig(t)
			mqUsers := map[string]string{"tributary-bridge-1": "bridge-mqtt-pw", dev: dev + "-mqtt-pw"}
			mq := mosquittotest.Start(t, mosquittotest.Options{Users: mqUsers,
				ACLFile: filepath.Join("..", "..", "deploy", "mosquitto", "acl"), Persistence: true})
			mqPw := writeSecret(t, r.dir, "bridge-mqtt.pw", mqUsers["tributary-bridge-1"])
			var p *proctest.Proc
			var metrics string
			if bin == "bridge" {
				p = proctest.Start(t, "bridge", binPath(t, "bridge"), "--mqtt", mq.URL(), "--mqtt-username", "tributary-bridge-1",
					"--mqtt-password-file", mqPw, "--redis", r.rd.URLAs(aclBridge), "--redis-password-file", r.pwFile(t, aclBridge),
					"--metrics-listen", "127.0.0.1:0")
				metrics = p.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, 30*time.Second)
			} else {
				var base string
				p, base = startCloud(t, "--redis", r.rd.URLAs(aclCloud), "--redis-password-file", r.pwFile(t, aclCloud),
					"--mqtt", mq.URL(), "--mqtt-username", "tributary-bridge-1", "--mqtt-password-file", mqPw, "--mqtt-group", "cloud")
				metrics = base + "/metrics"
			}
			p.Await(t, `msg="mqtt subscribed"`, 30*time.Second)

			a := startEdgeProc(t, dev, "--mqtt", mq.URL(), "--mqtt-password-file", writeSecret(t, r.dir, dev+".pw", mqUsers[dev]),
				"--interval", fastSampling, "--spool-sync", "interval", "--state-dir", t.TempDir())
			awaitStored(t, r.admin, []string{dev}, 50)
			eventually(t, "the boot recorded", 30*time.Second, func() bool {
				bs, err := r.admin.Boots(t.Context(), dev)
				return err == nil && len(bs) > 0 && bs[len(bs)-1].ID == a.boot
			})
			a.terminate(t)

			// A malformed batch on the device's own topic: the bridge
			// dead-letters it.
			c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + mq.Addr()).SetClientID(mqttwire.EdgeClientID(dev)).
				SetUsername(dev).SetPassword(mqUsers[dev]).SetCleanSession(true))
			if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("connect as %s: %v", dev, tok.Error())
			}
			defer c.Disconnect(0)
			if tok := c.Publish(mqttwire.ReadingsTopic(dev), 1, false, "not json"); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
			eventually(t, "the malformed message dead-lettered", 30*time.Second, func() bool {
				n, _ := r.rd.Client(t).XLen(t.Context(), "tributary:deadletter").Result()
				return n == 1
			})
			m := scrapeURL(t, metrics)
			if _, ok := m["tributary_bridge_redis_errors_total"]; !ok {
				t.Errorf("no tributary_bridge_redis_errors_total at %s", metrics)
			}
			if e := m.sum("tributary_bridge_redis_errors_total"); e != 0 {
				t.Errorf("%v Redis errors: some of the %s's commands were refused", e, bin)
			}
			if strings.Contains(p.Log.String(), "NOPERM") || strings.Contains(p.Log.String(), "can't") {
				t.Errorf("the %s's log shows a refusal:\n%s", bin, p.Log.String())
			}
		})
	}
}
