package mqttwire

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/internal/tlsfiles"
)

// Broker says how to reach an MQTT broker: the one options type of the
// agent's uplink and of the bridge. URL is required; every other field's
// zero value is usable.
type Broker struct {
	// URL is mqtt://host[:port] (default port 1883) or mqtts://host[:port]
	// for TLS (default 8883); tcp://, ssl:// and tls:// work too. Whether
	// it may carry user info is the user's rule (see URL.User).
	URL string
	// Username and Password authenticate the client; the password is never
	// logged (read it from a file: internal/secret). Default: the user's
	// (the agent: its device id; the bridge: the URL's user info).
	Username, Password string
	// ClientID names the client's persistent session at the broker. With
	// a user name it must be empty or the user name (see ClientID), which
	// is the default; without one, the user's default (BridgeClientID).
	ClientID string
	// TLS is the base configuration of an mqtts:// connection. Default:
	// the system roots, TLS 1.2 at least.
	TLS *tls.Config
	// CAFile is a PEM bundle to verify an mqtts:// broker with, in place of
	// the roots of TLS.
	CAFile string
	// CertFile and KeyFile are a client certificate for brokers that
	// require one (require_certificate true). They go together.
	CertFile, KeyFile string
	// KeepAlive is the MQTT keep-alive interval. Default 30s.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt. Default 10s.
	ConnectTimeout time.Duration
}

// Defaults for Broker.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// User is the user name b authenticates with: Username, else the user
// info of URL ("" for none, or for a URL that does not parse).
func (b Broker) User() string {
	if b.Username != "" {
		return b.Username
	}
	if u, err := ParseURL(b.URL); err == nil && u.User != nil {
		return u.User.Username()
	}
	return ""
}

// CheckClientID says whether b.ClientID follows the rule of ClientID: empty
// or b's user name when b has one.
func (b Broker) CheckClientID() error {
	_, err := ClientID(b.User(), b.ClientID, "")
	return err
}

// TLSConfig returns the TLS configuration for a connection to b: nil when
// secure is false (an error if b has TLS settings), else a copy of b.TLS
// with b's files loaded. secure is ParseURL(b.URL).Secure.
func (b Broker) TLSConfig(secure bool) (*tls.Config, error) {
	if !secure {
		if b.TLS != nil || b.CAFile != "" || b.CertFile != "" || b.KeyFile != "" {
			return nil, fmt.Errorf("MQTT TLS settings given but %s is not an mqtts:// URL", secret.RedactURL(b.URL))
		}
		return nil, nil
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		return nil, errors.New("MQTT client certificate and key go together")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.TLS != nil {
		c = b.TLS.Clone()
	}
	if err := tlsfiles.Apply(c, b.CAFile, b.CertFile, b.KeyFile); err != nil {
		return nil, fmt.Errorf("MQTT %w", err)
	}
	return c, nil
}

// URL is a checked broker URL.
type URL struct {
	// Server is the broker for an MQTT client library (paho's schemes):
	// tcp://host:port or ssl://host:port, without user info or path.
	Server string
	// Secure is true for mqtts:// (ssl://, tls://): TLS.
	Secure bool
	// User is the URL's user info; nil when it has none. The edge refuses
	// it, the bridge uses it below Broker's Username and Password.
	User *url.Userinfo
}

// schemes maps the broker URL schemes to whether they mean TLS.
var schemes = map[string]bool{"mqtt": false, "tcp": false, "mqtts": true, "ssl": true, "tls": true}

// IsURL reports whether raw names an MQTT broker by its scheme, whether or
// not ParseURL accepts the rest of it.
func IsURL(raw string) bool {
	scheme, _, ok := strings.Cut(raw, "://")
	_, known := schemes[strings.ToLower(scheme)]
	return ok && known
}

// ParseURL checks a broker URL and fills in the default port. Its errors
// show the URL with any password masked.
func ParseURL(raw string) (URL, error) {
	p, err := url.Parse(raw)
	if err != nil {
		return URL{}, fmt.Errorf("MQTT URL %s: malformed", secret.RedactURL(raw))
	}
	secure, ok := schemes[p.Scheme]
	if !ok {
		return URL{}, fmt.Errorf("MQTT URL %s: scheme %q, want mqtt:// or mqtts://", secret.RedactURL(raw), p.Scheme)
	}
	if p.Hostname() == "" {
		return URL{}, fmt.Errorf("MQTT URL %s: no host", secret.RedactURL(raw))
	}
	if p.Path != "" && p.Path != "/" {
		return URL{}, fmt.Errorf("MQTT URL %s: unexpected path", secret.RedactURL(raw))
	}
	if p.RawQuery != "" || p.Fragment != "" || p.ForceQuery {
		return URL{}, fmt.Errorf("MQTT URL %s: unexpected query or fragment", secret.RedactURL(raw))
	}
	if ps := p.Port(); ps != "" {
		if n, err := strconv.Atoi(ps); err != nil || n < 1 || n > 65535 || ps[0] == '0' {
			return URL{}, fmt.Errorf("MQTT URL %s: port %q, want 1 to 65535", secret.RedactURL(raw), ps)
		}
	}
	u := URL{Secure: secure, User: p.User}
	scheme, port := "tcp", "1883"
	if secure {
		scheme, port = "ssl", "8883"
	}
	u.Server = scheme + "://" + net.JoinHostPort(p.Hostname(), cmp.Or(p.Port(), port))
	if _, err := url.Parse(u.Server); err != nil { // a host such as "::"
		return URL{}, fmt.Errorf("MQTT URL %s: malformed host", secret.RedactURL(raw))
	}
	return u, nil
}
