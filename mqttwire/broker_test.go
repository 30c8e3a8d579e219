package mqttwire

import (
	"crypto/tls"
	"net/url"
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/internal/testcert"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw, server string
		secure      bool
		user        string // "-": no user info
	}{
		{"mqtt://broker", "tcp://broker:1883", false, "-"},
		{"mqtt://broker:1884/", "tcp://broker:1884", false, "-"},
		{"tcp://10.0.0.2:1883", "tcp://10.0.0.2:1883", false, "-"},
		{"mqtts://broker", "ssl://broker:8883", true, "-"},
		{"ssl://broker:8884", "ssl://broker:8884", true, "-"},
		{"tls://[::1]", "ssl://[::1]:8883", true, "-"},
		{"mqtt://bridge:pw@broker", "tcp://broker:1883", false, "bridge"},
		{"mqtt://@broker", "tcp://broker:1883", false, ""},
	} {
		u, err := ParseURL(tc.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
			continue
		}
		if u.Server != tc.server || u.Secure != tc.secure {
			t.Errorf("ParseURL(%q) = %s, secure %v; want %s, secure %v", tc.raw, u.Server, u.Secure, tc.server, tc.secure)
		}
		if (u.User == nil) != (tc.user == "-") || (u.User != nil && u.User.Username() != tc.user) {
			t.Errorf("ParseURL(%q).User = %v, want %q", tc.raw, u.User, tc.user)
		}
	}
	for _, tc := range []struct{ raw, contains string }{
		{"http://broker", `scheme "http", want mqtt:// or mqtts://`},
		{"broker:1883", `scheme "broker"`},
		{"mqtt://", "no host"},
		{"mqtt://:1883", "no host"},
		{"mqtt://broker/topic", "unexpected path"},
		{"mqtt:/u:hunter2@broker", "no host"},
		{"mqtt://u:1234/hunter2@broker", "unexpected path"},
		{"mqtt://broker:1883?password=hunter2", "unexpected query"},
		{"mqtt://broker#hunter2", "unexpected query"},
		{"mqtt://broker:99999", `port "99999", want 1 to 65535`},
		{"mqtt://broker:0", `port "0"`},
		{"mqtt://broker:01883", `port "01883"`},
		{"mqtt://u:hunter2@broker:port", "malformed"},
		{"ftp://u:hunter2@broker", "ftp://u:xxxxx@broker"},
	} {
		_, err := ParseURL(tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q): %v, want an error containing %q and no password", tc.raw, err, tc.contains)
		}
	}
}

func TestIsURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"mqtt://h": true, "MQTTS://h": true, "tcp://h": true, "ssl://h": true, "tls://h": true,
		"mqtt://": true, "redis://h": false, "rediss://h": false, "mqtt:h": false, "": false,
	} {
		if got := IsURL(raw); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	certs := testcert.New(t)
	if c, err := (Broker{URL: "mqtt://h"}).TLSConfig(false); c != nil || err != nil {
		t.Errorf("plain broker: %v, %v; want no TLS", c, err)
	}
	base := &tls.Config{ServerName: "broker.example", MinVersion: tls.VersionTLS13}
	c, err := (Broker{URL: "mqtts://h", TLS: base, CAFile: certs.CA}).TLSConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	if c == base || c.ServerName != "broker.example" || c.MinVersion != tls.VersionTLS13 || c.RootCAs == nil || base.RootCAs != nil {
		t.Errorf("TLSConfig did not load the CA into a copy of TLS: %+v", c)
	}
	if c, err := (Broker{URL: "mqtts://h"}).TLSConfig(true); err != nil || c == nil || c.MinVersion != tls.VersionTLS12 || c.RootCAs != nil {
		t.Errorf("default TLS: %+v, %v; want system roots, TLS 1.2 at least", c, err)
	}
	for _, tc := range []struct {
		name     string
		b        Broker
		secure   bool
		contains string
	}{
		{"CA without mqtts", Broker{URL: "mqtt://u:hunter2@h", CAFile: certs.CA}, false, "mqtt://u:xxxxx@h is not an mqtts:// URL"},
		{"TLS without mqtts", Broker{URL: "mqtt://h", TLS: base}, false, "not an mqtts:// URL"},
		{"cert without key", Broker{URL: "mqtts://h", CertFile: certs.Cert}, true, "go together"},
		{"missing CA", Broker{URL: "mqtts://h", CAFile: "/nonexistent/ca.pem"}, true, "MQTT CA"},
		{"not a CA", Broker{URL: "mqtts://h", CAFile: certs.Key}, true, "no PEM certificate"},
	} {
		if _, err := tc.b.TLSConfig(tc.secure); err == nil || !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.contains)
		}
	}
	if c, err := (Broker{URL: "mqtts://h", CertFile: certs.Cert, KeyFile: certs.Key}).TLSConfig(true); err != nil || len(c.Certificates) != 1 {
		t.Errorf("client certificate: %v", err)
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("mqtt://u:hunter2@broker:1883")
	f.Add("mqtts://[::1]/")
	f.Add("tls://u:hunter2@h:x")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err == nil {
			again, err := ParseURL(u.Server)
			if err != nil || again.Server != u.Server || again.Secure != u.Secure {
				t.Fatalf("ParseURL(%q).Server %q does not parse to itself: %+v, %v", raw, u.Server, again, err)
			}
			return
		}
		p, perr := url.Parse(raw)
		if perr != nil {
			if !strings.Contains(err.Error(), "(unparsable URL)") {
				t.Fatalf("ParseURL(%q) error shows the unparseable URL: %v", raw, err)
			}
			return
		}
		if pw, ok := p.User.Password(); ok && pw != "xxxxx" && strings.Contains(err.Error(), p.User.String()+"@") {
			t.Fatalf("ParseURL(%q) error shows the password: %v", raw, err)
		}
	})
}

func TestBrokerUserAndClientID(t *testing.T) {
	for _, tc := range []struct {
		b         Broker
		user, err string
	}{
		{Broker{URL: "mqtt://b"}, "", ""},
		{Broker{URL: "mqtt://b", ClientID: "anon"}, "", ""},
		{Broker{URL: "mqtt://u1:pw@b"}, "u1", ""},
		{Broker{URL: "mqtt://u1:pw@b", Username: "u2", ClientID: "u2"}, "u2", ""},
		{Broker{URL: "mqtt://u1:pw@b", ClientID: "other"}, "u1", `"other" differs from the user name "u1"`},
		{Broker{URL: "mqtt://b", Username: "pi-1", ClientID: "tributary-bridge-1"}, "pi-1", "differs"},
		{Broker{URL: "::", ClientID: "x"}, "", ""},
	} {
		err := tc.b.CheckClientID()
		if got := tc.b.User(); got != tc.user || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: User %q, CheckClientID %v; want %q, error %q", tc.b, got, err, tc.user, tc.err)
		}
	}
}
