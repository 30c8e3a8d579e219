package actuate_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
)

func TestMaxOnSwitchesOffByItself(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[0].MaxOn = 30 * time.Minute
	r := newRig(t, cfg, nil, actuate.Options{}).start()
	r.barrier()
	heater := r.watch("heater")
	awaitValue(t, heater, 0)
	r.apply("heater", 1)
	awaitValue(t, heater, 1)
	r.clk.Advance(29 * time.Minute)
	r.barrier()
	if got := r.values("heater"); !reflect.DeepEqual(got, []float64{0, 1}) {
		t.Fatalf("heater Set calls %v before its max_on", got)
	}
	r.clk.Advance(time.Minute)
	awaitValue(t, heater, 0)
	if got := r.values("heater"); !reflect.DeepEqual(got, []float64{0, 1, 0}) {
		t.Errorf("heater Set calls %v, want it switched off after max_on", got)
	}
	if logs := r.logs.String(); !strings.Contains(logs, `msg="actuator switched off: on for its max_on" device=dev-1 actuator=heater max_on=30m0s`) {
		t.Errorf("no max_on log line:\n%s", logs)
	}
	r.noEvent()

	// On again, then a new command keeps it on: max_on counts from when it went on.
	r.apply("heater", 1)
	r.clk.Advance(20 * time.Minute)
	r.apply("heater", 1)
	r.clk.Advance(10 * time.Minute)
	awaitValue(t, heater, 0)
	if got := r.values("heater"); !reflect.DeepEqual(got, []float64{0, 1, 0, 1, 1, 0}) {
		t.Errorf("heater Set calls %v", got)
	}
}

func TestMaxOnRetriesAFailedSwitchOff(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[0].MaxOn = time.Minute
	r := newRig(t, cfg, nil, actuate.Options{}).start()
	heater := r.watch("heater")
	r.apply("heater", 1)
	awaitValue(t, heater, 1)
	r.outs["heater"].SetErr(context.DeadlineExceeded, 1)
	r.clk.Advance(time.Minute)
	awaitValue(t, heater, 1) // the failed switch-off still reports the state: on
	r.clk.Advance(5 * time.Second)
	awaitValue(t, heater, 0)
	calls := r.outs["heater"].Calls()
	if len(calls) != 4 || calls[2].Err == nil || calls[3].Value != 0 || calls[3].Err != nil {
		t.Errorf("heater Set calls %+v, want boot, on, a failed off, an off", calls)
	}
}

func TestMinOffTime(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[0].MinOff = 2 * time.Minute
	r := newRig(t, cfg, nil, actuate.Options{}).start()
	r.barrier()
	c := r.submit(r.cmd("heater", 1)) // the boot counts as switching off
	if s := r.outcome(c.ID, command.Refused, command.ReasonMinOffTime); !strings.Contains(s.Detail, "may switch on again in 2m0s") {
		t.Errorf("detail %q", s.Detail)
	}
	r.clk.Advance(2 * time.Minute)
	r.apply("heater", 1)
	r.apply("heater", 1) // already on: not switching on
	r.clk.Advance(time.Minute)
	r.apply("heater", 0)
	r.apply("heater", 0) // switching off is always allowed
	r.clk.Advance(time.Minute)
	c = r.submit(r.cmd("heater", 1))
	if s := r.outcome(c.ID, command.Refused, command.ReasonMinOffTime); !strings.Contains(s.Detail, "may switch on again in 1m0s") {
		t.Errorf("detail %q", s.Detail)
	}
	r.clk.Advance(time.Minute)
	r.apply("heater", 1)
}

func TestRateLimitPerMinute(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.barrier()
	r.apply("valve", 1)
	r.clk.Advance(20 * time.Second)
	r.apply("valve", 0)
	r.apply("valve", 1)
	c := r.submit(r.cmd("valve", 0))
	if s := r.outcome(c.ID, command.Refused, command.ReasonRateLimited); s.Detail != "valve takes at most 3 commands a minute" {
		t.Errorf("detail %q", s.Detail)
	}
	r.apply("heater", 1) // another actuator has its own limit
	r.clk.Advance(40 * time.Second)
	r.apply("valve", 0) // the first left the window
	c = r.submit(r.cmd("valve", 1))
	r.outcome(c.ID, command.Refused, command.ReasonRateLimited)
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0, 1, 0, 1, 0}) {
		t.Errorf("valve Set calls %v", got)
	}
}

