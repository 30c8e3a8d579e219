package hardware

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/sensors"
)

func f64(v float64) *float64 { return &v }

func TestValidateActuators(t *testing.T) {
	sensorsCfg := []SensorConfig{{Name: "door", Driver: "gpio-input", Pin: "GPIO17"}, {Driver: "sim", Name: "bench"}}
	good := []ActuatorConfig{
		{Name: "heater", Driver: "relay", Pin: "GPIO23", ActiveLow: true, Safe: "off", MaxOn: 30 * time.Minute},
		{Name: "fan", Driver: "pwm", Pin: "18", Min: f64(20), Frequency: "25kHz", Safe: "hold"},
	}
	if errs := ValidateActuators(sensorsCfg, good, [][]string{{"heater", "fan"}}, nil); len(errs) != 0 {
		t.Fatalf("a good configuration: %v", errs)
	}
	for _, tc := range []struct {
		name  string
		as    []ActuatorConfig
		locks [][]string
		want  string
	}{
		{"no driver", []ActuatorConfig{{Name: "a", Pin: "GPIO5"}}, nil, "actuators[0].driver: missing (pwm, relay)"},
		{"unknown driver", []ActuatorConfig{{Name: "a", Driver: "servo", Pin: "5"}}, nil, `actuators[0].driver: "servo" is not an actuator driver (known: pwm, relay)`},
		{"no name", []ActuatorConfig{{Driver: "relay", Pin: "5"}}, nil, "actuators[0].name: missing"},
		{"bad name", []ActuatorConfig{{Name: "a b", Driver: "relay", Pin: "5"}}, nil, `actuators[0].name: "a b" is not a valid id`},
		{"a sensor's name", []ActuatorConfig{{Name: "door", Driver: "relay", Pin: "5"}}, nil, `actuators[0].name: "door" is already sensors[0]'s name`},
		{"a simulated set's name", []ActuatorConfig{{Name: "bench-climate", Driver: "relay", Pin: "5"}}, nil, `"bench-climate" is already sensors[1]'s name`},
		{"two actuators one name", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5"}, {Name: "a", Driver: "relay", Pin: "6"}}, nil, `actuators[1].name: "a" is already actuators[0]'s name`},
		{"no pin", []ActuatorConfig{{Name: "a", Driver: "relay"}}, nil, "actuators[0].pin: missing"},
		{"bad pin", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "99"}}, nil, "actuators[0].pin: 99 is not a Raspberry Pi GPIO"},
		{"a sensor's pin", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "17"}}, nil, "actuators[0].pin: GPIO17 is already sensors[0]'s"},
		{"relay safe level", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Safe: "50"}}, nil, `actuators[0].safe: "50": want off, on or hold`},
		{"pwm safe on", []ActuatorConfig{{Name: "a", Driver: "pwm", Pin: "18", Safe: "on"}}, nil, `actuators[0].safe: "on": a level's safe state is hold or a level`},
		{"pwm safe outside", []ActuatorConfig{{Name: "a", Driver: "pwm", Pin: "18", Min: f64(30), Safe: "10"}}, nil, "actuators[0].safe: 10% is outside min..max (30..100)"},
		{"relay min", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Max: f64(1)}}, nil, "actuators[0].max: driver relay does not take max"},
		{"relay frequency", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Frequency: "1kHz"}}, nil, "actuators[0].frequency: driver relay does not take frequency"},
		{"pwm range", []ActuatorConfig{{Name: "a", Driver: "pwm", Pin: "18", Min: f64(60), Max: f64(50)}}, nil, "actuators[0].max: min 60, max 50: want 0 <= min < max <= 100"},
		{"pwm frequency", []ActuatorConfig{{Name: "a", Driver: "pwm", Pin: "18", Frequency: "fast"}}, nil, `actuators[0].frequency: "fast" is not a frequency`},
		{"pwm frequency range", []ActuatorConfig{{Name: "a", Driver: "pwm", Pin: "18", Frequency: "5MHz"}}, nil, "actuators[0].frequency: 5MHz: want 1Hz to 1MHz"},
		{"max_on", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", MaxOn: -time.Second}}, nil, "actuators[0].max_on: negative"},
		{"min_off", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", MinOff: -time.Second}}, nil, "actuators[0].min_off: negative"},
		{"per_minute", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", PerMinute: 1000}}, nil, "actuators[0].per_minute: 1000: want 1 to 600"},
		{"sim", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Sim: "freeze"}}, nil, `actuators[0].sim: "freeze": want heat, cool, irrigate or none`},
		{"fallback", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Fallback: "yes"}}, nil, `actuators[0].fallback: "yes": the only fallback is "sim"`},
		{"label", []ActuatorConfig{{Name: "a", Driver: "relay", Pin: "5", Label: strings.Repeat("x", 65)}}, nil, "actuators[0].label: at most 64 characters"},
		{"interlock unknown", good, [][]string{{"heater", "pump"}}, `interlocks[0][1]: no actuator "pump"`},
		{"interlock sensor", good, [][]string{{"door", "fan"}}, `interlocks[0][0]: "door" is a sensor, not an actuator`},
		{"interlock alone", good, [][]string{{"fan"}}, "interlocks[0]: an interlock names at least two actuators"},
		{"interlock twice", good, [][]string{{"fan", "heater", "fan"}}, `interlocks[0][2]: "fan" twice in one interlock`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateActuators(sensorsCfg, tc.as, tc.locks, nil)
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !slices.ContainsFunc(all, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("errors %q, want one containing %q", all, tc.want)
			}
		})
	}
}

