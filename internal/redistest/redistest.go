// Package redistest runs a real redis-server for tests, on a free loopback
// port, in a temporary directory. It never touches the machine's shared
// Redis on 6379.
//
// Under -short (make test-unit) Start skips the test. Otherwise a missing
// redis-server is a test failure, not a skip: `make test` installs it.
package redistest

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/internal/proctest"
)

// Options configure a server. The zero value is a plain server without
// authentication or persistence.
type Options struct {
	// Password, when set, is required of the default user (requirepass);
	// with ACLFile, it is the password of Username.
	Password string
	// ACLFile, when set, is the server's ACL file (--aclfile): its users
	// replace requirepass. Client and URL then authenticate as Username
	// with Password.
	ACLFile string
	// Username is the user Client and URL authenticate as. Default: the
	// default user.
	Username string
	// Args are more redis-server arguments ("--name", "value", ...).
	Args []string
	// TLS, when set, makes the server speak only TLS with this certificate
	// and key (PEM files) and not require client certificates.
	TLSCertFile, TLSKeyFile string
	// TLSCAFile is the CA bundle the server loads (it does not verify clients);
	// default TLSCertFile.
	TLSCAFile string
	// Durable keeps the data across Kill and Restart: an append-only file
	// fsync'd before every reply (appendfsync always). Default off: a
	// restarted server is empty.
	Durable bool
}

// Server is a redis-server. Start registers Close with t.Cleanup.
type Server struct {
	Port int
	opt  Options
	dir  string
	proc *proctest.Server
}

// Start starts a server and closes it when the test ends. Under -short it
// skips the test.
func Start(tb testing.TB, opt Options) *Server {
	tb.Helper()
	return forTest(tb, opt, true)
}

// New reserves a port and a directory for a server that is not running yet
// (Restart starts it), for a test that starts with Redis down; it closes
// the server when the test ends. Under -short it skips the test.
func New(tb testing.TB, opt Options) *Server {
	tb.Helper()
	return forTest(tb, opt, false)
}

// forTest makes a server, started or not, that the test's end closes,
// showing its output if the test failed.
func forTest(tb testing.TB, opt Options, start bool) *Server {
	tb.Helper()
	proctest.SkipShort(tb, "redis-server")
	s, err := newServer(opt, start)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close()
		if tb.Failed() {
			tb.Logf("--- output of redis-server on port %d:\n%s", s.Port, s.Log())
		}
	})
	return s
}

// StartServer starts a server; the caller closes it. Use it from TestMain,
// where there is no testing.TB. Under -short it starts nothing and returns a
// Server whose Client, Restart and Signal skip the test that calls them.
func StartServer(opt Options) (*Server, error) {
	if proctest.Short() {
		return &Server{opt: opt}, nil
	}
	return newServer(opt, true)
}

// newServer makes a server on a free port, started or not.
func newServer(opt Options, start bool) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: redis-server not found (run `make test`, which installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, dir: dir}
	cfg := proctest.ServerConfig{Name: "redis-server", Command: s.command, Ready: "Ready to accept connections"}
	if start {
		s.proc, err = proctest.StartServer(cfg)
	} else {
		s.proc, err = proctest.NewServer(cfg)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Port = s.proc.Port
	return s, nil
}

func (s *Server) command(port int) (*exec.Cmd, error) {
	args := []string{
		"--bind", "127.0.0.1", "--save", "", "--dir", s.dir, "--logfile", "", "--daemonize", "no", "--loglevel", "notice",
	}
	if s.opt.Durable {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.opt.TLSCertFile != "" {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", s.opt.TLSCertFile, "--tls-key-file", s.opt.TLSKeyFile,
			"--tls-ca-cert-file", cmp.Or(s.opt.TLSCAFile, s.opt.TLSCertFile), "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(port))
	}
	if s.opt.ACLFile != "" {
		args = append(args, "--aclfile", s.opt.ACLFile)
	} else if s.opt.Password != "" {
		args = append(args, "--requirepass", s.opt.Password)
	}
	return exec.Command("redis-server", append(args, s.opt.Args...)...), nil
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// (or rediss://) URL for the server, with the user name
// and the password.
func (s *Server) URL() string {
	auth := ""
	if s.opt.Password != "" {
		auth = ":" + s.opt.Password
	}
	return s.URLAs(s.opt.Username + auth)
}

// URLAs is a redis:// (or rediss://) URL for the server with userinfo (a
// user name, "user:password", or "" for none) before the host.
func (s *Server) URLAs(userinfo string) string {
	scheme := "redis"
	if s.opt.TLSCertFile != "" {
		scheme = "rediss"
	}
	if userinfo != "" {
		userinfo += "@"
	}
	return scheme + "://" + userinfo + s.Addr()
}

// Client returns a new client for the server, closed when the test ends.
// For a TLS server it trusts any certificate; tests that check verification
// build their own client. Under -short, for a server from StartServer, it
// skips the test.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	return s.ClientAs(tb, s.opt.Username, s.opt.Password)
}

// ClientAs is Client for another user ("" for the default user) and
// password.
func (s *Server) ClientAs(tb testing.TB, user, password string) *redis.Client {
	tb.Helper()
	s.need(tb)
	o := &redis.Options{Addr: s.Addr(), Username: user, Password: password}
	if s.opt.TLSCertFile != "" {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { c.Close() })
	return c
}

// need skips the test if s is what StartServer returns under -short: no
// server.
func (s *Server) need(tb testing.TB) {
	tb.Helper()
	if s.proc == nil {
		proctest.SkipShort(tb, "redis-server")
	}
}

// Stop kills the server (as a crash would: SIGKILL) and waits for it to
// exit. It is safe to call more than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// Kill is Stop, by the name the fault tests use.
func (s *Server) Kill() { s.Stop() }

// Signal sends sig to the running server (SIGSTOP freezes it, SIGCONT thaws
// it), failing the test if it does not run.
func (s *Server) Signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	s.need(tb)
	if err := s.proc.Signal(sig); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
}

// Restart starts the server again on the same port after Stop (it stops a
// running one first): empty, or with Durable with the data it had.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.need(tb)
	s.Stop()
	if err := s.proc.Start(); err != nil {
		tb.Fatal(err)
	}
}

// Log is what the server has logged, over all its runs (the last few
// thousand lines), for failure messages.
func (s *Server) Log() string {
	if s.proc == nil {
		return ""
	}
	return s.proc.Log.String()
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// Flush empties the server, for tests that share one.
func (s *Server) Flush(tb testing.TB) {
	tb.Helper()
	if err := s.Client(tb).FlushAll(context.Background()).Err(); err != nil {
		tb.Fatal(err)
	}
}
