package actuate_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/command"
)

var errRelay = errors.New("gpio23: write: input/output error\nsecond line")

func TestHardwareErrorFailsAndTriesTheSafeState(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Actuators[1].Safe = 25
	r := newRig(t, cfg, nil, actuate.Options{}).start()
	r.apply("lamp", 1)
	fan, lamp := r.watch("fan"), r.watch("lamp")
	awaitValue(t, fan, 25)

	r.outs["fan"].SetErr(errRelay, 1)
	c := r.submit(r.cmd("fan", 80))
	s := r.outcome(c.ID, command.Failed, command.ReasonHardware)
	if s.Detail != "gpio23: write: input/output error second line" || s.Value != 80 {
		t.Errorf("failed %+v", s)
	}
	awaitValue(t, fan, 25)
	if got := r.values("fan"); !reflect.DeepEqual(got, []float64{25, 80, 25}) {
		t.Errorf("fan Set calls %v, want boot, the failed command, the safe state", got)
	}

	// A holding actuator is set back to the value it held.
	awaitValue(t, lamp, 1)
	r.outs["lamp"].SetErr(errRelay, 1)
	c = r.submit(r.cmd("lamp", 0))
	r.outcome(c.ID, command.Failed, command.ReasonHardware)
	awaitValue(t, lamp, 1)
	if got := r.values("lamp"); !reflect.DeepEqual(got, []float64{1, 0, 1}) {
		t.Errorf("lamp Set calls %v", got)
	}

	// The safe state fails too: the state is what the output last took.
	r.outs["fan"].SetErr(errRelay, 2)
	c = r.submit(r.cmd("fan", 90))
	r.outcome(c.ID, command.Failed, command.ReasonHardware)
	awaitValue(t, fan, 25)
	r.apply("fan", 30)
	r.metrics(`
# HELP tributary_edge_commands_total Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.
# TYPE tributary_edge_commands_total counter
tributary_edge_commands_total{outcome="applied",reason=""} 2
tributary_edge_commands_total{outcome="failed",reason="hardware"} 3
# HELP tributary_edge_actuator_value Each actuator's value: a switch 0 or 1, a level its PWM duty in %.
# TYPE tributary_edge_actuator_value gauge
tributary_edge_actuator_value{actuator="fan"} 30
tributary_edge_actuator_value{actuator="heater"} 0
tributary_edge_actuator_value{actuator="lamp"} 1
tributary_edge_actuator_value{actuator="valve"} 0
`, "tributary_edge_commands_total", "tributary_edge_actuator_value")
	r.metrics(`
# HELP tributary_edge_actuator_safe_state_total Times an actuator was put in its safe state (or held), by cause (boot, uplink_lost, hardware).
# TYPE tributary_edge_actuator_safe_state_total counter
tributary_edge_actuator_safe_state_total{actuator="fan",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="fan",cause="hardware"} 2
tributary_edge_actuator_safe_state_total{actuator="fan",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="heater",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="heater",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="heater",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="hardware"} 1
tributary_edge_actuator_safe_state_total{actuator="lamp",cause="uplink_lost"} 0
tributary_edge_actuator_safe_state_total{actuator="valve",cause="boot"} 1
tributary_edge_actuator_safe_state_total{actuator="valve",cause="hardware"} 0
tributary_edge_actuator_safe_state_total{actuator="valve",cause="uplink_lost"} 0
`, "tributary_edge_actuator_safe_state_total")
}

// Many goroutines submit at once (the uplink, the local dashboard, SetUplink,
// sensor reads): every command gets exactly its statuses, in order.
func TestConcurrentSubmitters(t *testing.T) {
	cfg := testConfig(t.TempDir())
	for i := range cfg.Actuators {
		cfg.Actuators[i].PerMinute = 1000
	}
	r := newRig(t, cfg, nil, actuate.Options{QueueLen: 1000}).start()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	cmds := make(chan command.Command, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c := r.cmd([]string{"valve", "lamp", "fan"}[i%3], float64(i%2))
				if i%3 == 2 {
					c.Value = float64(20 * (i % 2))
				}
				var err error
				if i%4 == 0 {
					err = r.c.Local(c)
				} else {
					err = r.c.Submit(c)
				}
				if err != nil {
					t.Errorf("submit %s: %v", c.ID, err)
				}
				cmds <- c
				r.c.SetUplink(i%2 == 0)
				for _, s := range r.c.Sensors() {
					if _, err := s.Read(t.Context()); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(cmds)
	want := map[string]bool{}
	for c := range cmds {
		want[c.ID] = true
	}
	seen := map[string][]command.State{}
	for finals := 0; finals < len(want); {
		ev := r.next()
		if ev.Command != nil {
			if len(seen[ev.Command.ID]) > 0 {
				t.Errorf("%s: command reported after its statuses", ev.Command.ID)
			}
			continue
		}
		s := ev.Status
		if !want[s.ID] {
			t.Fatalf("status of an unknown command %+v", s)
		}
		seen[s.ID] = append(seen[s.ID], s.State)
		if s.State.Final() {
			finals++
		}
	}
	for id, states := range seen {
		if fmt.Sprint(states) != "[accepted applied]" {
			t.Errorf("%s: %v", id, states)
		}
	}
	r.barrier()
}
