package hardware

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sensors"
	sht3xsim "github.com/tributary-iot/tributary/sim/chip/sht3x"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// everyDriver is one sensor of every hardware driver, as in edge's
// testdata/sim-all.yaml.
var everyDriver = []SensorConfig{
	{Name: "air", Driver: "bme280", Bus: "1", Address: "0x76"},
	{Name: "baro", Driver: "bmp280", Address: "0x77"},
	{Name: "leaf", Driver: "sht3x", Address: "0x44"},
	{Name: "canopy", Driver: "sht4x", Address: "0x45"},
	{Name: "light", Driver: "bh1750", Address: "0x23", Timeout: 2 * time.Second},
	{Name: "soil", Driver: "ads1115", Address: "0x48", Channel: "0", Metric: "moisture"},
	{Name: "battery", Driver: "ads1115", Address: "0x48", Channel: "1", Scale: 11},
	{Name: "door", Driver: "gpio-input", Pin: "GPIO17", Metric: "door"},
	{Name: "hall", Driver: "gpio-input", Pin: "27", Metric: "motion", Pull: "none"},
	{Name: "rain", Driver: "pulse-counter", Pin: "GPIO6", Scale: 0.2794, Unit: "mm", RatePer: "1h"},
	{Name: "soil-temp", Driver: "ds18b20", ID: "28-0316a2795bff", Interval: time.Second},
}

