package sensors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// Sensor is one sensor on a device.
//
// Name is the sensor's id on the device (reading.ValidID: letters, digits,
// '.', '_', '-'); it must not change over the sensor's life.
//
// Read takes one measurement and returns its samples, in a stable order. It
// returns an error saying what failed (a bus error, a bad checksum, ...)
// rather than partial samples it does not trust. An error is not fatal: the
// agent counts it and calls Read again at the next tick. Read should return
// soon after ctx ends, with ctx's error. The agent bounds it anyway: it stops
// waiting at the sensor's timeout (a failure of kind "timeout") and does not
// call Read again until that call returns, so a Read that ignores ctx may
// outlive the agent. The agent calls Read from one goroutine at a time per
// sensor; a sensor shared between agents must be safe for concurrent use.
// The returned slice belongs to the caller.
type Sensor interface {
	Name() string
	Read(ctx context.Context) ([]Sample, error)
}

// Sample is one measured quantity: what (Metric), how much (Value) and in
// which unit (Unit). The agent adds the device, the sensor name, the time and
// the sequence number to make a reading.Reading of it.
type Sample struct {
	Metric string  // quantity, [a-z0-9_], e.g. MetricTemperature
	Value  float64 // finite; booleans are 0 or 1
	Unit   string  // UCUM-style code, e.g. UnitCelsius; "1" if dimensionless
}

// Metric names of the common quantities.
const (
	MetricTemperature = "temperature" // air temperature, UnitCelsius
	MetricHumidity    = "humidity"    // relative humidity, UnitRelHumidity
	MetricPressure    = "pressure"    // barometric pressure, UnitHectopascal
	MetricDoor        = "door"        // door contact, UnitOne: 0 closed, 1 open
	MetricIlluminance = "illuminance" // light, UnitLux
	MetricVoltage     = "voltage"     // UnitVolt
	MetricMotion      = "motion"      // PIR motion, UnitOne: 0 still, 1 motion
	MetricState       = "state"       // any other digital input, UnitOne: 0 low, 1 high
	MetricCount       = "count"       // pulses counted since the agent started, UnitOne
	MetricRate        = "rate"        // pulses per second over the last interval, UnitPerSecond
	MetricMoisture    = "moisture"    // soil moisture, UnitPercent (0 dry .. 100 wet)
)

// Unit codes (UCUM-style, as in package reading).
const (
	UnitCelsius     = "Cel"
	UnitRelHumidity = "%" // UCUM percent (was "%RH", which no UCUM code is); dashboards show it as "% RH"
	UnitHectopascal = "hPa"
	UnitOne         = "1"
	UnitLux         = "lx"
	UnitVolt        = "V"
	UnitPerSecond   = "/s"
	UnitPercent     = "%"
)

// Door contact values.
const (
	DoorClosed = 0.0
	DoorOpen   = 1.0
)

// Validate reports whether s could be part of a valid reading: a valid
// metric name, a finite value and a valid unit.
func (s Sample) Validate() error {
	// Borrow reading's rules with placeholder values for the fields a sample
	// does not carry.
	r := reading.Reading{Device: "x", Sensor: "x", Metric: s.Metric, Value: s.Value, Unit: s.Unit, Seq: 1, Time: validTime}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("sensors: sample %q: %w", s.Metric, err)
	}
	return nil
}

// Close closes every sensor of ss that implements io.Closer, and returns
// the errors joined. It is for whoever created the sensors, after the agent
// that read them has stopped. A Read the agent abandoned may still be
// running: Close must not corrupt it, but may wait for it (the drivers
// serialise both on one lock), so the edge bounds how long it waits.
func Close(ss ...Sensor) error {
	var errs []error
	for _, s := range ss {
		if c, ok := s.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sensors: close %s: %w", s.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// validTime is any time reading.Validate accepts.
var validTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Watcher is an optional ability of a Sensor whose value changes at moments
// of its own (a door contact, a PIR motion detector): besides Read, which
// the agent still calls on the sensor's interval as a heartbeat, it reports
// each change as it happens.
//
// The agent calls Watch once, in a goroutine of its own, and Watch calls
// emit with the samples of each (debounced) change, in order, until ctx
// ends; then it returns ctx.Err(). emit does not block for long and does not
// keep the slice. Watch returns another error only when it cannot watch at
// all (the pin cannot detect edges); the agent then logs it and relies on
// Read alone.
type Watcher interface {
	Watch(ctx context.Context, emit func([]Sample)) error
}
