package web

import (
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/browsertest"
	"github.com/tributary-iot/tributary/reading"
)

// What the page's hook tributary.commands() returns.
type hookCommands struct {
	User      string `json:"user"`
	Operator  bool   `json:"operator"`
	Note      string `json:"note"`
	Actuators []struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		Disabled bool   `json:"disabled"`
	} `json:"actuators"`
	Records []struct {
		ID       string  `json:"id"`
		Actuator string  `json:"actuator"`
		Value    float64 `json:"value"`
		State    string  `json:"state"`
		Text     string  `json:"text"`
	} `json:"records"`
}

// TestDashboardCommands runs the dashboard in headless Chromium: the
// selected device's actuators with their states; a click on the heater's
// switch sends a command on the WebSocket, which the Commander records,
// and the page shows its progress as the device reports it (fed here
// through the hub, as the store's relay does), refusals with their
// reason; the panel fits a phone; a viewer gets the controls disabled with
// a note.
func TestDashboardCommands(t *testing.T) {
	cmds := newMemCommander()
	cmds.acts["gh-1"] = testActuators
	f := newFixture(t, fixtureOptions{web: func(o *Options) {
		o.Commands, o.OpenCommands, o.Dashboard = cmds, true, DashboardFS()
	}})
	cmds.hub = f.hub
	now := time.Now().Add(-5 * time.Second)
	state := func(seq uint64, sensor, metric, unit string, v float64) reading.Reading {
		return reading.Reading{Device: "gh-1", Sensor: sensor, Metric: metric, Unit: unit, Value: v, Time: now.Add(time.Duration(seq) * time.Millisecond), Seq: seq}
	}
	f.ingest(t, temp("gh-1", 1, 20), state(2, "heater", command.MetricOn, "1", 0), state(3, "fan", command.MetricDuty, "%", 30))

	b := browsertest.Start(t, 1400, 900)
	b.Navigate(t, f.srv.URL+"/#device=gh-1")
	b.Await(t, "the two actuators with their states",
		`tributary.connection().state === 'live' && tributary.commands().actuators.length === 2 &&
		 tributary.commands().actuators[0].state === 'off' && tributary.commands().actuators[1].state === '30 %'`)
	if got := browsertest.Eval[hookCommands](t, b, `tributary.commands()`); !got.Operator || got.Note != "" || got.Actuators[0].Disabled {
		t.Errorf("an operator's panel: %+v", got)
	}

	// Switch the heater on.
	b.Click(t, `li[data-actuator="heater"] input[role="switch"]`)
	b.Await(t, "the command recorded", `tributary.commands().records.length === 1 && tributary.commands().records[0].state === 'recorded'`)
	sent := cmds.sentCommands()
	if len(sent) != 1 || sent[0].Actuator != "heater" || sent[0].Value != 1 || sent[0].Device != "gh-1" || sent[0].Deadline.Sub(sent[0].At) != 30*time.Second {
		t.Fatalf("the Commander got %+v, want the heater on for 30s", sent)
	}
	id := sent[0].ID
	if got := browsertest.Eval[string](t, b, `tributary.commands().records[0].id`); got != id {
		t.Errorf("the page shows command %q, the Commander got %q", got, id)
	}
	// The device reports.
	st := command.Status{ID: id, Device: "gh-1", Actuator: "heater", State: command.Accepted, Value: 1, Time: time.Now()}
	cmds.status(st)
	b.Await(t, "accepted shown", `tributary.commands().records[0].state === 'accepted' &&
		document.querySelector('li[data-actuator="heater"] .act-progress').textContent === 'accepted' &&
		document.querySelector('li[data-actuator="heater"] input').checked`)
	st.State, st.Time = command.Applied, time.Now()
	cmds.status(st)
	f.ingest(t, state(4, "heater", command.MetricOn, "1", 1))
	b.Await(t, "applied shown, the heater on", `tributary.commands().records[0].state === 'applied' &&
		tributary.commands().actuators[0].state === 'on' &&
		document.querySelector('#act-audit li[data-id="`+id+`"] .act-outcome').textContent === 'applied'`)

	// The fan's slider; the device refuses, and the page says why.
	// As a hand does: input events while dragging, change on release.
	browsertest.Eval[bool](t, b, `(() => { const e = document.querySelector('li[data-actuator="fan"] input[type="range"]');
		e.value = 80; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change')); return true; })()`)
	b.Await(t, "the fan's command recorded", `tributary.commands().records.length === 2 && tributary.commands().records[0].actuator === 'fan' &&
		tributary.commands().records[0].state === 'recorded'`)
	sent = cmds.sentCommands()
	if len(sent) != 2 || sent[1].Actuator != "fan" || sent[1].Value != 80 {
		t.Fatalf("the Commander got %+v, want the fan at 80", sent)
	}
	cmds.status(command.Status{ID: sent[1].ID, Device: "gh-1", Actuator: "fan", State: command.Refused, Reason: command.ReasonInterlock,
		Detail: "heater is on", Value: 80, Time: time.Now()})
	b.Await(t, "the refusal and its reason", `document.querySelector('li[data-actuator="fan"] .act-progress').textContent === 'refused: interlock (heater is on)' &&
		document.querySelector('li[data-actuator="fan"] input').value === '30'`)
	b.NoConsoleErrors(t)
	b.Screenshot(t, "tributary-actuators-1400.png")

	// A phone: the panel fits.
	b.Viewport(t, 390, 844, true)
	// The charts follow the width a frame or two later.
	b.Await(t, "the page laid out for a phone", `tributary.charts().length > 0 && tributary.charts().every((c) => c.canvas && c.canvas.width <= 390) &&
		document.querySelector('li[data-actuator="fan"] input').getBoundingClientRect().width > 100`)
	if w := browsertest.Eval[int](t, b, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %d px wide on a 390 px phone", w)
	}
	if !browsertest.Eval[bool](t, b, `[...document.querySelectorAll('#actuators *')].every((e) => e.getBoundingClientRect().right <= 390.5)`) {
		t.Error("part of the actuators panel lies beyond a 390 px screen")
	}
	b.Screenshot(t, "tributary-actuators-390.png")

	// A viewer (here: no sign-in, and commands not open to all).
	v := newFixture(t, fixtureOptions{web: func(o *Options) { o.Commands, o.Dashboard = cmds, DashboardFS() }})
	v.ingest(t, temp("gh-1", 1, 20))
	b.Viewport(t, 1400, 900, false)
	b.Navigate(t, v.srv.URL+"/#device=gh-1")
	b.Await(t, "controls disabled, with a note", `tributary.commands().actuators.length === 2 &&
		tributary.commands().actuators.every((a) => a.disabled) && !tributary.commands().operator &&
		document.getElementById('act-note').textContent.includes('only operators')`)
	if got := browsertest.Eval[hookCommands](t, b, `tributary.commands()`); len(got.Records) != 2 || got.Records[0].State != "refused" {
		t.Errorf("the viewer's audit trail: %+v, want both commands, the fan's refused", got.Records)
	}
	b.NoConsoleErrors(t)
}
