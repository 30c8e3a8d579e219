package gpiosim_test

import (
	"context"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/actuators/gpioout"
	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// TestClosedLoop: a thermostat (the test) reads a simulated greenhouse
// and switches the real relay driver on an emulated active-low pin, whose
// changes heat the climate; on a virtual clock, two cold night hours hold
// the air near the set point, far above the outside's. Then the
// fan, by PWM, cools the air below the outside's temperature.
func TestClosedLoop(t *testing.T) {
	ctx := context.Background()
	clock := gpiosim.NewClock(time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC))
	climate := sim.NewClimate(sim.ClimateOptions{Seed: 3, MeanTemperature: 6})
	outside := sim.NewClimate(sim.ClimateOptions{Seed: 3, MeanTemperature: 6}) // the same weather, no heater
	heaterPin := gpiosim.New(gpiosim.Options{Name: "SIM_loop_heater", Clock: clock, OnOutput: gpiosim.Heater(climate, true)})
	heater, err := gpioout.New(heaterPin, gpioout.Options{Name: "heater", ActiveLow: true})
	if err != nil {
		t.Fatal(err)
	}
	const setPoint = 8.0
	var lo, hi float64 = 100, -100
	switches := 0
	for step := range 120 { // a minute each
		now := clock.Now()
		temp := climate.At(now).Temperature
		outside.At(now)
		want := heater.Value()
		switch {
		case temp < setPoint-0.5:
			want = 1
		case temp > setPoint+0.5:
			want = 0
		}
		if want != heater.Value() {
			if err := heater.Set(ctx, want); err != nil {
				t.Fatal(err)
			}
			switches++
		}
		if lvl := heaterPin.Level(); lvl != (heater.Value() == 0) {
			t.Fatalf("minute %d: heater %v but pin %s (active-low)", step, heater.Value(), lvl)
		}
		if step >= 30 { // after the warm-up
			lo, hi = min(lo, temp), max(hi, temp)
		}
		clock.Advance(time.Minute)
	}
	out := outside.At(clock.Now()).Temperature
	t.Logf("held %.2f..%.2f °C (outside %.2f °C), %d switches", lo, hi, out, switches)
	if lo < setPoint-1.5 || hi > setPoint+1.5 {
		t.Errorf("held %.2f..%.2f °C, want within 1.5 of %v", lo, hi, setPoint)
	}
	if out > setPoint-4 || switches < 6 {
		t.Errorf("outside %.2f °C, %d switches: the loop did not work for its living", out, switches)
	}
	log, _ := heaterPin.Changes()
	if len(log) != switches+1 || !log[len(log)-1].At.After(log[0].At) {
		t.Errorf("%d pin changes for %d switches (and one at open)", len(log), switches)
	}

	// Heater off, fan at full: the air ends below the outside's.
	if err := heater.Set(ctx, 0); err != nil {
		t.Fatal(err)
	}
	fanPin := gpiosim.New(gpiosim.Options{Name: "SIM_loop_fan", Clock: clock, OnOutput: gpiosim.Fan(climate, false)})
	fan, err := pwm.New(fanPin, pwm.Options{Name: "fan"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fan.Set(ctx, 100); err != nil || fanPin.Output().Duty != gpio.DutyMax {
		t.Fatalf("fan at 100%%: %v, %+v", err, fanPin.Output())
	}
	clock.Advance(30 * time.Minute)
	in, out := climate.At(clock.Now()).Temperature, outside.At(clock.Now()).Temperature
	if in > out-3.5 {
		t.Errorf("after 30 minutes of fan: %.2f °C inside, %.2f outside: want about 4.5 below", in, out)
	}
}
