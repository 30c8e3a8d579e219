package fleet_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sim/fleet"
	"github.com/tributary-iot/tributary/store"
)

// TestDeviceActuators: every device has a heater and a fan, off at start,
// a valve where it has soil, each moving its models when set.
func TestDeviceActuators(t *testing.T) {
	ctx := context.Background()
	opt := fleet.Options{Devices: 3, Seed: 4}
	for i := range 3 {
		d, err := fleet.NewDevice(opt, i)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"heater", "fan"}
		if d.Soil != nil {
			want = append(want, "valve")
		}
		var names []string
		for _, a := range d.Actuators {
			names = append(names, a.Output.Name())
			if err := a.Description.Validate(); err != nil || a.Description.Name != a.Output.Name() {
				t.Errorf("%s: description %+v: %v", d.ID, a.Description, err)
			}
			if a.Output.Value() != 0 {
				t.Errorf("%s %s: %v at start, want off", d.ID, a.Output.Name(), a.Output.Value())
			}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: actuators %v, want %v", d.ID, names, want)
		}
		heater, fan := d.Actuators[0], d.Actuators[1]
		if heater.Pin.Level() != gpio.High {
			t.Errorf("%s: active-low heater relay at start: pin %s, want High", d.ID, heater.Pin.Level())
		}
		if err := heater.Output.Set(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := fan.Output.Set(ctx, 30); err != nil {
			t.Fatal(err)
		}
		if h, c, _ := d.Climate.Actuated(); h != 1 || math.Abs(c-0.3) > 1e-6 || heater.Pin.Level() != gpio.Low {
			t.Errorf("%s: heating %v, cooling %v, heater pin %s", d.ID, h, c, heater.Pin.Level())
		}
		if d.Soil != nil {
			if err := d.Actuators[2].Output.Set(ctx, 1); err != nil || d.Soil.Irrigation() != 1 {
				t.Errorf("%s: valve on: %v, irrigation %v", d.ID, err, d.Soil.Irrigation())
			}
		}
	}
	if _, err := fleet.NewDevice(opt, 3); err == nil {
		t.Error("NewDevice beyond the fleet")
	}
}

// stateSensor reports an actuator's value, as a controller's would.
type stateSensor struct{ d *fleet.Device }

func (s stateSensor) Name() string { return "heater" }
func (s stateSensor) Read(context.Context) ([]sensors.Sample, error) {
	return []sensors.Sample{{Metric: "on", Value: s.d.Actuators[0].Output.Value(), Unit: "1"}}, nil
}

// TestOnDevice: the hook sees each device before its agent starts; its
// sensors are read with the device's and its Run runs until the fleet
// stops; its error stops Run.
func TestOnDevice(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := store.New(srv.Client(t), store.Options{})
	var runs atomic.Int32
	opt := fleet.Options{Redis: store.ClientOptions{URL: srv.URL()}, Devices: 2, Interval: 5 * time.Millisecond, StateDir: t.TempDir(),
		OnDevice: func(d *fleet.Device) (fleet.Extra, error) {
			return fleet.Extra{
				Sensors: []agent.SensorConfig{{Sensor: stateSensor{d}}},
				Run: func(ctx context.Context) error {
					runs.Add(1)
					if err := d.Actuators[0].Output.Set(ctx, 1); err != nil {
						return err
					}
					<-ctx.Done()
					return ctx.Err()
				},
			}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx, opt) }()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		on := 0
		devs, _ := st.Devices(ctx)
		for _, d := range devs {
			for _, r := range d.Latest {
				if r.Sensor == "heater" && r.Metric == "on" && r.Value == 1 {
					on++
				}
			}
		}
		if on == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for each device's heater reported on")
		}
		<-tick.C
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("fleet did not stop")
	}
	if runs.Load() != 2 {
		t.Errorf("extra Run ran %d times, want 2", runs.Load())
	}
	boom := errors.New("no controller")
	opt.OnDevice = func(*fleet.Device) (fleet.Extra, error) { return fleet.Extra{}, boom }
	if err := fleet.Run(context.Background(), opt); !errors.Is(err, boom) {
		t.Errorf("Run with a failing hook: %v", err)
	}
}
