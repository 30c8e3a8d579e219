package actuate_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/agent/actuate/actuatetest"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sensors"
)

func TestBootPutsEveryActuatorInItsSafeStateAndSaysSo(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[2].Safe = 1 // the valve's safe state is open
	r := newRig(t, cfg, map[string]float64{"heater": 1, "fan": 40, "lamp": 1}, actuate.Options{})
	heater := r.watch("heater")
	if s := sample(t, heater); s != (sensors.Sample{Metric: command.MetricOn, Value: 1, Unit: "1"}) {
		t.Fatalf("before the start: %+v, want the output's value, on", s)
	}
	r.start()
	r.barrier()
	for name, want := range map[string][]float64{"heater": {0}, "fan": {0}, "valve": {1}, "lamp": nil} {
		if got := r.values(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Set calls %v, want %v", name, got, want)
		}
	}
	awaitValue(t, heater, 0)
	for _, s := range r.c.Sensors() {
		got, err := s.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]sensors.Sample{
			"heater": {Metric: "on", Value: 0, Unit: "1"}, "fan": {Metric: "duty", Value: 0, Unit: "%"},
			"valve": {Metric: "on", Value: 1, Unit: "1"}, "lamp": {Metric: "on", Value: 1, Unit: "1"},
		}[s.Name()]
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: Read %+v, want %+v", s.Name(), got, want)
		}
	}
	logs := r.logs.String()
	for _, want := range []string{
		`msg="actuator in its safe state (boot)" device=dev-1 actuator=heater value=0`,
		`msg="actuator in its safe state (boot)" device=dev-1 actuator=valve value=1`,
		`msg="actuator holds its value (boot)" device=dev-1 actuator=lamp value=1`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	r.metrics(`
# HELP tributary_edge_actuator_safe_state_total Times an actuator was put in its safe state (or held), by cause (boot, uplink_lost, hardware).
# TYPE tributary_edge_actuator_safe_state_total counter
tributary_edge_actuator_safe_state_total{actuator="fan",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="fan",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="fan",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="heater",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="heater",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="heater",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="valve",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="valve",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="valve",cause="uplink_lost"} 0
# HELP tributary_edge_actuator_value Each actuator's value: a switch 0 or 1, a level its PWM duty in %.
# TYPE tributary_edge_actuator_value gauge
tributary_edge_actuator_value{actuator="fan"} 0
tributary_edge_actuator_value{actuator="heater"} 0
tributary_edge_actuator_value{actuator="lamp"} 1
tributary_edge_actuator_value{actuator="valve"} 1
`, "tributary_edge_actuator_safe_state_total", "tributary_edge_actuator_value")
}

func TestBootBreaksAnInterlockThatAHeldValueWouldBreak(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[2].Safe = 1 // the valve opens at start
	cfg.Interlocks = append(cfg.Interlocks, []string{"valve", "lamp"})
	r := newRig(t, cfg, map[string]float64{"lamp": 1}, actuate.Options{}).start() // the lamp holds on
	r.barrier()
	if got := r.values("lamp"); !reflect.DeepEqual(got, []float64{0}) {
		t.Errorf("lamp Set calls %v, want it switched off", got)
	}
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{1}) {
		t.Errorf("valve Set calls %v", got)
	}
	if logs := r.logs.String(); !strings.Contains(logs, `msg="actuator switched off at start: held on together with an interlocked one" device=dev-1 actuator=lamp other=valve`) {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestApplyReportsAcceptedThenAppliedAndTheStateFollows(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	fan := r.watch("fan")
	awaitValue(t, fan, 0)
	c := r.submit(r.cmd("fan", 55.5))
	acc := r.status(c.ID, command.Accepted)
	if acc.Actuator != "fan" || acc.Value != 55.5 || !acc.Time.Equal(r.clk.Now()) {
		t.Errorf("accepted %+v", acc)
	}
	app := r.status(c.ID, command.Applied)
	if app.Value != 55.5 || app.Reason != "" {
		t.Errorf("applied %+v", app)
	}
	if got := r.values("fan"); !reflect.DeepEqual(got, []float64{0, 55.5}) {
		t.Errorf("fan Set calls %v, want [0 55.5]", got)
	}
	if s := sample(t, fan); s != (sensors.Sample{Metric: "duty", Value: 55.5, Unit: "%"}) {
		t.Errorf("state sample %+v", s)
	}
	r.apply("fan", 0)
	awaitValue(t, fan, 0)
	r.noEvent()
	r.metrics(`
# HELP tributary_edge_commands_total Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.
# TYPE tributary_edge_commands_total counter
tributary_edge_commands_total{outcome="applied",reason=""} 2
tributary_edge_commands_total{outcome="refused",reason="unknown_actuator"} 1
`, "tributary_edge_commands_total")
}

func TestRefusals(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	for _, tc := range []struct {
		name     string
		actuator string
		value    float64
		reason   string
		detail   string
	}{
		{"unknown actuator", "pump", 1, command.ReasonUnknownActuator, `no actuator "pump"`},
		{"switch half on", "valve", 0.5, command.ReasonOutOfRange, "valve is a switch"},
		{"switch 2", "heater", 2, command.ReasonOutOfRange, "heater is a switch"},
		{"switch -1", "heater", -1, command.ReasonOutOfRange, "heater is a switch"},
		{"level above max", "fan", 100.5, command.ReasonOutOfRange, "fan takes 0 or 20..100"},
		{"level below min", "fan", 10, command.ReasonOutOfRange, "fan takes 0 or 20..100"},
		{"level negative", "fan", -1, command.ReasonOutOfRange, "fan takes 0 or 20..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := r.submit(r.cmd(tc.actuator, tc.value))
			s := r.outcome(c.ID, command.Refused, tc.reason)
			if !strings.Contains(s.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", s.Detail, tc.detail)
			}
		})
	}
	for _, name := range []string{"heater", "valve", "fan", "lamp"} {
		if got := r.values(name); len(got) > 1 {
			t.Errorf("%s set by a refused command: %v", name, got)
		}
	}
}

