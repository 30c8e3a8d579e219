package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/reading"
)

// bin holds the binaries TestMain builds.
var bin struct{ edge, cloud, bridge string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tributary-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.edge, bin.cloud, bin.bridge = filepath.Join(dir, "edge"), filepath.Join(dir, "cloud"), filepath.Join(dir, "bridge")
	build := exec.Command("go", "build", "-o", dir+"/", "github.com/tributary-iot/tributary/cmd/edge",
		"github.com/tributary-iot/tributary/cmd/cloud", "github.com/tributary-iot/tributary/cmd/bridge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running binary whose output lines the test can await.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
	cond  chan struct{} // closed and replaced on every new line
}

// start runs a binary until the test ends (then SIGTERM, and SIGKILL if it
// does not exit within 10 s). Its output is logged on failure.
func start(t *testing.T, name, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(path, args...), done: make(chan struct{}), cond: make(chan struct{})}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.cond)
			p.cond = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("--- output of %s:\n%s", name, strings.Join(p.lines, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit, killing after 10 s.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// await returns the first submatch of re in the first output line that
// matches it, waiting up to timeout.
func (p *proc) await(t *testing.T, re string, timeout time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, cond := p.lines, p.cond
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if m := rx.FindStringSubmatch(lines[seen]); m != nil {
				if len(m) > 1 {
					return m[1]
				}
				return m[0]
			}
		}
		select {
		case <-cond:
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing /%s/", p.name, p.cmd.ProcessState, re)
		case <-deadline:
			t.Fatalf("%s did not print /%s/ within %v", p.name, re, timeout)
		}
	}
}

// stream is a WebSocket client of the cloud's /api/stream.
type stream struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialStream(t *testing.T, base, query string) *stream {
	t.Helper()
	return dialStreamWith(t, base, query, websocket.DefaultDialer)
}

// smallBuffers dials with an 8 KiB socket receive buffer.
var smallBuffers = &websocket.Dialer{
	NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(8 << 10)
		}
		return c, err
	},
	HandshakeTimeout: 10 * time.Second,
}

func dialStreamWith(t *testing.T, base, query string, d *websocket.Dialer) *stream {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/stream" + query
	conn, resp, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &stream{t: t, conn: conn}
}

// next returns the next frame, failing the test after timeout.
func (s *stream) next(timeout time.Duration) reading.Frame {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	typ, data, err := s.conn.ReadMessage()
	if err != nil {
		s.t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.TextMessage {
		s.t.Fatalf("frame type %d", typ)
	}
	f, err := reading.DecodeFrame(data)
	if err != nil {
		s.t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// readings collects readings until done says stop, failing after timeout.
func (s *stream) readings(timeout time.Duration, done func([]reading.Reading) bool) []reading.Reading {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var got []reading.Reading
	for !done(got) {
		left := time.Until(deadline)
		if left <= 0 {
			s.t.Fatalf("after %v, %d readings and not done", timeout, len(got))
		}
		f := s.next(left)
		got = append(got, f.Readings...)
	}
	return got
}

// getJSON fetches base+path into v, failing unless the status is 200.
func getJSON(t *testing.T, ctx context.Context, url string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}
