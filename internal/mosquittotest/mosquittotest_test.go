package mosquittotest_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/testcert"
)

// connect connects a paho client and fails the test if that does not work
// within 10s; it returns the connect error otherwise.
func connect(t *testing.T, url, id, user, password string, clean bool, tlsConf *tls.Config, h mqtt.MessageHandler) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(password).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetDefaultPublishHandler(h)
	if tlsConf != nil {
		o.SetTLSConfig(tlsConf)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s as %s: no answer in 10s", url, id)
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, tok.Error()
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func subscribe(t *testing.T, c mqtt.Client, filter string) {
	t.Helper()
	tok := c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

func await(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("received %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no message %q within 10s", want)
	}
}

func collect() (chan string, mqtt.MessageHandler) {
	ch := make(chan string, 100)
	return ch, func(_ mqtt.Client, m mqtt.Message) { ch <- string(m.Payload()) }
}

func TestPlainBrokerRelays(t *testing.T) {
	srv := mosquittotest.Start(t, mosquittotest.Options{})
	if !strings.HasPrefix(srv.URL(), "mqtt://127.0.0.1:") || srv.Port == 1883 {
		t.Fatalf("URL %s: want a free loopback port", srv.URL())
	}
	ch, h := collect()
	sub, err := connect(t, srv.URL(), "sub", "", "", true, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub, "a/#")
	pub, err := connect(t, srv.URL(), "pub", "", "", true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "a/b", "hello")
	await(t, ch, "hello")
}

// Passwords written by mosquitto_passwd and by the Go fallback are both
// accepted by the broker, and a wrong password is refused.
func TestPasswordFiles(t *testing.T) {
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	check := func(t *testing.T, srv *mosquittotest.Server) {
		for name, pw := range users {
			if _, err := connect(t, srv.URL(), "c-"+name, name, pw, true, nil, nil); err != nil {
				t.Errorf("%s with the right password: %v", name, err)
			}
		}
		if _, err := connect(t, srv.URL(), "c-wrong", "alice", "bob-pw", true, nil, nil); err == nil {
			t.Error("alice with a wrong password was accepted")
		}
		if _, err := connect(t, srv.URL(), "c-anon", "", "", true, nil, nil); err == nil {
			t.Error("an anonymous client was accepted")
		}
	}
	t.Run("mosquitto_passwd", func(t *testing.T) {
		check(t, mosquittotest.Start(t, mosquittotest.Options{Users: users}))
	})
	t.Run("go", func(t *testing.T) {
		// The broker reads whatever password file is in its directory: write
		// it with the Go fallback and restart.
		srv := mosquittotest.Start(t, mosquittotest.Options{Users: users})
		if err := mosquittotest.WritePasswordFileGo(filepath.Join(srv.Dir, "passwd"), users); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(srv.Dir, "passwd"))
		if err != nil || !strings.HasPrefix(string(b), "alice:$7$101$") {
			t.Fatalf("password file %q, %v", b, err)
		}
		srv.Restart(t)
		check(t, srv)
	})
}

// The Go checker agrees with lines mosquitto_passwd writes, so the Go
// writer's format is the one mosquitto uses.
func TestCheckPasswordLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := mosquittotest.WritePasswordFile(path, map[string]string{"u": "secret"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"secret": true, "other": false} {
		got, err := mosquittotest.CheckPasswordLine(string(b), pw)
		if err != nil || got != want {
			t.Errorf("CheckPasswordLine(%q, %q) = %v, %v; want %v", b, pw, got, err, want)
		}
	}
}

// With persistence, a clean Stop and Restart keeps the port, the offline
// subscriber's session and the QoS 1 message queued for it.
func TestRestartKeepsPortAndSession(t *testing.T) {
	srv := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
	port := srv.Port
	ch, h := collect()
	sub, err := connect(t, srv.URL(), "durable", "", "", false, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub, "q/#")
	sub.Disconnect(100)
	pub, err := connect(t, srv.URL(), "pub", "", "", true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "q/1", "queued")
	pub.Disconnect(100)

	srv.Restart(t)
	if srv.Port != port {
		t.Fatalf("port %d after restart, was %d", srv.Port, port)
	}
	if _, err := connect(t, srv.URL(), "durable", "", "", false, nil, h); err != nil {
		t.Fatal(err)
	}
	await(t, ch, "queued")
}

// Without persistence, a restart forgets sessions: the contrast that shows
// the test above is not vacuous.
func TestRestartWithoutPersistenceForgets(t *testing.T) {
	srv := mosquittotest.Start(t, mosquittotest.Options{})
	ch, h := collect()
	sub, err := connect(t, srv.URL(), "durable", "", "", false, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub, "q/#")
	sub.Disconnect(100)
	srv.Restart(t)
	pub, err := connect(t, srv.URL(), "pub", "", "", true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "q/1", "lost")
	if _, err := connect(t, srv.URL(), "durable", "", "", false, nil, h); err != nil {
		t.Fatal(err)
	}
	// A marker published after reconnecting, on a topic the new session
	// does subscribe to, arrives; "lost" must not come before it.
	sub2, err := connect(t, srv.URL(), "durable2", "", "", true, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, sub2, "m")
	publish(t, pub, "m", "marker")
	await(t, ch, "marker")
}

func TestTLSListener(t *testing.T) {
	certs := testcert.New(t)
	srv := mosquittotest.Start(t, mosquittotest.Options{TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, Users: map[string]string{"u": "pw"}})
	if !strings.HasPrefix(srv.URL(), "mqtts://") {
		t.Fatalf("URL %s", srv.URL())
	}
	if _, err := connect(t, srv.URL(), "tls", "u", "pw", true, certs.TLSConfig(), nil); err != nil {
		t.Fatalf("TLS client trusting the test CA: %v", err)
	}
	if _, err := connect(t, srv.URL(), "tls-untrusting", "u", "pw", true, &tls.Config{MinVersion: tls.VersionTLS12}, nil); err == nil {
		t.Fatal("a client that does not trust the test CA connected")
	}
	if _, err := connect(t, "mqtt://"+srv.Addr(), "plain", "u", "pw", true, nil, nil); err == nil {
		t.Fatal("a plain client connected to the TLS listener")
	}
}

func TestKillAndRestart(t *testing.T) {
	srv := mosquittotest.Start(t, mosquittotest.Options{})
	srv.Kill()
	if _, err := connect(t, srv.URL(), "after-kill", "", "", true, nil, nil); err == nil {
		t.Fatal("connected to a killed broker")
	}
	srv.Restart(t)
	if _, err := connect(t, srv.URL(), "after-restart", "", "", true, nil, nil); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !strings.Contains(srv.Log(), "running") {
		t.Errorf("log has no start line:\n%s", srv.Log())
	}
}
