package bridge

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/testcert"
	"github.com/tributary-iot/tributary/mqttwire"
)

// users of the secured broker: two bridge replicas and two devices, as the
// shipped ACL knows them.
var users = map[string]string{"tributary-bridge-1": "bridge-secret", "tributary-bridge-2": "bridge-2-secret",
	"pi-a": "pi-a-secret", "pi-b": "pi-b-secret"}

// The deployment's shape: TLS, passwords and the shipped ACL. The bridge
// authenticates with its password and verifies the broker with the CA;
// an agent's batch arrives in Redis.
func TestTLSAndPassword(t *testing.T) {
	certs := testcert.New(t)
	e := newEnv(t, mosquittotest.Options{TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, Users: users, ACLFile: deployACL})
	br := startBridge(t, e, func(o *Options) {
		o.MQTT.CAFile, o.MQTT.Username, o.MQTT.Password = certs.CA, "tributary-bridge-1", "bridge-secret"
	})
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "pi-a", "pi-a-secret", func(o *mqtt.ClientOptions) { o.SetTLSConfig(certs.TLSConfig()) })
	publish(t, c, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 1, 3)), false)
	awaitCount(t, e.st, "pi-a", 3)
	checkExactlyOnceInOrder(t, e.st, "pi-a", 1, 3)
	if strings.Contains(br.logs.String(), "bridge-secret") {
		t.Errorf("the bridge logged its password:\n%s", br.logs.String())
	}
}

// The user name and password may come in the URL; the log shows neither
// the password nor the URL with it. A password option overrides the URL's.
// The client id is the URL's user name.
func TestCredentialsInURL(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{Users: users, ACLFile: deployACL})
	withURL := func(user, pw string) func(*Options) {
		return func(o *Options) { o.MQTT.URL = "mqtt://" + user + ":" + pw + "@" + e.mq.Addr() }
	}
	br := startBridge(t, e, withURL("tributary-bridge-1", "bridge-secret"))
	over := startBridge(t, e, func(o *Options) { withURL("tributary-bridge-2", "url-secret")(o); o.MQTT.Password = "bridge-2-secret" })
	if br.b.ClientID() != "tributary-bridge-1" || over.b.ClientID() != "tributary-bridge-2" {
		t.Errorf("client ids %q and %q, want the URLs' user names", br.b.ClientID(), over.b.ClientID())
	}
	for _, r := range []*running{br, over} {
		for _, secret := range []string{"bridge-secret", "bridge-2-secret", "url-secret"} {
			if strings.Contains(r.logs.String(), secret) {
				t.Errorf("log shows %q:\n%s", secret, r.logs.String())
			}
		}
		if !strings.Contains(r.logs.String(), r.b.ClientID()+":xxxxx@") {
			t.Errorf("log does not show the redacted URL:\n%s", r.logs.String())
		}
	}
}

// A wrong password or an untrusted broker keeps the bridge retrying, with
// the reason in its log and never the password.
func TestConnectFailuresAreLoggedWithoutSecrets(t *testing.T) {
	certs := testcert.New(t)
	e := newEnv(t, mosquittotest.Options{TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, Users: users, ACLFile: deployACL})
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"wrong password", func(o *Options) {
			o.MQTT.CAFile, o.MQTT.Username, o.MQTT.Password = certs.CA, "tributary-bridge-1", "wrong-secret"
		}, "mqtt connect failed"},
		{"untrusted broker", func(o *Options) {
			o.MQTT.Username, o.MQTT.Password = "tributary-bridge-1", "bridge-secret"
		}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuf{}
			opt := Options{Store: e.st, MQTT: mqttwire.Broker{URL: e.mq.URL()}, MaxBackoff: 100 * time.Millisecond}
			tc.edit(&opt)
			opt.Logger = newTestLogger(logs)
			b, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- b.Run(ctx) }()
			eventually(t, "a connect failure in the log", func() bool { return strings.Contains(logs.String(), tc.want) })
			select {
			case <-b.Ready():
				t.Fatal("the bridge became ready")
			default:
			}
			if err := b.CheckReady(); err == nil || !strings.Contains(err.Error(), "MQTT connect failed") ||
				strings.Contains(err.Error(), "secret") {
				t.Errorf("CheckReady: %v, want the connect failure without a password", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"wrong-secret", "bridge-secret"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("log shows %q:\n%s", secret, logs.String())
				}
			}
		})
	}
}

// A broker that requires client certificates accepts the bridge with its
// certificate and key.
func TestClientCertificate(t *testing.T) {
	certs := testcert.New(t)
	client := newClientCert(t)
	e := newEnv(t, mosquittotest.Options{TLSCertFile: certs.Cert, TLSKeyFile: certs.Key, TLSClientCAFile: client.ca})
	startBridge(t, e, func(o *Options) {
		o.MQTT.CAFile, o.MQTT.CertFile, o.MQTT.KeyFile = certs.CA, client.cert, client.key
	})
	cert, err := tls.LoadX509KeyPair(client.cert, client.key)
	if err != nil {
		t.Fatal(err)
	}
	conf := certs.TLSConfig()
	conf.Certificates = []tls.Certificate{cert}
	c := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "", "", func(o *mqtt.ClientOptions) { o.SetTLSConfig(conf) })
	publish(t, c, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 1, 2)), false)
	awaitCount(t, e.st, "pi-a", 2)
	// Without a certificate the broker refuses the agent.
	if _, err := dialMQTT(t, e.mq.URL(), "no-cert", "", "", func(o *mqtt.ClientOptions) {
		o.SetTLSConfig(certs.TLSConfig()).SetAutoReconnect(false)
	}); err == nil {
		t.Fatal("a client without a certificate connected")
	}
}

