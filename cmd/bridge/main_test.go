package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/internal/testcert"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// bins is the bridge binary, built on first use, for the tests that kill it.
var bins = proctest.Binaries{Packages: []string{"github.com/tributary-iot/tributary/cmd/bridge"}}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// deployConf is the shipped broker config.
var deployConf = filepath.Join("..", "..", "deploy", "mosquitto", "mosquitto.conf")

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// logTimeout bounds each wait for a log line.
const logTimeout = 20 * time.Second

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFlags(t *testing.T) {
	pw := writeFile(t, "pw", "s3cret\n")
	empty := writeFile(t, "empty", "")
	mappings := filepath.Join("..", "..", "bridge", "testdata", "mappings.yaml")
	badMappings := writeFile(t, "bad.yaml", "mappings:\n  - topic: a/+\n    formt: flat\n")
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c *config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c *config) {
			if c.mqtt.URL != defaultMQTT || c.redis.URL != defaultRedis || c.metricsListen != defaultMetricsListen || c.group != "" || c.maxPayload != reading.MaxBatchEncoded {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "environment", env: map[string]string{"MQTT_URL": "mqtts://broker:8883", "REDIS_URL": "redis://r:1"}, check: func(t *testing.T, c *config) {
			if c.mqtt.URL != "mqtts://broker:8883" || c.redis.URL != "redis://r:1" {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "everything", args: []string{"--mqtt", "mqtts://b", "--mqtt-username", "tributary-bridge-1", "--mqtt-password-file", pw,
			"--mqtt-ca", "ca.pem", "--mqtt-cert", "c.pem", "--mqtt-key", "k.pem", "--group", "g", "--client-id", "tributary-bridge-1",
			"--redis-password-file", pw, "--mappings", mappings, "--metrics-listen", "", "--queue-size", "64"}, check: func(t *testing.T, c *config) {
			m := c.mqtt
			if m.URL != "mqtts://b" || m.Username != "tributary-bridge-1" || m.Password != "s3cret" || m.CAFile != "ca.pem" || m.CertFile != "c.pem" ||
				m.KeyFile != "k.pem" || m.ClientID != "tributary-bridge-1" || c.group != "g" || c.redis.Password != "s3cret" || len(c.mappings) != 3 ||
				c.metricsListen != "" || c.queueSize != 64 {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "client id of another", args: []string{"--mqtt-username", "tributary-bridge-1", "--client-id", "tributary-bridge-host"},
			wantErr: `--client-id: MQTT client id "tributary-bridge-host" differs from the user name "tributary-bridge-1"`},
		{name: "client id of another, user in the URL", args: []string{"--mqtt", "mqtt://tributary-bridge-2@b", "--client-id", "x"},
			wantErr: `differs from the user name "tributary-bridge-2"`},
		{name: "anonymous client id", args: []string{"--client-id", "bridge-a"}, check: func(t *testing.T, c *config) {
			if c.mqtt.ClientID != "bridge-a" {
				t.Errorf("client id %q", c.mqtt.ClientID)
			}
		}},
		{name: "cert without key", args: []string{"--mqtt-cert", "c.pem"}, wantErr: "go together"},
		{name: "redis cert without key", args: []string{"--redis-cert", "c.pem"}, wantErr: "go together"},
		{name: "empty password file", args: []string{"--mqtt-password-file", empty}, wantErr: "is empty"},
		{name: "missing password file", args: []string{"--redis-password-file", filepath.Join(t.TempDir(), "nope")}, wantErr: "--redis-password-file"},
		{name: "bad mappings", args: []string{"--mappings", badMappings}, wantErr: `line 3: unknown key "formt"`},
		{name: "arguments", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "bad level", args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{name: "zero queue", args: []string{"--queue-size", "0"}, wantErr: "must be > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestHelpHidesEnvironmentPasswords(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"MQTT_URL": "mqtt://u:mqtt-env-secret@h", "REDIS_URL": "redis://:redis-env-secret@h"}
	c, err := parseFlags([]string{"--help"}, &out, func(k string) string { return env[k] })
	if err != nil || c != nil {
		t.Fatalf("--help: %v, %v", c, err)
	}
	for _, s := range []string{"mqtt-env-secret", "redis-env-secret"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("--help shows %q:\n%s", s, out.String())
		}
	}
	for _, want := range []string{"Usage: bridge", "-mqtt URL", "-mqtt-password-file", "-group", "-mappings"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// The binary's whole path, secured: mosquitto with TLS, passwords and the
// shipped ACL; Redis with a password; passwords in files and (wrong ones)
// in the URLs. The agent's batch arrives, /metrics counts it, and no
// password is ever logged.
func TestRunSecuredNeverLogsSecrets(t *testing.T) {
	certs := testcert.New(t)
	mq := mosquittotest.Start(t, mosquittotest.Options{TLSCertFile: certs.Cert, TLSKeyFile: certs.Key,
		ACLFile: filepath.Join("..", "..", "deploy", "mosquitto", "acl"), ConfigFile: deployConf,
		Users: map[string]string{"tributary-bridge-1": "mqtt-secret", "pi-1": "pi-secret"}})
	rd := redistest.Start(t, redistest.Options{Password: "redis-secret"})
	mqttPw := writeFile(t, "mqtt-pw", "mqtt-secret\n")
	redisPw := writeFile(t, "redis-pw", "redis-secret\n")

	r := proctest.Go(t, func(ctx context.Context, log io.Writer) error {
		return run(ctx, []string{
			"--mqtt", "mqtts://tributary-bridge-1:url-mqtt-secret@" + mq.Addr(), "--mqtt-username", "tributary-bridge-1",
			"--mqtt-password-file", mqttPw, "--mqtt-ca", certs.CA,
			"--redis", "redis://:url-redis-secret@" + rd.Addr(), "--redis-password-file", redisPw,
			"--metrics-listen", "127.0.0.1:0", "--log-level", "debug",
		}, io.Discard, log)
	})
	logs := r.Log
	metrics := logs.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, logTimeout)
	logs.Await(t, `msg="mqtt subscribed"`, logTimeout)
	readyz := strings.TrimSuffix(metrics, "/metrics") + "/readyz"
	if code, body := get(t, readyz); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz once subscribed: %d %q", code, body)
	}

	o := mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID(mqttwire.EdgeClientID("pi-1")).SetUsername("pi-1").
		SetPassword("pi-secret").SetTLSConfig(certs.TLSConfig()).SetCleanSession(false)
	agent := mqtt.NewClient(o)
	if tok := agent.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent connect: %v", tok.Error())
	}
	defer agent.Disconnect(100)
	st := store.New(rd.Client(t), store.Options{})
	rs := []reading.Reading{{Device: "pi-1", Sensor: "s", Metric: "temperature", Value: 20, Unit: "Cel", Time: time.Now(), Seq: 1}}
	// The bridge may still be subscribing: publish until the reading is in.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if tok := agent.Publish(mqttwire.ReadingsTopic("pi-1"), 1, false, reading.AppendBatch(nil, rs)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		if seq, err := st.LastSeq(context.Background(), "pi-1"); err == nil && seq == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading not stored within 20s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The bridge counts the reading just after Redis has it: await it.
	wants := []string{"tributary_bridge_readings_stored_total 1", "tributary_bridge_mqtt_up 1", "tributary_bridge_redis_up 1", "tributary_bridge_build_info"}
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, body := get(t, metrics)
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(body, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q after 20s:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := r.Stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := logs.String()
	for _, secret := range []string{"mqtt-secret", "redis-secret", "pi-secret", "url-mqtt-secret", "url-redis-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "xxxxx") {
		t.Errorf("log shows no redacted URL:\n%s", out)
	}
}

// /readyz fails while the bridge is not connected and subscribed (before
// the first connection, after it loses the broker) and passes again once
// it has resubscribed. The bridge's connection lost is counted.
func TestReadyzFollowsTheBroker(t *testing.T) {
	mq := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	mq.Stop()
	rd := redistest.Start(t, redistest.Options{})
	r := proctest.Go(t, func(ctx context.Context, log io.Writer) error {
		return run(ctx, []string{"--mqtt", mq.URL(), "--redis", rd.URL(), "--client-id", "bridge-readyz",
			"--metrics-listen", "127.0.0.1:0", "--log-level", "debug"}, io.Discard, log)
	})
	metrics := r.Log.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, logTimeout)
	readyz := strings.TrimSuffix(metrics, "/metrics") + "/readyz"
	// "not connected to the MQTT broker yet", or after the first attempt
	// "MQTT connect failed: ...".
	if code, body := get(t, readyz); code != http.StatusServiceUnavailable || !strings.Contains(body, "MQTT") {
		t.Errorf("/readyz with the broker down from the start: %d %q", code, body)
	}
	awaitReadyz := func(what string, ok func(code int, body string) bool) {
		t.Helper()
		awaitTrue(t, what, func() bool { return ok(get(t, readyz)) })
	}
	mq.Restart(t)
	awaitReadyz("/readyz 200 once subscribed", func(code int, body string) bool { return code == http.StatusOK && body == "ready\n" })
	mq.Stop()
	awaitReadyz("/readyz 503 with the connection lost", func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "MQTT connection lost")
	})
	r.Log.Await(t, `level=WARN msg="mqtt connection lost`, logTimeout)
	if code, body := get(t, metrics); code != http.StatusOK || !strings.Contains(body, "tributary_bridge_mqtt_connections_lost_total 1") {
		t.Errorf("/metrics does not count the lost connection: %d\n%s", code, body)
	}
	mq.Restart(t)
	awaitReadyz("/readyz 200 again", func(code int, body string) bool { return code == http.StatusOK })
	if err := r.Stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// startProc runs the bridge binary until the test ends.
func startProc(t *testing.T, args ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, "bridge", bins.Path(t, "github.com/tributary-iot/tributary/cmd/bridge"), args...)
}

// The bridge process is killed with SIGKILL three times while an agent
// publishes, and started again each time with the same client id: every
// reading ends up in Redis once and in order (what a killed bridge stored
// but had not acknowledged comes again and is deduplicated).
func TestBridgeProcessKilledRepeatedly(t *testing.T) {
	mq := mosquittotest.Start(t, mosquittotest.Options{LogTypes: []string{"all"}})
	rd := redistest.Start(t, redistest.Options{})
	st := store.New(rd.Client(t), store.Options{})
	args := []string{"--mqtt", mq.URL(), "--redis", rd.URL(), "--client-id", "bridge-killed", "--metrics-listen", ""}
	p := startProc(t, args...)
	// The broker keeps messages only for subscriptions it has: publish once
	// the first bridge has subscribed.
	p.Await(t, `msg="mqtt subscribed"`, logTimeout)

	agent := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL()).SetClientID(mqttwire.EdgeClientID("pi-1")).SetCleanSession(false))
	if tok := agent.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("agent connect: %v", tok.Error())
	}
	defer agent.Disconnect(100)
	const batches, per = 400, 10
	published := make(chan error, 1)
	go func() {
		t0 := time.Now().UTC()
		for i := range batches {
			rs := make([]reading.Reading, per)
			for j := range rs {
				seq := uint64(i*per + j + 1)
				rs[j] = reading.Reading{Device: "pi-1", Sensor: "s", Metric: "temperature", Value: float64(seq), Unit: "Cel", Time: t0.Add(time.Duration(seq) * time.Millisecond), Seq: seq}
			}
			tok := agent.Publish(mqttwire.ReadingsTopic("pi-1"), 1, false, reading.AppendBatch(nil, rs))
			if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
				published <- fmt.Errorf("publish %d: %v", i, tok.Error())
				return
			}
			if i%20 == 19 {
				time.Sleep(5 * time.Millisecond) // spread the batches over the kills
			}
		}
		published <- nil
	}()
	stored := func() int64 {
		n, _ := st.Client().XLen(context.Background(), st.StreamKey("pi-1")).Result()
		return n
	}
	for kill := 1; kill <= 3; kill++ {
		target := int64(kill * batches * per / 5)
		awaitTrue(t, fmt.Sprintf("%d readings stored before kill %d", target, kill), func() bool { return stored() >= target })
		p.Kill(t)
		p = startProc(t, args...)
		p.Await(t, `msg="mqtt subscribed"`, logTimeout)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	awaitTrue(t, "every reading stored", func() bool { return stored() >= batches*per })

	raws, err := st.History(context.Background(), "pi-1", store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	var last uint64
	inOrder := true
	for _, raw := range raws {
		r, err := reading.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Seq]++
		if r.Seq < last {
			inOrder = false
		}
		last = r.Seq
	}
	missing, dups := 0, 0
	for s := uint64(1); s <= batches*per; s++ {
		switch n := seen[s]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("produced %d, stored %d, missing %d, duplicated %d; the broker redelivered %d messages to the bridge",
		batches*per, len(raws), missing, dups, strings.Count(mq.Log(), "Sending PUBLISH to bridge-killed (d1"))
	if missing != 0 || dups != 0 || len(raws) != batches*per || !inOrder {
		t.Fatalf("want every reading once and in order: missing %d, duplicated %d, in order %v", missing, dups, inOrder)
	}
}

// awaitTrue polls cond every 10ms until it holds, failing after 60s.
func awaitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadyzFollowsRedis: the bridge says at once when Redis is
// unreachable, at start and later while no message arrives, and /readyz
// answers 503 while it is, 200 once it answers again.
func TestReadyzFollowsRedis(t *testing.T) {
	mq := mosquittotest.Start(t, mosquittotest.Options{})
	rd := redistest.New(t, redistest.Options{}) // down at start
	r := proctest.Go(t, func(ctx context.Context, log io.Writer) error {
		return run(ctx, []string{"--mqtt", mq.URL(), "--redis", rd.URL(), "--client-id", "bridge-readyz",
			"--metrics-listen", "127.0.0.1:0", "--redis-check-interval", "100ms"}, io.Discard, log)
	})
	logs := r.Log
	readyz := strings.TrimSuffix(logs.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, logTimeout), "metrics") + "readyz"
	ready := func(want int) {
		t.Helper()
		awaitTrue(t, fmt.Sprintf("GET /readyz %d", want), func() bool {
			resp, err := http.Get(readyz)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode == want
		})
	}
	logs.Await(t, `level=ERROR msg="redis unreachable at start.* err=".*connection refused`, logTimeout)
	ready(http.StatusServiceUnavailable)

	rd.Restart(t)
	ready(http.StatusOK)
	logs.Await(t, `msg="redis reachable again" down_for=`, logTimeout)

	rd.Stop()
	logs.Await(t, `level=ERROR msg="redis unreachable; readings wait`, logTimeout)
	ready(http.StatusServiceUnavailable)

	rd.Restart(t)
	ready(http.StatusOK)
	awaitTrue(t, "a second line saying redis is back", func() bool {
		return strings.Count(logs.String(), `msg="redis reachable again"`) == 2
	})
}

