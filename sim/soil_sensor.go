package sim

import (
	"context"
	"time"

	"github.com/tributary-iot/tributary/sensors"
)

// SoilSensor is a simulated soil moisture probe reading a Soil: metric
// moisture, unit %, rounded to 0.1 %. It is safe for concurrent use.
type SoilSensor struct {
	name string
	soil *Soil
	now  func() time.Time
}

// NewSoilSensor returns a sensor named name that reads s at the time now
// returns (nil: time.Now).
func NewSoilSensor(name string, s *Soil, now func() time.Time) *SoilSensor {
	if now == nil {
		now = time.Now
	}
	return &SoilSensor{name: name, soil: s, now: now}
}

// Name returns the sensor's name.
func (s *SoilSensor) Name() string { return s.name }

// Read returns one sample: the volumetric water content, %.
func (s *SoilSensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.soil.At(s.now())
	return []sensors.Sample{{Metric: sensors.MetricMoisture, Value: round(st.Moisture, 1), Unit: sensors.UnitPercent}}, nil
}