func TestInterlockRefusesNamingTheOther(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.apply("heater", 1)
	c := r.submit(r.cmd("fan", 30))
	s := r.outcome(c.ID, command.Refused, command.ReasonInterlock)
	if !strings.HasPrefix(s.Detail, "heater is on") {
		t.Errorf("detail %q does not name the heater first", s.Detail)
	}
	r.apply("fan", 0) // switching off is always allowed
	r.apply("heater", 0)
	r.apply("fan", 30)
	c = r.submit(r.cmd("heater", 1))
	if s := r.outcome(c.ID, command.Refused, command.ReasonInterlock); !strings.HasPrefix(s.Detail, "fan is on") {
		t.Errorf("detail %q does not name the fan first", s.Detail)
	}
	if got := r.values("fan"); !reflect.DeepEqual(got, []float64{0, 0, 30}) {
		t.Errorf("fan Set calls %v", got)
	}
	if got := r.values("heater"); !reflect.DeepEqual(got, []float64{0, 1, 0}) {
		t.Errorf("heater Set calls %v", got)
	}
}

func TestSubmitRefusesAtOnceWhatItCan(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()

	other := r.cmd("heater", 1)
	other.Device = "dev-2"
	err := r.c.Submit(other)
	var re *actuate.RefusedError
	if !errors.As(err, &re) || re.Reason != command.ReasonWrongDevice {
		t.Fatalf("Submit for another device: %v, want a wrong_device refusal", err)
	}
	s := r.status(other.ID, command.Refused) // device: the reporter's
	if s.Reason != command.ReasonWrongDevice || !strings.Contains(s.Detail, "dev-2") {
		t.Errorf("status %+v", s)
	}

	late := r.cmd("heater", 1)
	late.Deadline = late.At // not after at: invalid
	if err := r.c.Submit(late); !errors.Is(err, command.ErrInvalid) {
		t.Fatalf("Submit of an invalid command: %v, want command.ErrInvalid", err)
	}
	if s := r.status(late.ID, command.Refused); s.Reason != command.ReasonInvalid {
		t.Errorf("status %+v", s)
	}

	bad := r.cmd("heater", 1)
	bad.ID = "no spaces"
	if err := r.c.Submit(bad); !errors.Is(err, command.ErrInvalid) {
		t.Fatalf("Submit with an invalid id: %v", err)
	}
	r.barrier() // nothing was reported about the invalid id
	if got := r.values("heater"); len(got) != 1 {
		t.Errorf("heater Set calls %v", got)
	}
	r.stop()
	if err := r.c.Submit(r.cmd("heater", 1)); !errors.Is(err, actuate.ErrStopped) {
		t.Errorf("Submit after Run: %v, want ErrStopped", err)
	}
}

func TestClockUntrustedRefuses(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	r.trusted.Store(false)
	c := r.submit(r.cmd("valve", 1))
	if s := r.outcome(c.ID, command.Refused, command.ReasonClock); !strings.Contains(s.Detail, "not synchronised") {
		t.Errorf("detail %q", s.Detail)
	}
	r.trusted.Store(true)
	r.submit(c) // the same id, once the clock is trusted: still refused, not applied
	r.outcome(c.ID, command.Refused, command.ReasonClock)
	r.apply("valve", 1)
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0, 1}) {
		t.Errorf("valve Set calls %v", got)
	}
}

