package agent_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

// printUplink prints the first reading it gets and then stops the agent.
type printUplink struct {
	stop context.CancelFunc
	done bool
}

func (u *printUplink) Send(ctx context.Context, rs []reading.Reading) (int, error) {
	if !u.done {
		u.done = true
		fmt.Println(string(rs[0].AppendJSON(nil)))
		u.stop()
	}
	return 0, nil
}

func Example() {
	dir, _ := os.MkdirTemp("", "agent-example-")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	thermo := &sensorstest.Sensor{ID: "bme280", Samples: []sensors.Sample{{Metric: "temperature", Value: 21.37, Unit: "Cel"}}}
	a, err := agent.New(
		agent.Config{Device: "greenhouse-1", Sensors: []agent.SensorConfig{{Sensor: thermo}}, StateDir: dir},
		&printUplink{stop: cancel},
		agent.Options{Now: func() time.Time { return time.Date(2026, 11, 26, 23, 1, 13, 123456789, time.UTC) }},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := a.Run(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"v":1,"device":"greenhouse-1","sensor":"bme280","metric":"temperature","value":21.37,"unit":"Cel","ts":"2026-11-26T23:01:13.123Z","seq":1}
}
