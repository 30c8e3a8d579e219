package web_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashTimeout bounds each wait for the page; generous for a loaded 2-core
// machine running -race.
const dashTimeout = 20 * time.Second

// dashBrowser is a headless Chromium tab, with the console messages it
// logged.
type dashBrowser struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	checked int // console messages already checked by noConsoleErrors
}

// startDashBrowser starts Chromium with a fresh profile, closed when the test
// ends. A missing Chromium fails the test: `make test` installs it.
func startDashBrowser(t *testing.T, width, height int) *dashBrowser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (run `make test`, which installs it with apt-get): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	b := &dashBrowser{ctx: ctx}
	// Subscribing starts the browser and opens the tab; the messages are
	// collected from then on.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	b.viewport(t, int64(width), int64(height), false)
	return b
}

// run runs steps with a deadline.
func (b *dashBrowser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("dashboard: %s: %v\n%s", what, err, b.diagnosis())
	}
}

func (b *dashBrowser) navigate(t *testing.T, url string) {
	t.Helper()
	b.run(t, "open "+url, chromedp.Navigate(url))
}

func (b *dashBrowser) click(t *testing.T, css string) {
	t.Helper()
	b.run(t, "click "+css, chromedp.Click(chromedp.CSS(css)))
}

// viewport sizes the page; mobile also emulates a phone's touch screen
// and pixel density.
func (b *dashBrowser) viewport(t *testing.T, width, height int64, mobile bool) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	b.run(t, "set the viewport", chromedp.EmulateViewport(width, height, opts...))
}

// await polls the JavaScript condition cond, on every animation frame,
// until it is true, and fails the test with the page's state if it is not
// within dashTimeout. A condition that throws (the element it looks at is
// not rendered yet) counts as false.
func (b *dashBrowser) await(t *testing.T, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashTimeout+5*time.Second)
	defer cancel()
	expr := "(() => { try { return !!(" + cond + "); } catch { return false; } })()"
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(dashTimeout)))
	if err != nil {
		t.Fatalf("dashboard: waiting for %s: %v\ncondition: %s\n%s", what, err, cond, b.diagnosis())
	}
}

// dashEval evaluates expr in the page and decodes its value.
func dashEval[T any](t *testing.T, b *dashBrowser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("dashboard: evaluate %s: %v\n%s", expr, err, b.diagnosis())
	}
	return v
}

// diagnosis is the page's state and console, for failure messages.
func (b *dashBrowser) diagnosis() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		connection: window.tributary?.connection(), selected: window.tributary?.selected(),
		devices: window.tributary?.devices().map((d) => [d.id, d.online, d.lastSeq]),
		charts: window.tributary?.charts(), location: location.href})`))
	if err != nil {
		state = "(no state: " + err.Error() + ")"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	sb.WriteString("page state: " + state + "\nconsole:")
	for _, m := range b.console {
		sb.WriteString("\n  " + m.String())
	}
	return sb.String()
}

// noConsoleErrors fails the test for every error or uncaught exception the
// page logged since the last call, except errors mentioning one of allowed.
func (b *dashBrowser) noConsoleErrors(t *testing.T, allowed ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console[b.checked:] {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.Contains(m.Text, a)
		}
		if !ok {
			t.Errorf("dashboard console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
	b.checked = len(b.console)
}

// screenshot saves the visible page as a PNG in the temporary directory
// (not the repository), to look at after a run.
func (b *dashBrowser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, dashTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("dashboard: screenshot: %v", err)
	}
	path := filepath.Join(os.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// streamGate wraps the cloud's handler so that a test can cut every
// /api/stream WebSocket and refuse new ones until it opens the gate again.
type streamGate struct {
	next http.Handler

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func newStreamGate(next http.Handler) *streamGate {
	return &streamGate{next: next, conns: map[net.Conn]struct{}{}}
}

func (g *streamGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/stream" {
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed {
			http.Error(w, "stream closed by the test", http.StatusServiceUnavailable)
			return
		}
		w = &gateRecorder{ResponseWriter: w, g: g}
	}
	g.next.ServeHTTP(w, r)
}

// shut cuts the open streams (as a network failure would) and refuses new
// ones.
func (g *streamGate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		c.Close()
	}
	clear(g.conns)
}

func (g *streamGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}

// gateRecorder records the connection a WebSocket upgrade hijacks.
type gateRecorder struct {
	http.ResponseWriter
	g *streamGate
}

func (r *gateRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.g.mu.Lock()
		if r.g.closed {
			c.Close() // shut while this upgrade was under way
		} else {
			r.g.conns[c] = struct{}{}
		}
		r.g.mu.Unlock()
	}
	return c, rw, err
}