func TestLocalReportsTheCommandFirst(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	c := r.cmd("valve", 1)
	c.By = "technician"
	if err := r.c.Local(c); err != nil {
		t.Fatal(err)
	}
	ev := r.next()
	if ev.Command == nil || *ev.Command != c {
		t.Fatalf("first event %+v, want the command", ev)
	}
	r.outcome(c.ID, command.Applied, "")
	bad := c
	bad.Deadline = time.Time{}
	if err := r.c.Local(bad); !errors.Is(err, command.ErrInvalid) {
		t.Errorf("Local of an invalid command: %v", err)
	}
	r.barrier()
}

func TestActuatorsDescribeTheConfiguration(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[1].Safe = 25
	cfg.Actuators = append(cfg.Actuators, actuate.Spec{Name: "siren", Kind: command.KindSwitch, Safe: 1})
	cfg.Interlocks = append(cfg.Interlocks, []string{"fan", "valve", "heater"})
	r := newRig(t, cfg, nil, actuate.Options{})
	want := []command.Actuator{
		{Name: "heater", Kind: "switch", Min: 0, Max: 1, Safe: "off", Label: "Heater, bench 2", Interlock: []string{"fan", "valve"}},
		{Name: "fan", Kind: "level", Min: 20, Max: 100, Safe: "25", Interlock: []string{"heater", "valve"}},
		{Name: "valve", Kind: "switch", Min: 0, Max: 1, Safe: "off", Interlock: []string{"fan", "heater"}},
		{Name: "lamp", Kind: "switch", Min: 0, Max: 1, Safe: "hold"},
		{Name: "siren", Kind: "switch", Min: 0, Max: 1, Safe: "on"},
	}
	got := r.c.Actuators()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Actuators:\n got %+v\nwant %+v", got, want)
	}
	if _, err := command.EncodeActuators(got); err != nil {
		t.Errorf("the descriptions do not encode: %v", err)
	}
}

func TestNewRejectsBadConfigurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*actuate.Config)
		want string
	}{
		{"no state dir", func(c *actuate.Config) { c.StateDir = "" }, "no state dir"},
		{"bad device", func(c *actuate.Config) { c.Device = "a b" }, "device"},
		{"twice", func(c *actuate.Config) { c.Actuators[1].Name = "heater" }, `actuator "heater" twice`},
		{"bad kind", func(c *actuate.Config) { c.Actuators[0].Kind = "dimmer" }, `kind "dimmer"`},
		{"switch safe 0.5", func(c *actuate.Config) { c.Actuators[0].Safe = 0.5 }, "safe 0.5"},
		{"level range", func(c *actuate.Config) { c.Actuators[1].Max = 101 }, "range 20..101"},
		{"level safe", func(c *actuate.Config) { c.Actuators[1].Safe = 10 }, "safe 10"},
		{"negative max_on", func(c *actuate.Config) { c.Actuators[0].MaxOn = -time.Second }, "negative"},
		{"interlock unknown", func(c *actuate.Config) { c.Interlocks = [][]string{{"heater", "pump"}} }, `no actuator "pump"`},
		{"interlock alone", func(c *actuate.Config) { c.Interlocks = [][]string{{"heater"}} }, "at least two"},
		{"label with a newline", func(c *actuate.Config) { c.Actuators[0].Label = "a\nb" }, "label"},
		{"interlocked safe on", func(c *actuate.Config) { c.Actuators[0].Safe = 1; c.Actuators[1].Safe = 30 }, "both on in their safe states"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			tc.edit(&cfg)
			var outs []actuators.Output
			for _, s := range testConfig("").Actuators {
				outs = append(outs, &actuatetest.Output{ID: s.Name})
			}
			_, err := actuate.New(cfg, outs, actuate.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
	cfg := testConfig(t.TempDir())
	if _, err := actuate.New(cfg, []actuators.Output{&actuatetest.Output{ID: "heater"}}, actuate.Options{}); err == nil {
		t.Error("New with too few outputs: no error")
	}
}

func TestRunOnceAndWatchersComeAndGo(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	if err := r.c.Run(t.Context()); err == nil {
		t.Error("a second Run: no error")
	}
	a, b := r.watch("valve"), r.watch("valve")
	awaitValue(t, a, 0)
	awaitValue(t, b, 0)
	r.apply("valve", 1)
	awaitValue(t, a, 1)
	awaitValue(t, b, 1)
	// A watcher whose context ended is gone; the others go on.
	var s sensors.Sensor
	for _, x := range r.c.Sensors() {
		if x.Name() == "valve" {
			s = x
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.(sensors.Watcher).Watch(ctx, func([]sensors.Sample) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch with an ended context: %v", err)
	}
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with an ended context: %v", err)
	}
	r.apply("valve", 0)
	awaitValue(t, a, 0)
}
