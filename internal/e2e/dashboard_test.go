package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/browsertest"
)

// TestDemoDashboard is what `make demo` promises: the cloud binary with its
// embedded Redis and a fleet of simulated agents, and in a real browser a
// live dashboard listing the devices and drawing their readings.
func TestDemoDashboard(t *testing.T) {
	_, base := startCloud(t, "--demo", "4", "--demo-interval", "100ms")
	b := browsertest.Start(t, 1280, 900)
	b.Navigate(t, base+"/")
	b.Await(t, "four simulated devices listed, online",
		`tributary.devices().filter((d) => d.online).length === 4 &&
		 document.querySelectorAll('#device-list button.device').length === 4`)
	// A pointer click is a press and a release at one spot; under load the
	// live list may reflow in between and the browser then clicks nothing,
	// as it would for a person. Click again, a few times at most.
	for attempt := 1; ; attempt++ {
		b.Click(t, `button[data-device="sim-1"]`)
		if selectedWithin(t, b, "sim-1", 3*time.Second) || attempt == 3 {
			break
		}
	}
	b.Await(t, "sim-1 selected", `tributary.selected() === 'sim-1'`)
	b.Await(t, "charts of sim-1 with points", `tributary.selected() === 'sim-1' &&
		tributary.charts().length >= 3 && tributary.chartPoints('temperature') > 0 &&
		tributary.charts().every((c) => c.canvas.width > 0 && c.canvas.height > 0)`)
	n := browsertest.Eval[int](t, b, `tributary.chartPoints('temperature')`)
	b.Await(t, "the temperature chart growing live", fmt.Sprintf(`tributary.chartPoints('temperature') > %d`, n+5))
	if state := browsertest.Eval[string](t, b, `tributary.connection().state`); state != "live" {
		t.Fatalf("connection state %q", state)
	}
	b.NoConsoleErrors(t)
	b.Screenshot(t, "tributary-demo.png")
}

// selectedWithin polls the dashboard's selected device for up to d.
func selectedWithin(t *testing.T, b *browsertest.Browser, device string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if browsertest.Eval[string](t, b, `tributary.selected() || ''`) == device {
			return true
		}
	}
	return false
}
