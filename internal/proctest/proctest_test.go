package proctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveEnv makes the test binary a tiny server (see TestMain) on the port
// it names, for the tests of Server.
const serveEnv = "PROCTEST_SERVE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(serveEnv); port != "" {
		serve(port)
		return
	}
	os.Exit(m.Run())
}

// serve listens on port, says so, and accepts connections until killed.
func serve(port string) {
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("some noise first")
	fmt.Println("serving on", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Close()
	}
}

// fakeTB records a Fatalf and ends the goroutine, as testing.T does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, a...)
	f.mu.Unlock()
	runtime.Goexit()
}

// await runs l.Await on a fake TB and returns what it returned or the
// failure.
func await(l *Log, re string, timeout time.Duration) (got, failed string) {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = l.Await(f, re, timeout)
	}()
	<-done
	return got, f.failed
}

func TestLogAwait(t *testing.T) {
	l := &Log{}
	go func() {
		fmt.Fprint(l, "a=1\nmsg=\"ready\" por")
		fmt.Fprint(l, "t=42\n")
	}()
	if got, failed := await(l, `port=(\d+)`, 10*time.Second); got != "42" || failed != "" {
		t.Fatalf("Await: %q, failure %q", got, failed)
	}
	if got, _ := await(l, `a=\d`, time.Second); got != "a=1" {
		t.Errorf("Await without a group: %q, want the whole match", got)
	}
	if _, failed := await(l, `never`, 50*time.Millisecond); !strings.Contains(failed, "within 50ms") || !strings.Contains(failed, "a=1") {
		t.Errorf("Await of a line that never comes: failure %q, want the timeout and the output", failed)
	}
	fmt.Fprint(l, "last words")
	l.Close("it exited")
	if _, failed := await(l, `never`, time.Hour); !strings.Contains(failed, "before it exited") {
		t.Errorf("Await on a closed log: failure %q", failed)
	}
	if got := l.Last(`(\w+) words`); got != "last" {
		t.Errorf("Last: %q: the unterminated line was not kept at Close", got)
	}
}

func TestLogMaxLines(t *testing.T) {
	l := &Log{MaxLines: 10}
	for i := range 25 {
		l.Add("line " + strconv.Itoa(i))
	}
	lines := strings.Split(l.String(), "\n")
	if len(lines) > 10 || lines[len(lines)-1] != "line 24" {
		t.Fatalf("kept %d lines, ending %q; want at most 10, ending with line 24", len(lines), lines[len(lines)-1])
	}
	if got, _ := await(l, `line (2\d)`, time.Second); got != "20" {
		t.Errorf("Await after dropping: %q, want the first line kept that matches", got)
	}
}

func TestServerKillRestartSamePort(t *testing.T) {
	SkipShort(t, "a child process")
	s, err := StartServer(ServerConfig{
		Name: "test server",
		Command: func(port int) (*exec.Cmd, error) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), serveEnv+"="+strconv.Itoa(port))
			return cmd, nil
		},
		Ready: `serving on`,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	dial := func() error {
		c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil || !s.Running() {
		t.Fatalf("after StartServer: %v, running %v", err, s.Running())
	}
	if err := s.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	s.Kill() // frozen: Kill must thaw it to let it die
	if err := dial(); err == nil || s.Running() {
		t.Fatalf("after Kill: %s accepts, running %v", s.Addr(), s.Running())
	}
	if err := s.Signal(syscall.SIGCONT); err == nil {
		t.Error("Signal to a killed server: no error")
	}
	port := s.Port
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil || s.Port != port {
		t.Fatalf("after Start: %v, port %d, want %d", err, s.Port, port)
	}
	s.Stop()
	if n := strings.Count(s.Log.String(), "serving on"); n != 2 {
		t.Errorf("the log holds %d starts, want both:\n%s", n, s.Log.String())
	}
}

func TestServerNeverReady(t *testing.T) {
	SkipShort(t, "a child process")
	_, err := StartServer(ServerConfig{
		Name: "false",
		Command: func(int) (*exec.Cmd, error) {
			return exec.Command(os.Args[0], "-test.run=^$", "-no-such-flag"), nil
		},
		Ready: `never`,
	})
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("got %v, want an error that says it exited, with its output", err)
	}
}

func TestGoStop(t *testing.T) {
	r := Go(t, func(ctx context.Context, log io.Writer) error {
		fmt.Fprintln(log, "running")
		<-ctx.Done()
		return errors.New("stopped by " + context.Cause(ctx).Error())
	})
	r.Log.Await(t, `running`, 10*time.Second)
	if err := r.Stop(t); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Stop: %v, want what f returned", err)
	}
	if err := r.Stop(t); err == nil {
		t.Fatal("a second Stop lost f's error")
	}
}