func TestSafeStatesAfterTheUplinkIsLost(t *testing.T) {
	r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
	r.c.SetUplink(true)
	r.apply("fan", 40)
	r.apply("valve", 1)
	r.apply("lamp", 1)
	fan, valve, lamp := r.watch("fan"), r.watch("valve"), r.watch("lamp")
	awaitValue(t, fan, 40)
	awaitValue(t, valve, 1)
	awaitValue(t, lamp, 1)

	// Lost, and back in time: nothing happens.
	r.c.SetUplink(false)
	r.clk.Advance(4 * time.Minute)
	r.c.SetUplink(true)
	r.clk.Advance(2 * time.Minute)
	r.barrier()

	// Lost for safe_after.
	r.c.SetUplink(false)
	r.clk.Advance(5 * time.Minute)
	awaitValue(t, fan, 0)
	awaitValue(t, valve, 0)
	awaitValue(t, lamp, 1) // holds, and says so
	for name, want := range map[string][]float64{"fan": {0, 40, 0}, "valve": {0, 1, 0}, "lamp": {1}} {
		if got := r.values(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s Set calls %v, want %v", name, got, want)
		}
	}
	logs := r.logs.String()
	for _, want := range []string{
		`msg="uplink lost too long: every actuator to its safe state" device=dev-1 safe_after=5m0s`,
		`msg="actuator in its safe state (uplink_lost)" device=dev-1 actuator=fan value=0`,
		`msg="actuator holds its value (uplink_lost)" device=dev-1 actuator=lamp value=1`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// Once per outage: commands given during it stay.
	r.apply("valve", 1)
	r.clk.Advance(time.Hour)
	r.barrier()
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0, 1, 0, 1}) {
		t.Errorf("valve Set calls %v", got)
	}
	r.metrics(`
# HELP tributary_edge_actuator_safe_state_total Times an actuator was put in its safe state (or held), by cause (boot, uplink_lost, hardware).
# TYPE tributary_edge_actuator_safe_state_total counter
tributary_edge_actuator_safe_state_total{actuator="fan",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="fan",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="fan",cause="uplink_lost"} 1
tributary_edge_actuator_safe_state_total{actuator="heater",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="heater",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="heater",cause="uplink_lost"} 1
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="uplink_lost"} 1
tributary_edge_actuator_safe_state_total{actuator="valve",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="valve",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="valve",cause="uplink_lost"} 1
`, "tributary_edge_actuator_safe_state_total")
}

func TestNoSafeAfterWhenZero(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SafeAfter = 0
	r := newRig(t, cfg, nil, actuate.Options{}).start()
	r.c.SetUplink(true)
	r.apply("valve", 1)
	r.c.SetUplink(false)
	r.clk.Advance(48 * time.Hour)
	r.barrier()
	if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0, 1}) {
		t.Errorf("valve Set calls %v", got)
	}
	if n := r.clk.Timers(); n != 0 {
		t.Errorf("%d timers wait", n)
	}
}

func TestExpiredNeverAppliedLate(t *testing.T) {
	t.Run("waiting before Run", func(t *testing.T) {
		r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{})
		c := r.submit(r.cmd("valve", 1))
		r.clk.Advance(31 * time.Second)
		r.start()
		if s := r.outcome(c.ID, command.Expired, command.ReasonDeadline); s.Value != 1 || !strings.Contains(s.Detail, "deadline passed 1s") {
			t.Errorf("expired %+v", s)
		}
		r.barrier()
		if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
			t.Errorf("valve Set calls %v", got)
		}
	})
	t.Run("waiting behind a slow output", func(t *testing.T) {
		r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{})
		entered, release := make(chan struct{}), make(chan struct{})
		r.outs["fan"].Before = func(ctx context.Context, v float64) error {
			if v == 50 {
				close(entered)
				<-release
			}
			return nil
		}
		r.start()
		slow := r.submit(r.cmd("fan", 50))
		r.status(slow.ID, command.Accepted)
		<-entered
		c := r.cmd("valve", 1)
		c.Deadline = c.At.Add(10 * time.Second)
		r.submit(c)
		r.clk.Advance(10 * time.Second)
		close(release)
		r.status(slow.ID, command.Applied)
		r.outcome(c.ID, command.Expired, command.ReasonDeadline)
		r.barrier()
		if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
			t.Errorf("valve Set calls %v", got)
		}
	})
	t.Run("deadline passing while its id is recorded", func(t *testing.T) {
		// The clock jumps while the controller checks the command (its
		// ClockTrusted call): the checks pass with the time read before,
		// and the deadline is past when it comes to apply it.
		r := newRig(t, testConfig(t.TempDir()), nil, actuate.Options{}).start()
		r.barrier()
		r.onTrusted.Store(func() { r.clk.Advance(31 * time.Second) })
		c := r.submit(r.cmd("valve", 1))
		r.status(c.ID, command.Accepted)
		if s := r.status(c.ID, command.Expired); s.Reason != command.ReasonDeadline {
			t.Errorf("expired %+v", s)
		}
		r.onTrusted.Store(func() {})
		r.barrier()
		if got := r.values("valve"); !reflect.DeepEqual(got, []float64{0}) {
			t.Errorf("valve Set calls %v", got)
		}
	})
}
