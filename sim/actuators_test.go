package sim_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

var actStart = time.Date(2026, 1, 10, 3, 0, 0, 0, time.UTC) // a cold night

// twin returns two climates of the same seed: one to act on, one left
// alone, so that a test sees the actuators' effect apart from the weather.
func twin() (acted, alone *sim.Climate) {
	o := sim.ClimateOptions{Seed: 11, MeanTemperature: 8}
	return sim.NewClimate(o), sim.NewClimate(o)
}

func TestHeaterWarms(t *testing.T) {
	c, ref := twin()
	c.At(actStart)
	ref.At(actStart)
	c.SetHeating(actStart, 1)
	var rise []float64 // each minute, above the reference
	for m := 1; m <= 30; m++ {
		at := actStart.Add(time.Duration(m) * time.Minute)
		rise = append(rise, c.At(at).Temperature-ref.At(at).Temperature)
	}
	// First order: 10*(1-e^-1) = 6.3 °C after 10 minutes (noise ±0.1).
	if r := rise[9]; r < 5.8 || r > 6.8 {
		t.Errorf("after 10 minutes of heating the air is %.2f °C warmer, want about 6.3", r)
	}
	if r := rise[0]; r < 0.6 || r > 1.3 {
		t.Errorf("after 1 minute %.2f °C, want about 1 (no jump)", r)
	}
	if r := rise[29]; r < 9 || r > 10.2 {
		t.Errorf("after 30 minutes %.2f °C, want close to 10", r)
	}
	// Humidity follows through the dew point: warmer air is drier.
	at := actStart.Add(31 * time.Minute)
	if h, h0 := c.At(at).Humidity, ref.At(at).Humidity; h > h0-15 {
		t.Errorf("heated air %.1f %%RH, unheated %.1f %%RH: want it much drier", h, h0)
	}
	// Off: it cools back over minutes, not at once.
	off := actStart.Add(31 * time.Minute)
	c.SetHeating(off, 0)
	if heat, _, _ := c.Actuated(); heat != 0 {
		t.Errorf("heating input %v after switching off, want 0", heat)
	}
	after := func(d time.Duration) float64 {
		return c.At(off.Add(d)).Temperature - ref.At(off.Add(d)).Temperature
	}
	if r := after(time.Minute); r < 7.5 {
		t.Errorf("1 minute after switching off: %.2f °C above, want most of it left", r)
	}
	if r := after(time.Hour); math.Abs(r) > 0.2 {
		t.Errorf("an hour after switching off: %.2f °C above, want back to the outside", r)
	}
}

func TestFanCools(t *testing.T) {
	c, ref := twin()
	c.At(actStart)
	ref.At(actStart)
	c.SetCooling(actStart, 1)
	at := actStart.Add(10 * time.Minute)
	// Settles at -6*3/4 = -4.5 °C with time constant 10m/4: nearly there.
	if d := c.At(at).Temperature - ref.At(at).Temperature; d > -4 || d < -4.8 {
		t.Errorf("after 10 minutes of fan: %.2f °C, want about -4.5", d)
	}
	// Heater and fan together: the fan carries most of the heat away.
	c.SetHeating(at, 1)
	at = at.Add(30 * time.Minute)
	if d := c.At(at).Temperature - ref.At(at).Temperature; d < -2.2 || d > -1.8 {
		t.Errorf("heater and fan: %.2f °C, want (10-18)/4 = -2", d)
	}
	h, f, x := c.Actuated()
	if h != 1 || f != 1 || math.Abs(x+2) > 0.05 {
		t.Errorf("Actuated() = %v, %v, %v", h, f, x)
	}
	c.SetCooling(at, 7) // clamped
	if _, f, _ := c.Actuated(); f != 1 {
		t.Errorf("cooling 7 clamped to %v", f)
	}
}

// TestClimateUntouched: without inputs the climate is exactly as before
// (the actuators draw no random numbers).
func TestClimateUntouched(t *testing.T) {
	a, b := twin()
	b.SetHeating(actStart, 0)
	b.SetCooling(actStart, 0)
	for m := range 120 {
		at := actStart.Add(time.Duration(m) * time.Minute)
		if x, y := a.At(at), b.At(at); x != y {
			t.Fatalf("minute %d: %+v != %+v", m, x, y)
		}
	}
}

func TestIrrigation(t *testing.T) {
	s := sim.NewSoil(sim.SoilOptions{Seed: 5, MeanInterval: -1, Initial: 15})
	m0 := s.At(actStart).Moisture
	s.SetIrrigation(actStart, 1)
	m1 := s.At(actStart.Add(time.Minute)).Moisture
	m2 := s.At(actStart.Add(2 * time.Minute)).Moisture
	o := s.Options()
	if o.IrrigationTime != 90*time.Second || s.Irrigation() != 1 {
		t.Fatalf("irrigation time %v, flow %v", o.IrrigationTime, s.Irrigation())
	}
	// 25 % gap to field capacity: 1-e^(-60/90) = 49 % of it in a minute.
	if m1-m0 < 11 || m1-m0 > 13.5 {
		t.Errorf("a minute of irrigation raised the content %.2f %%, want about 12", m1-m0)
	}
	if m2 <= m1 || m2 > o.FieldCapacity {
		t.Errorf("two minutes: %.2f %%, want above %.2f and at most %v", m2, m1, o.FieldCapacity)
	}
	long := s.At(actStart.Add(30 * time.Minute)).Moisture
	if long > o.FieldCapacity || long < o.FieldCapacity-0.5 {
		t.Errorf("half an hour of irrigation: %.2f %%, want just under field capacity %v", long, o.FieldCapacity)
	}
	// Closed: it dries slowly, by hours not minutes.
	end := actStart.Add(30 * time.Minute)
	s.SetIrrigation(end, 0)
	hour := s.At(end.Add(time.Hour)).Moisture
	if d := long - hour; d <= 0 || d > 1 {
		t.Errorf("an hour after closing: dried %.3f %%, want a little", d)
	}
}

func TestSoilSensorFollowsIrrigation(t *testing.T) {
	s := sim.NewSoil(sim.SoilOptions{Seed: 1, MeanInterval: -1, Initial: 12})
	now := actStart
	sn := sim.NewSoilSensor("bed", s, func() time.Time { return now })
	read := func() float64 {
		ss, err := sn.Read(context.Background())
		if err != nil || len(ss) != 1 || ss[0].Metric != "moisture" || ss[0].Unit != "%" {
			t.Fatalf("read %+v, %v", ss, err)
		}
		return ss[0].Value
	}
	before := read()
	s.SetIrrigation(now, 1)
	now = now.Add(2 * time.Minute)
	if after := read(); after < before+15 || sn.Name() != "bed" {
		t.Errorf("two minutes of irrigation: %v %% -> %v %%", before, after)
	}
}