func TestParseSafe(t *testing.T) {
	for _, tc := range []struct {
		in, kind string
		want     Safe
		str      string
	}{
		{"", command.KindSwitch, Safe{}, "0"},
		{"off", command.KindSwitch, Safe{}, "0"},
		{"ON", command.KindSwitch, Safe{Value: 1}, "1"},
		{"hold", command.KindSwitch, Safe{Hold: true}, "hold"},
		{"hold", command.KindLevel, Safe{Hold: true}, "hold"},
		{"off", command.KindLevel, Safe{}, "0"},
		{"25", command.KindLevel, Safe{Value: 25}, "25"},
		{"12.5%", command.KindLevel, Safe{Value: 12.5}, "12.5"},
	} {
		got, err := ParseSafe(tc.in, tc.kind)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseSafe(%q, %s) = %+v (%s), %v; want %+v (%s)", tc.in, tc.kind, got, got, err, tc.want, tc.str)
		}
	}
	for _, bad := range [][2]string{{"50", command.KindSwitch}, {"on", command.KindLevel}, {"101", command.KindLevel}, {"-1", command.KindLevel}, {"NaN", command.KindLevel}, {"warm", command.KindLevel}} {
		if _, err := ParseSafe(bad[0], bad[1]); err == nil {
			t.Errorf("ParseSafe(%q, %s) accepted", bad[0], bad[1])
		}
	}
}

