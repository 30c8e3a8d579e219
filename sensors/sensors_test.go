package sensors_test

import (
	"errors"
	"math"
	"testing"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
)

func TestSampleValidate(t *testing.T) {
	for _, tc := range []struct {
		s  sensors.Sample
		ok bool
	}{
		{sensors.Sample{Metric: sensors.MetricTemperature, Value: 21.5, Unit: sensors.UnitCelsius}, true},
		{sensors.Sample{Metric: sensors.MetricDoor, Value: sensors.DoorOpen, Unit: sensors.UnitOne}, true},
		{sensors.Sample{Metric: "Temperature", Value: 1, Unit: sensors.UnitCelsius}, false},
		{sensors.Sample{Metric: "temperature", Value: math.NaN(), Unit: sensors.UnitCelsius}, false},
		{sensors.Sample{Metric: "temperature", Value: 1, Unit: ""}, false},
	} {
		err := tc.s.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.s, err, tc.ok)
		}
		if err != nil && !errors.Is(err, reading.ErrInvalid) {
			t.Errorf("%+v: error %v does not wrap reading.ErrInvalid", tc.s, err)
		}
	}
}

type closer struct {
	sensorstest.Sensor
	closed int
	err    error
}

func (c *closer) Close() error { c.closed++; return c.err }

func TestClose(t *testing.T) {
	a := &closer{Sensor: sensorstest.Sensor{ID: "a"}}
	b := &closer{Sensor: sensorstest.Sensor{ID: "b"}, err: errors.New("boom")}
	plain := &sensorstest.Sensor{ID: "plain"}
	err := sensors.Close(a, plain, b)
	if a.closed != 1 || b.closed != 1 {
		t.Fatalf("closed a=%d b=%d, want 1 each", a.closed, b.closed)
	}
	if err == nil || err.Error() != "sensors: close b: boom" {
		t.Fatalf("Close error = %v, want the one of b", err)
	}
}
