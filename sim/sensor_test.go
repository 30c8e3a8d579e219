package sim_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sim"
)

func TestClimateSensors(t *testing.T) {
	clk := &sensorstest.Clock{Start: time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)}
	c := sim.NewClimate(sim.ClimateOptions{Seed: 1})
	ctx := context.Background()
	for _, tc := range []struct {
		s     sensors.Sensor
		units []string
	}{
		{sim.NewClimateSensor("bme", c, clk.Now), []string{"Cel", "%", "hPa"}},
		{sim.NewTemperatureSensor("t", c, clk.Now), []string{"Cel"}},
		{sim.NewHumiditySensor("h", c, clk.Now), []string{"%"}},
		{sim.NewPressureSensor("p", c, clk.Now), []string{"hPa"}},
	} {
		got, err := tc.s.Read(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.s.Name(), err)
		}
		if len(got) != len(tc.units) {
			t.Fatalf("%s: %d samples, want %d", tc.s.Name(), len(got), len(tc.units))
		}
		for i, s := range got {
			if err := s.Validate(); err != nil {
				t.Errorf("%s: %v", tc.s.Name(), err)
			}
			if s.Unit != tc.units[i] {
				t.Errorf("%s: sample %d unit %q, want %q", tc.s.Name(), i, s.Unit, tc.units[i])
			}
			if s.Value != float64(int64(s.Value*100+0.5*sign(s.Value)))/100 {
				t.Errorf("%s: value %v not rounded to 0.01", tc.s.Name(), s.Value)
			}
		}
		clk.Advance(time.Second)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sim.NewClimateSensor("x", c, clk.Now).Read(cctx); err == nil {
		t.Error("Read with a cancelled context succeeded")
	}
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func TestDoorSensor(t *testing.T) {
	clk := &sensorstest.Clock{Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	s := sim.NewDoorSensor("front", sim.NewDoor(sim.DoorOptions{Seed: 3, MeanClosed: time.Minute, MeanOpen: 10 * time.Second}), clk.Now)
	seen := map[float64]int{}
	for range 3600 {
		got, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Metric != "door" || got[0].Unit != "1" {
			t.Fatalf("door sample %+v", got)
		}
		seen[got[0].Value]++
		clk.Advance(time.Second)
	}
	if len(seen) != 2 || seen[0] == 0 || seen[1] == 0 {
		t.Fatalf("door values over an hour: %v, want both 0 and 1", seen)
	}
}

func ExampleNewClimateSensor() {
	clk := &sensorstest.Clock{Start: time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC)}
	s := sim.NewClimateSensor("climate", sim.NewClimate(sim.ClimateOptions{Seed: 1}), clk.Now)
	samples, _ := s.Read(context.Background())
	for _, x := range samples {
		fmt.Println(x.Metric, x.Unit)
	}
	// Output:
	// temperature Cel
	// humidity %
	// pressure hPa
}