// "bridge mappings --example" prints the embedded example, which --check
// (and so --mappings) accepts; --help points to the reference, not to a
// test file.
func TestMappingsSubcommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"mappings", "--example"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != bridge.ExampleMappings() || !strings.Contains(out.String(), "zigbee2mqtt/#") {
		t.Fatalf("mappings --example printed %d bytes, not the example file", out.Len())
	}
	file := writeFile(t, "example.yaml", out.String())
	out.Reset()
	if err := run(context.Background(), []string{"mappings", "--check", file}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "5 mappings, valid") {
		t.Fatalf("mappings --check of the example: %v, %q", err, out.String())
	}
	bad := writeFile(t, "bad.yaml", "mappings:\n  - topic: a/+\n    format: flat\n    device_level: 2\n    device_prefix: a-\n    times: later\n    sensor: s\n    fields: {t: {metric: temperature, unit: Cel}}\n")
	if err := run(context.Background(), []string{"mappings", "--check", bad}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `line 2: mappings[0]: times "later"`) {
		t.Errorf("mappings --check of a bad file: %v", err)
	}
	// Mappings whose device ids could meet: refused, naming both.
	overlap := writeFile(t, "overlap.yaml", "mappings:\n"+
		"  - {name: zigbee, topic: zigbee2mqtt/+, format: flat, device_level: 2, device_prefix: z2m-, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}\n"+
		"  - {name: zwave, topic: zwave/+, format: flat, device_level: 2, device_prefix: z, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}\n")
	if err := run(context.Background(), []string{"mappings", "--check", overlap}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), `line 3: mappings[1]: device ids overlap: device_prefix "z" of mapping "zwave" begins device_prefix "z2m-" of mapping "zigbee"`) {
		t.Errorf("mappings --check of overlapping mappings: %v", err)
	}
	noPrefix := writeFile(t, "noprefix.yaml", "mappings:\n  - {name: tasmota, topic: tele/+/SENSOR, format: flat, device_level: 2, sensor: s, fields: {t: {metric: temperature, unit: Cel}}}\n")
	if err := run(context.Background(), []string{"mappings", "--check", noPrefix}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), `line 2: mappings[0]: device_prefix: missing`) {
		t.Errorf("mappings --check of a mapping without a prefix: %v", err)
	}
	for _, args := range [][]string{{"mappings"}, {"mappings", "--example", "--check", file}, {"mappings", "extra"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); !errors.As(err, new(cli.UsageError)) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	out.Reset()
	if _, err := parseFlags([]string{"--help"}, &out, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if h := out.String(); !strings.Contains(h, "bridge/README.md") || !strings.Contains(h, "bridge mappings --example") || strings.Contains(h, "testdata") {
		t.Errorf("--help does not point to the mapping reference:\n%s", h)
	}
}