// The shipped ACL: a device cannot publish under another device's topics
// (the broker drops it; the bridge never receives it), nor read them, while
// its own messages and the other device's own go through.
func TestACLDeviceOnlyOwnTopic(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{Users: users, ACLFile: deployACL})
	br := startBridge(t, e, func(o *Options) {
		o.MQTT.Username, o.MQTT.Password = "tributary-bridge-1", "bridge-secret"
		o.Group = "g"
	})
	a := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "pi-a", "pi-a-secret", nil)
	status, err := mqttwire.EncodeStatus(mqttwire.Status{Online: true, Boot: "forged", FirstSeq: 1, Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	// pi-a tries to pass as pi-b, with pi-b's readings and with its own.
	publish(t, a, mqttwire.ReadingsTopic("pi-b"), encode(batch("pi-b", 1, 5)), false)
	publish(t, a, mqttwire.ReadingsTopic("pi-b"), encode(batch("pi-a", 1, 5)), false)
	publish(t, a, mqttwire.StatusTopic("pi-b"), status, true)
	publish(t, a, "tributary/pi-b", []byte("x"), false)
	// Then a batch of its own: once it is stored, anything published
	// before it on the same connection would have been delivered first.
	publish(t, a, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 100, 101)), false)
	awaitCount(t, e.st, "pi-a", 2)

	if got := storedSeqs(t, e.st, "pi-b"); len(got) != 0 {
		t.Errorf("pi-b has readings %v published by pi-a", got)
	}
	if got := storedSeqs(t, e.st, "pi-a"); len(got) != 2 {
		t.Errorf("pi-a has readings %v, want only 100 and 101", got)
	}
	if boots, err := e.st.Boots(context.Background(), "pi-b"); err != nil || len(boots) != 0 {
		t.Errorf("pi-b boots %v, %v", boots, err)
	}
	if dl := deadLetters(t, e.rdb); len(dl) != 0 {
		t.Errorf("dead letters %v: a forbidden message reached the bridge", dl)
	}
	if n := br.counter(t, "tributary_bridge_messages_received_total", "kind", "readings") + br.counter(t, "tributary_bridge_messages_received_total", "kind", "status"); n != 1 {
		t.Errorf("the bridge received %v messages, want only pi-a's own batch", n)
	}

	// pi-a may not read other devices' readings either. mosquitto 2.0
	// grants the subscription and checks the ACL at each delivery.
	leaked := make(chan string, 10)
	tok := a.Subscribe(mqttwire.ReadingsFilter, 1, func(_ mqtt.Client, m mqtt.Message) { leaked <- m.Topic() })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	// pi-b itself is welcome on its own topics.
	b := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-b"), "pi-b", "pi-b-secret", nil)
	publish(t, b, mqttwire.ReadingsTopic("pi-b"), encode(batch("pi-b", 1, 3)), false)
	awaitCount(t, e.st, "pi-b", 3)
	checkExactlyOnceInOrder(t, e.st, "pi-b", 1, 3)
	// The broker handled pi-b's batch for every subscriber before the
	// bridge stored it; a round trip of pi-a's own then flushes anything
	// queued for pi-a ahead of its PUBACK.
	publish(t, a, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 102, 102)), false)
	select {
	case topic := <-leaked:
		t.Errorf("pi-a received a message on %s", topic)
	default:
	}
}

// clientCert is a client certificate with its own CA, in PEM files.
type clientCert struct{ ca, cert, key string }

func newClientCert(t *testing.T) clientCert {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tributary test client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tributary-bridge"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})) }
	return clientCert{
		ca:   writeFile(t, dir, "client-ca.pem", pemOf("CERTIFICATE", caDER)),
		cert: writeFile(t, dir, "client.pem", pemOf("CERTIFICATE", der)),
		key:  writeFile(t, dir, "client-key.pem", pemOf("EC PRIVATE KEY", keyDER)),
	}
}

// The shipped ACL lets a device publish on its readings and status topics
// only: nothing else under its own prefix, where retained messages would
// let it keep any amount of data in the broker.
func TestACLDeviceOnlyTwoTopics(t *testing.T) {
	e := newEnv(t, mosquittotest.Options{Users: users, ACLFile: deployACL, LogTypes: []string{"all"}})
	a := mqttClient(t, e.mq.URL(), mqttwire.EdgeClientID("pi-a"), "pi-a", "pi-a-secret", nil)
	for i := range 3 {
		publish(t, a, fmt.Sprintf("tributary/pi-a/junk/%d", i), bytes.Repeat([]byte("x"), 100000), true)
	}
	eventually(t, "the broker to deny the three publishes", func() bool {
		return strings.Count(e.mq.Log(), "Denied PUBLISH from pi-a") >= 3
	})
	publish(t, a, mqttwire.ReadingsTopic("pi-a"), encode(batch("pi-a", 1, 1)), false)
	if strings.Contains(e.mq.Log(), "Denied PUBLISH from pi-a (d0, q1, r0, m") && strings.Contains(e.mq.Log(), "'tributary/pi-a/readings'") {
		t.Errorf("the broker denied pi-a's own readings:\n%s", e.mq.Log())
	}
}
