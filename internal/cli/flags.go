package cli

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"

	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// Conn holds the flags that say how to reach one server (Redis or an MQTT
// broker): --NAME for the URL, --NAME-ca, --NAME-cert, --NAME-key and
// --NAME-password-file, and --NAME-username where the protocol has user
// names outside its URL. Passwords come from files only, never from a
// flag's value.
type Conn struct {
	Name                      string // the flags' prefix: "redis", "mqtt"
	URL                       string
	CAFile, CertFile, KeyFile string
	PasswordFile              string
	Username                  string
}

// Register defines the flags on fs. urlUsage is the --NAME flag's help;
// withUsername adds --NAME-username with userUsage as its help.
func (c *Conn) Register(fs *flag.FlagSet, urlUsage string, withUsername bool, userUsage string) {
	n := c.Name
	scheme := n + "s://"
	fs.StringVar(&c.URL, n, c.URL, urlUsage)
	if withUsername {
		fs.StringVar(&c.Username, n+"-username", c.Username, userUsage)
	}
	fs.StringVar(&c.PasswordFile, n+"-password-file", c.PasswordFile, "`file` holding the "+displayName(n)+" password (overrides the URL's)")
	fs.StringVar(&c.CAFile, n+"-ca", c.CAFile, "PEM `file` of CAs to verify a "+scheme+" server with, instead of the system roots")
	fs.StringVar(&c.CertFile, n+"-cert", c.CertFile, "client certificate PEM `file` for "+scheme+" (with --"+n+"-key)")
	fs.StringVar(&c.KeyFile, n+"-key", c.KeyFile, "client key PEM `file` for --"+n+"-cert")
}

// Given reports whether any flag but the URL is set: they need a URL.
func (c *Conn) Given() bool {
	return c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.PasswordFile != "" || c.Username != ""
}

// Check says whether the flags fit together: a client certificate needs
// its key and a key its certificate.
func (c *Conn) Check() error {
	return CertKey("--"+c.Name+"-cert", c.CertFile, "--"+c.Name+"-key", c.KeyFile)
}

// Password reads --NAME-password-file; "" when none is given. The error
// names the flag and the file, never a secret.
func (c *Conn) Password() (string, error) {
	if c.PasswordFile == "" {
		return "", nil
	}
	pw, err := secret.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("--%s-password-file: %w", c.Name, err)
	}
	return pw, nil
}

// CertKey is the check every certificate/key pair of flags needs: both or
// neither.
func CertKey(certFlag, cert, keyFlag, key string) error {
	if (cert == "") != (key == "") {
		return fmt.Errorf("%s and %s go together", certFlag, keyFlag)
	}
	return nil
}

// LogLevel is the --log-level flag.
type LogLevel struct{ text string }

// RegisterLogLevel defines --log-level on fs, default info.
func RegisterLogLevel(fs *flag.FlagSet) *LogLevel {
	l := new(LogLevel)
	fs.StringVar(&l.text, "log-level", "info", "log `level`: debug, info, warn or error")
	return l
}

// Level is the level the flag names.
func (l *LogLevel) Level() (slog.Level, error) {
	var v slog.Level
	if err := v.UnmarshalText([]byte(l.text)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", l.text)
	}
	return v, nil
}

func displayName(n string) string {
	switch n {
	case "mqtt":
		return "MQTT"
	case "redis":
		return "Redis"
	}
	return n
}

// Redis returns the Redis client options the flags say: the URL, the TLS
// files and the password read from its file.
func (c *Conn) Redis() (store.ClientOptions, error) {
	o := store.ClientOptions{URL: c.URL, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
	if err := c.Check(); err != nil {
		return o, err
	}
	var err error
	o.Password, err = c.Password()
	return o, err
}

// MQTT returns the broker options the flags say: the URL, the user name,
// the TLS files and the password read from its file.
func (c *Conn) MQTT() (mqttwire.Broker, error) {
	b := mqttwire.Broker{URL: c.URL, Username: c.Username, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
	if err := c.Check(); err != nil {
		return b, err
	}
	var err error
	b.Password, err = c.Password()
	return b, err
}

// ServerTLS loads the certificate and key of --tls-cert and --tls-key into
// a server configuration (TLS 1.2 at least); nil, nil when neither is
// given.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	if err := CertKey("--tls-cert", certFile, "--tls-key", keyFile); err != nil || certFile == "" {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
