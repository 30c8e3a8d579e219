// Package browsertest drives a real headless Chromium (Debian's chromium,
// through chromedp) for tests of the dashboard: start it, open pages, await
// JavaScript conditions, read the page's state and console, take
// screenshots. Under -short (make test-unit) Start skips the test; otherwise
// a missing Chromium fails it: `make test` installs it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tributary-iot/tributary/internal/proctest"
)

// Timeout bounds each wait for the page; generous for a loaded 2-core
// machine running -race.
const Timeout = 20 * time.Second

// Browser is a headless Chromium tab, with the console messages it
// logged.
type Browser struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	checked int // console messages already checked by noConsoleErrors
}

// Start starts Chromium with a fresh profile, closed when the test
// ends. Under -short it skips the test; otherwise a missing Chromium fails
// it: `make test` installs it.
func Start(t *testing.T, width, height int) *Browser {
	t.Helper()
	proctest.SkipShort(t, "chromium")
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
	b := &Browser{ctx: ctx}
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
	b.Viewport(t, int64(width), int64(height), false)
	return b
}

// Run runs steps with a deadline.
func (b *Browser) Run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("dashboard: %s: %v\n%s", what, err, b.Diagnosis())
	}
}

// Navigate opens url.
func (b *Browser) Navigate(t *testing.T, url string) {
	t.Helper()
	b.Run(t, "open "+url, chromedp.Navigate(url))
}

// Click clicks the first element matching css.
func (b *Browser) Click(t *testing.T, css string) {
	t.Helper()
	b.Run(t, "click "+css, chromedp.Click(chromedp.CSS(css)))
}

// Viewport sizes the page; mobile also emulates a phone's touch screen
// and pixel density.
func (b *Browser) Viewport(t *testing.T, width, height int64, mobile bool) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	b.Run(t, "set the viewport", chromedp.EmulateViewport(width, height, opts...))
}

// Await polls the JavaScript condition cond, on every animation frame,
// until it is true, and fails the test with the page's state if it is not
// within Timeout. A condition that throws (the element it looks at is
// not rendered yet) counts as false.
func (b *Browser) Await(t *testing.T, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout+5*time.Second)
	defer cancel()
	expr := "(() => { try { return !!(" + cond + "); } catch { return false; } })()"
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(Timeout)))
	if err != nil {
		t.Fatalf("dashboard: waiting for %s: %v\ncondition: %s\n%s", what, err, cond, b.Diagnosis())
	}
}

// Eval evaluates expr in the page and decodes its value.
func Eval[T any](t *testing.T, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("dashboard: evaluate %s: %v\n%s", expr, err, b.Diagnosis())
	}
	return v
}

// Diagnosis is the page's state and console, for failure messages.
func (b *Browser) Diagnosis() string {
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

// NoConsoleErrors fails the test for every error or uncaught exception the
// page logged since the last call, except errors mentioning one of allowed.
func (b *Browser) NoConsoleErrors(t *testing.T, allowed ...string) {
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

// Screenshot saves the visible page as a PNG in the temporary directory
// (not the repository), to look at after a run.
func (b *Browser) Screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
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
