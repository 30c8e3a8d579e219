package sim

import (
	"context"
	"time"

	"github.com/tributary-iot/tributary/sensors"
)

// ClimateSensor is a simulated sensor reading some quantities of a Climate:
// a thermometer, a hygrometer, a barometer, or all three at once as a BME280
// would. It rounds like a real sensor's resolution (0.01 °C, 0.01 %RH,
// 0.01 hPa). It is safe for concurrent use.
type ClimateSensor struct {
	name    string
	climate *Climate
	now     func() time.Time
	metrics []string
}

// Which quantities a ClimateSensor reports.
var (
	climateAll = []string{sensors.MetricTemperature, sensors.MetricHumidity, sensors.MetricPressure}
)

// NewClimateSensor returns a sensor named name that reads temperature,
// humidity and pressure of c at the time now returns (nil: time.Now).
func NewClimateSensor(name string, c *Climate, now func() time.Time) *ClimateSensor {
	return newClimateSensor(name, c, now, climateAll...)
}

// NewTemperatureSensor returns a sensor that reads only c's temperature.
func NewTemperatureSensor(name string, c *Climate, now func() time.Time) *ClimateSensor {
	return newClimateSensor(name, c, now, sensors.MetricTemperature)
}

// NewHumiditySensor returns a sensor that reads only c's relative humidity.
func NewHumiditySensor(name string, c *Climate, now func() time.Time) *ClimateSensor {
	return newClimateSensor(name, c, now, sensors.MetricHumidity)
}

// NewPressureSensor returns a sensor that reads only c's pressure.
func NewPressureSensor(name string, c *Climate, now func() time.Time) *ClimateSensor {
	return newClimateSensor(name, c, now, sensors.MetricPressure)
}

func newClimateSensor(name string, c *Climate, now func() time.Time, metrics ...string) *ClimateSensor {
	if now == nil {
		now = time.Now
	}
	return &ClimateSensor{name: name, climate: c, now: now, metrics: metrics}
}

// Name returns the sensor's name.
func (s *ClimateSensor) Name() string { return s.name }

// Read returns the conditions now, one sample per quantity, in the order
// temperature, humidity, pressure.
func (s *ClimateSensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := s.climate.At(s.now())
	out := make([]sensors.Sample, 0, len(s.metrics))
	for _, m := range s.metrics {
		switch m {
		case sensors.MetricTemperature:
			out = append(out, sensors.Sample{Metric: m, Value: round(c.Temperature, 2), Unit: sensors.UnitCelsius})
		case sensors.MetricHumidity:
			out = append(out, sensors.Sample{Metric: m, Value: round(c.Humidity, 2), Unit: sensors.UnitRelHumidity})
		case sensors.MetricPressure:
			out = append(out, sensors.Sample{Metric: m, Value: round(c.Pressure, 2), Unit: sensors.UnitHectopascal})
		}
	}
	return out, nil
}

// DoorSensor is a simulated door contact reading a Door: 0 closed, 1 open.
// It is safe for concurrent use.
type DoorSensor struct {
	name string
	door *Door
	now  func() time.Time
}

// NewDoorSensor returns a sensor named name that reads d at the time now
// returns (nil: time.Now).
func NewDoorSensor(name string, d *Door, now func() time.Time) *DoorSensor {
	if now == nil {
		now = time.Now
	}
	return &DoorSensor{name: name, door: d, now: now}
}

// Name returns the sensor's name.
func (s *DoorSensor) Name() string { return s.name }

// Read returns one sample: metric door, unit 1, value 0 (closed) or 1 (open).
func (s *DoorSensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := sensors.DoorClosed
	if s.door.Open(s.now()) {
		v = sensors.DoorOpen
	}
	return []sensors.Sample{{Metric: sensors.MetricDoor, Value: v, Unit: sensors.UnitOne}}, nil
}