// TestOpenSimActuators: --sim with no actuators configured opens the
// simulated set over emulated pins: off at open (an active-low relay's
// pin High), each command reaching its pin at the exact level.
func TestOpenSimActuators(t *testing.T) {
	ctx := context.Background()
	board, err := Open(nil, Options{Device: "sim-act", Sim: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	as := board.Actuators()
	if len(as) != 2 || as[0].Output.Name() != "heater" || as[1].Output.Name() != "fan" {
		t.Fatalf("simulated set without soil: %+v", as)
	}
	heater, fan := as[0], as[1]
	if !heater.Simulated || heater.Kind != command.KindSwitch || heater.Sim != SimHeat || fan.Sim != SimCool || fan.Kind != command.KindLevel ||
		fan.Frequency != 25*physic.KiloHertz || fan.PerMinute != DefaultPerMinute || fan.Max != 100 {
		t.Fatalf("simulated set: %+v", as)
	}
	if heater.Pin.Level() != gpio.High {
		t.Fatalf("active-low heater relay at open: pin %s, want High (off)", heater.Pin.Level())
	}
	if err := heater.Output.Set(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if heater.Pin.Level() != gpio.Low || heater.Output.Value() != 1 {
		t.Errorf("heater on: pin %s, want Low", heater.Pin.Level())
	}
	if err := fan.Output.Set(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if o := fan.Pin.Output(); !o.PWM || o.Duty != pwm.Duty(40) {
		t.Errorf("fan at 40%%: %+v", o)
	}
	if d := heater.Description(); d.Safe != "off" || d.Kind != command.KindSwitch || d.Max != 1 || d.Validate() != nil {
		t.Errorf("heater description %+v", d)
	}
	if d := fan.Description(); d.Safe != "0" || d.Validate() != nil {
		t.Errorf("fan description %+v", d)
	}
	if err := board.Close(); err != nil {
		t.Fatal(err)
	}
	if heater.Pin.Level() != gpio.Low {
		t.Error("Close moved an output: that is the controller's job")
	}

	// Configured sensors are the device's truth: --sim emulates them and adds
	// no actuators the file does not have.
	soil := []SensorConfig{{Name: "soil", Driver: "ads1115", Metric: "moisture"}}
	board2, err := Open(soil, Options{Device: "sim-act", Sim: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer board2.Close()
	if as := board2.Actuators(); len(as) != 0 {
		t.Fatalf("--sim with configured sensors added actuators: %+v", as)
	}
	// The set leaves out what would clash with a sensor's name or pin.
	if as := simulatedActuators(true, []SensorConfig{{Name: "heater", Driver: "sim-temperature"}}); len(as) != 2 || as[0].Name != "fan" || as[1].Name != "valve" {
		t.Fatalf("simulated set beside a sensor named heater: %+v", as)
	}
}

// TestEmulatedActuatorsMoveTheWorld: an emulated actuator's pin moves the
// world's models: the heater warms the climate, the fan cools it, the
// valve waters the soil beds, active-low taken into account.
func TestEmulatedActuatorsMoveTheWorld(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 10, 3, 0, 0, 0, time.UTC)
	now := t0
	w := newSimWorld("world", func() time.Time { return now })
	bed := w.soil()
	specs := actuatorSpecs([]ActuatorConfig{
		{Name: "heater", Driver: "relay", Pin: "GPIO23", ActiveLow: true},
		{Name: "vent", Driver: "pwm", Pin: "GPIO18"},
		{Name: "drip", Driver: "relay", Pin: "GPIO24", Sim: "irrigate"},
	})
	var outs []Actuator
	for _, sp := range specs {
		out, pin, err := emulateActuator(sp, w)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, Actuator{Output: out, Pin: pin})
	}
	if h, c, _ := w.climate.Actuated(); h != 0 || c != 0 || bed.Irrigation() != 0 {
		t.Fatalf("at open: heating %v, cooling %v, irrigation %v; want all off", h, c, bed.Irrigation())
	}
	for i, v := range []float64{1, 50, 1} {
		if err := outs[i].Output.Set(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if h, c, _ := w.climate.Actuated(); h != 1 || c != 0.5 || bed.Irrigation() != 1 {
		t.Errorf("on: heating %v, cooling %v, irrigation %v; want 1, 0.5, 1", h, c, bed.Irrigation())
	}
	if outs[0].Pin.Level() != gpio.Low {
		t.Error("active-low heater on: pin not Low")
	}
}

// TestOpenActuatorMissingPin: on a board without the pin, an actuator
// with fallback: sim is emulated; one without fails its commands with a
// typed error (and retries the pin each time).
func TestOpenActuatorMissingPin(t *testing.T) {
	as := []ActuatorConfig{
		{Name: "heater", Driver: "relay", Pin: "NOPIN_A", Fallback: "sim"},
		{Name: "pump", Driver: "relay", Pin: "NOPIN_B"},
	}
	board, err := Open([]SensorConfig{{Driver: "sim"}}, Options{Device: "d", Logger: discard(), Actuators: as})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	got := board.Actuators()
	if len(got) != 2 || !got[0].Simulated || got[0].Pin == nil || got[1].Simulated {
		t.Fatalf("actuators %+v", got)
	}
	if err := got[0].Output.Set(context.Background(), 1); err != nil || got[0].Pin.Level() != gpio.High {
		t.Errorf("fallback heater on: %v, pin %v", err, got[0].Pin.Level())
	}
	err = got[1].Output.Set(context.Background(), 1)
	if !errors.Is(err, sensors.ErrNoDevice) || !strings.Contains(err.Error(), "pump") {
		t.Errorf("missing pump: %v, want ErrNoDevice naming it", err)
	}
	if _, err := Open(nil, Options{Actuators: []ActuatorConfig{{Name: "x", Driver: "relay"}}, Logger: discard()}); err == nil {
		t.Error("Open accepted an invalid actuator")
	}
}

func TestDescriptions(t *testing.T) {
	board, err := Open(nil, Options{Sim: true, Logger: discard(), Actuators: []ActuatorConfig{
		{Name: "heater", Driver: "relay", Pin: "GPIO5", Safe: "on", Label: "Heater"},
		{Name: "fan", Driver: "pwm", Pin: "GPIO18", Min: f64(20), Safe: "hold"},
		{Name: "valve", Driver: "relay", Pin: "GPIO6"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	ds := Descriptions(board.Actuators(), [][]string{{"heater", "fan"}, {"valve", "heater"}})
	data, err := command.EncodeActuators(ds)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[{"name":"heater","kind":"switch","min":0,"max":1,"safe":"on","label":"Heater","interlock":["fan","valve"]},` +
		`{"name":"fan","kind":"level","min":20,"max":100,"safe":"hold","interlock":["heater"]},` +
		`{"name":"valve","kind":"switch","min":0,"max":1,"safe":"off","interlock":["heater"]}]`
	if string(data) != want {
		t.Errorf("descriptions\n%s\nwant\n%s", data, want)
	}
}
