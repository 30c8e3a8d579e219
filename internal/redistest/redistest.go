// Package redistest runs a real redis-server for tests, on a free loopback
// port, with no persistence, in a temporary directory. It never touches the
// machine's shared Redis on 6379.
//
// A missing redis-server is a test failure, not a skip: `make test` installs
// it.
package redistest

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a server. The zero value is a plain server without
// authentication.
type Options struct {
	// Password, when set, is required of the default user (requirepass).
	Password string
	// TLS, when set, makes the server speak only TLS with this certificate
	// and key (PEM files) and not require client certificates.
	TLSCertFile, TLSKeyFile string
	// TLSCAFile is the CA bundle the server loads (it does not verify clients);
	// default TLSCertFile.
	TLSCAFile string
}

// Server is a running redis-server. Stop it with Stop; Start registers that (and Close)
// with t.Cleanup.
type Server struct {
	Port int
	opt  Options
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a server and stops it when the test ends.
func Start(tb testing.TB, opt Options) *Server {
	tb.Helper()
	s, err := StartServer(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartServer starts a server; the caller stops it. Use it from TestMain,
// where there is no testing.TB.
func StartServer(opt Options) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: redis-server not found (run `make test`, which installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, dir: dir}
	var lastErr error
	for range 5 { // the free port may be taken between probe and bind
		if s.Port, lastErr = freePort(); lastErr != nil {
			continue
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// (or rediss://) URL for the server, with the password.
func (s *Server) URL() string {
	scheme := "redis"
	if s.opt.TLSCertFile != "" {
		scheme = "rediss"
	}
	auth := ""
	if s.opt.Password != "" {
		auth = ":" + s.opt.Password + "@"
	}
	return scheme + "://" + auth + s.Addr()
}

// Client returns a new client for the server, closed when the test ends.
// For a TLS server it trusts any certificate; tests that check verification
// build their own client.
func (s *Server) Client(tb testing.TB) *redis.Client {
	o := &redis.Options{Addr: s.Addr(), Password: s.opt.Password}
	if s.opt.TLSCertFile != "" {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	c := redis.NewClient(o)
	tb.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) start() error {
	args := []string{
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", "", "--daemonize", "no", "--loglevel", "notice",
	}
	if s.opt.TLSCertFile != "" {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.Port),
			"--tls-cert-file", s.opt.TLSCertFile, "--tls-key-file", s.opt.TLSKeyFile,
			"--tls-ca-cert-file", cmp.Or(s.opt.TLSCAFile, s.opt.TLSCertFile), "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(s.Port))
	}
	if s.opt.Password != "" {
		args = append(args, "--requirepass", s.opt.Password)
	}
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				log.WriteString(line + "\n")
				if strings.Contains(line, "Ready to accept connections") {
					signalled = true
					close(ready)
				}
			}
		}
		cmd.Wait()
	}()
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("redistest: redis-server on port %d exited before it was ready:\n%s", s.Port, log.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redistest: redis-server on port %d not ready after 20s:\n%s", s.Port, log.String())
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop kills the server (as a crash would) and waits for it to exit. It is
// safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again on the same port, empty, after Stop.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The port can linger briefly in the kernel after a kill.
		if err = s.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// Flush empties the server, for tests that share one.
func (s *Server) Flush(tb testing.TB) {
	tb.Helper()
	if err := s.Client(tb).FlushAll(context.Background()).Err(); err != nil {
		tb.Fatal(err)
	}
}
