package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/internal/tlsfiles"
)

// ClientOptions say how to reach Redis. The zero value of every field but URL
// is usable.
type ClientOptions struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS.
	URL string
	// CAFile is a PEM bundle to verify a rediss:// server with, in place of
	// the system roots.
	CAFile string
	// CertFile and KeyFile are a client certificate for servers that require
	// one (tls-auth-clients yes).
	CertFile, KeyFile string
	// Password, when set, overrides the URL's password (so that it need not
	// appear on a command line; read it from a file or the environment).
	Password string
}

// NewClient returns a client for o. It does not connect: go-redis dials on
// first use and reconnects by itself. Errors never contain the password.
func NewClient(o ClientOptions) (*redis.Client, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store: redis URL %s: %w", RedactURL(o.URL), redactErr(err, o.URL))
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	if o.CAFile != "" || o.CertFile != "" {
		if opt.TLSConfig == nil {
			return nil, fmt.Errorf("store: TLS files given but %q is not a rediss:// URL", RedactURL(o.URL))
		}
		if err := tlsfiles.Apply(opt.TLSConfig, o.CAFile, o.CertFile, o.KeyFile); err != nil {
			return nil, fmt.Errorf("store: redis %w", err)
		}
	}
	return redis.NewClient(opt), nil
}

// RedactURL returns u fit for logs: any password masked (secret.RedactURL).
func RedactURL(u string) string { return secret.RedactURL(u) }

func redactErr(err error, u string) error {
	p, perr := url.Parse(u)
	if perr != nil {
		return errors.New("malformed URL")
	}
	if pw, ok := p.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// RedisLogger takes go-redis's own log lines (redis.SetLogger, a process-wide
// setting for main to make) to slog at debug level: reconnect attempts
// repeat several times a second during an outage, which the relay and the
// agent already report, rate-limited.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.DebugContext(ctx, fmt.Sprintf(format, v...), "from", "go-redis")
}
