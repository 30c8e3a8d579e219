package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ServerConfig says how to run a server.
type ServerConfig struct {
	// Name names the server in messages, e.g. "redis-server".
	Name string
	// Command returns the command that serves on 127.0.0.1:port. It is
	// called for every start, so it can write a configuration for port.
	Command func(port int) (*exec.Cmd, error)
	// Ready is a regexp that the server's output matches once it listens.
	Ready string
	// LogLines bounds the output lines kept. Default 5000.
	LogLines int
}

// Server is a server process on a loopback port that keeps its port over
// restarts. Its methods are safe for concurrent use.
type Server struct {
	Port int
	// Log is the server's output over all its runs.
	Log *Log

	cfg   ServerConfig
	ready *regexp.Regexp

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// NewServer reserves a free loopback port for a server that Start runs.
func NewServer(cfg ServerConfig) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	if cfg.LogLines == 0 {
		cfg.LogLines = 5000
	}
	return &Server{Port: port, Log: &Log{MaxLines: cfg.LogLines}, cfg: cfg, ready: regexp.MustCompile(cfg.Ready)}, nil
}

// StartServer starts a server on a free loopback port and returns once it
// accepts connections. The caller closes it with Kill or Stop.
func StartServer(cfg ServerConfig) (*Server, error) {
	var err error
	for range 5 { // the free port may be taken between probe and bind
		var s *Server
		if s, err = NewServer(cfg); err != nil {
			continue
		}
		if err = s.startOnce(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Running reports whether the server has been started and not stopped.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Start runs the server on its port, which may linger in the kernel for a
// moment after a kill (it tries for 15 s), and returns once it accepts
// connections. It stops a server that runs first.
func (s *Server) Start() error {
	s.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.startOnce()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) startOnce() error {
	cmd, err := s.cfg.Command(s.Port)
	if err != nil {
		return fmt.Errorf("%s: %w", s.cfg.Name, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	s.Log.Add(fmt.Sprintf("--- proctest: starting %s on port %d", s.cfg.Name, s.Port))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.cfg.Name, err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := &readyWriter{log: s.Log, ready: s.ready, signal: ready}
		io.Copy(w, out)
		cmd.Wait()
	}()
	fail := func(format string, a ...any) error {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s on port %d: %s:\n%s", s.cfg.Name, s.Port, fmt.Sprintf(format, a...), s.Log.String())
	}
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("%s on port %d exited (%v) before it was ready:\n%s", s.cfg.Name, s.Port, cmd.ProcessState, s.Log.String())
	case <-time.After(20 * time.Second):
		return fail("not ready after 20s")
	}
	// It says it listens; make sure it accepts.
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		return fail("ready, but %v", err)
	}
	c.Close()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// readyWriter copies output lines to a Log and closes signal on the first
// line that matches ready.
type readyWriter struct {
	log     *Log
	ready   *regexp.Regexp
	signal  chan struct{}
	partial []byte
	done    bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		w.log.Add(line)
		if !w.done && w.ready.MatchString(line) {
			w.done = true
			close(w.signal)
		}
	}
}

// Stop stops the server cleanly (SIGTERM, then SIGKILL after 20 s) and
// waits for it to exit. It does nothing if the server does not run.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill stops the server as a crash would (SIGKILL) and waits for it to
// exit, a frozen one (SIGSTOP) included. It does nothing if the server does
// not run.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	cmd.Process.Signal(syscall.SIGCONT) // a frozen process dies only once thawed
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Signal sends sig to the running server (SIGSTOP freezes it, SIGCONT
// thaws it).
func (s *Server) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s on port %d: %w", s.cfg.Name, s.Port, errNotRunning)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s on port %d: %v: %w", s.cfg.Name, s.Port, sig, err)
	}
	return nil
}

var errNotRunning = errors.New("not running")