// TestOpenSim: with Sim, every hardware driver runs over its emulator,
// registered under the configured names; each sensor reads values of its
// unit within physical bounds and is flagged simulated. Close gives the
// names back (and a second Close does nothing).
func TestOpenSim(t *testing.T) {
	board, err := Open(everyDriver, Options{Device: "sim-every", Sim: true, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		unit     string
		min, max float64
	}{
		"air/temperature": {"Cel", -10, 45}, "air/humidity": {"%", 1, 100}, "air/pressure": {"hPa", 900, 1100},
		"baro/temperature": {"Cel", -10, 45}, "baro/pressure": {"hPa", 900, 1100},
		"leaf/temperature": {"Cel", -10, 45}, "leaf/humidity": {"%", 1, 100},
		"canopy/temperature": {"Cel", -10, 45}, "canopy/humidity": {"%", 1, 100},
		"light/illuminance": {"lx", 0, 120000},
		"soil/moisture":     {"%", 0, 100},
		"battery/voltage":   {"V", 11, 14.5},
		"door/door":         {"1", 0, 1},
		"hall/motion":       {"1", 0, 1},
		"rain/count":        {"mm", 0, 1000}, "rain/rate": {"mm/h", 0, 500},
		"soil-temp/temperature": {"Cel", -10, 45},
	}
	got := map[string]bool{}
	ss := board.Sensors()
	if len(ss) != len(everyDriver) {
		t.Fatalf("%d sensors opened, want %d", len(ss), len(everyDriver))
	}
	for i, s := range ss {
		if s.Sensor.Name() != everyDriver[i].Name || !s.Simulated || s.Interval != everyDriver[i].Interval || s.Timeout != everyDriver[i].Timeout {
			t.Errorf("sensor %d: %s, simulated %v, interval %v, timeout %v", i, s.Sensor.Name(), s.Simulated, s.Interval, s.Timeout)
		}
		samples, err := s.Sensor.Read(context.Background())
		if err != nil {
			t.Errorf("%s: %v", s.Sensor.Name(), err)
			continue
		}
		for _, sm := range samples {
			k := s.Sensor.Name() + "/" + sm.Metric
			w, ok := want[k]
			if !ok || sm.Unit != w.unit || sm.Value < w.min || sm.Value > w.max {
				t.Errorf("%s: %v %s, want %s within %v..%v", k, sm.Value, sm.Unit, w.unit, w.min, w.max)
			}
			got[k] = true
		}
	}
	if len(got) != len(want) {
		t.Errorf("read %d series, want %d: %v", len(got), len(want), got)
	}
	if err := errors.Join(board.Close(), board.Close()); err != nil {
		t.Fatal(err)
	}
	if n := len(i2creg.All()); n != 0 || gpioreg.ByName("GPIO17") != nil {
		t.Fatalf("Close left %d buses, or pin GPIO17, registered", n)
	}
}

// TestOpenMissing: on a board without the hardware, a sensor that allows
// it falls back to its simulation; another stands in, failing with a typed
// error; simulations need no hardware.
func TestOpenMissing(t *testing.T) {
	board, err := Open([]SensorConfig{
		{Name: "ghost", Driver: "bme280", Bus: "NOSUCHBUS", Fallback: "sim"},
		{Name: "late", Driver: "sht3x", Bus: "NOSUCHBUS"},
		{Name: "t", Driver: "sim-temperature"},
	}, Options{Device: "missing", Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	ss := board.Sensors()
	if len(ss) != 3 || !ss[0].Simulated || ss[1].Simulated || ss[2].Simulated {
		t.Fatalf("opened %+v", ss)
	}
	if _, err := ss[0].Sensor.Read(context.Background()); err != nil {
		t.Errorf("the fallback: %v", err)
	}
	if _, err := ss[1].Sensor.Read(context.Background()); !errors.Is(err, sensors.ErrNoDevice) || ss[1].Sensor.Name() != "late" {
		t.Errorf("the missing sensor %s: %v, want ErrNoDevice", ss[1].Sensor.Name(), err)
	}
	if _, err := ss[2].Sensor.Read(context.Background()); err != nil {
		t.Errorf("the simulation: %v", err)
	}

	if _, err := Open([]SensorConfig{{Name: "x", Driver: "nope"}}, Options{Logger: discard()}); err == nil || !strings.Contains(err.Error(), `sensors[0].driver: "nope" is not a known driver`) {
		t.Errorf("an invalid configuration: %v", err)
	}
}

// countingBus is an emulated bus handle that counts its closes.
type countingBus struct {
	*i2csim.Bus
	closes *int
}

func (c countingBus) Close() error { *c.closes++; return nil }

// TestAbsentSensor: a sensor whose chip is missing fails with the open's
// typed error until the chip answers, then reads; the bus the sensors
// borrow is opened once, and closed once, by its owner.
func TestAbsentSensor(t *testing.T) {
	bus := i2csim.NewBus("ABSENT")
	opens, closes := 0, 0
	h := newOpener(discard())
	h.host = false
	h.openBus = func(name string) (i2c.BusCloser, error) {
		if name != "ABSENT" {
			return nil, errors.New("i2creg: can't open unknown bus: " + name)
		}
		opens++
		return countingBus{bus, &closes}, nil
	}
	d, _ := lookupDriver("sht3x")
	sp, errs := SensorConfig{Name: "late", Driver: "sht3x", Bus: "ABSENT", Address: "0x44"}.spec(d, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	other, _ := SensorConfig{Name: "other", Driver: "sht3x", Bus: "ABSENT", Address: "0x45"}.spec(d, nil)
	bus.Attach(0x45, sht3xsim.New(sht3xsim.Options{}))
	o, err := h.open(other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.open(sp)
	if !errors.Is(err, sensors.ErrNoDevice) {
		t.Fatalf("opening a missing chip: %v, want ErrNoDevice", err)
	}
	a := h.absent(sp, err)
	if _, err := a.Read(context.Background()); sensors.ErrorKind(err) != "no_device" {
		t.Fatalf("read of a missing chip: %v (kind %q)", err, sensors.ErrorKind(err))
	}
	bus.Attach(0x44, sht3xsim.New(sht3xsim.Options{Input: sht3xsim.Fixed(21.5, 40)}))
	got, err := a.Read(context.Background())
	if err != nil || len(got) != 2 || got[0].Value != 21.5 || got[1].Metric != sensors.MetricHumidity {
		t.Fatalf("read once plugged in: %v, %v", got, err)
	}
	if err := sensors.Close(a, o); err != nil || closes != 0 {
		t.Fatalf("closing the sensors: %v, bus closed %d times, want 0: the sensors borrow it", err, closes)
	}
	if _, err := a.Read(context.Background()); err == nil {
		t.Fatal("a read after Close succeeded")
	}
	h.close()
	if opens != 1 || closes != 1 {
		t.Fatalf("bus opened %d times and closed %d times, want once each", opens, closes)
	}

	// A bus that does not exist is no_device too, and says how to enable I²C.
	_, err = h.bus("7")
	if !errors.Is(err, sensors.ErrNoDevice) || !strings.Contains(openHint(err), "raspi-config nonint do_i2c 0") {
		t.Fatalf("a missing bus: %v (hint %q)", err, openHint(err))
	}
}
