package sim_test

import (
	"math"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

var soilStart = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// soilSeries samples s every step over span from soilStart.
func soilSeries(s *sim.Soil, span, step time.Duration) []sim.SoilState {
	var out []sim.SoilState
	for d := time.Duration(0); d <= span; d += step {
		out = append(out, s.At(soilStart.Add(d)))
	}
	return out
}

func TestSoilDeterministic(t *testing.T) {
	a := soilSeries(sim.NewSoil(sim.SoilOptions{Seed: 3}), 30*24*time.Hour, time.Hour)
	b := soilSeries(sim.NewSoil(sim.SoilOptions{Seed: 3}), 30*24*time.Hour, time.Hour)
	c := soilSeries(sim.NewSoil(sim.SoilOptions{Seed: 4}), 30*24*time.Hour, time.Hour)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d: %+v != %+v with the same seed", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("seeds 3 and 4 gave the same soil")
	}
}

// TestSoilBounds: the content stays within Residual..FieldCapacity and the
// probe's voltage follows it, lower when wetter.
func TestSoilBounds(t *testing.T) {
	s := sim.NewSoil(sim.SoilOptions{Seed: 1})
	o := s.Options()
	if o.FieldCapacity != 40 || o.Residual != 5 || o.Initial != 30 || o.DryingTime != 72*time.Hour ||
		o.MeanInterval != 72*time.Hour || o.MeanRise != 15 || o.DryVolts != 2.8 || o.WetVolts != 1.2 {
		t.Errorf("defaults %+v", o)
	}
	lo, hi := 100.0, 0.0
	for _, st := range soilSeries(s, 120*24*time.Hour, 10*time.Minute) {
		if st.Moisture < o.Residual || st.Moisture > o.FieldCapacity {
			t.Fatalf("moisture %v outside %v..%v", st.Moisture, o.Residual, o.FieldCapacity)
		}
		want := o.DryVolts + (o.WetVolts-o.DryVolts)*st.Moisture/100
		if d := math.Abs(st.Volts - want); d > 0.02 {
			t.Fatalf("probe %v V at %v %%, want %v V (noise of a few mV)", st.Volts, st.Moisture, want)
		}
		lo, hi = min(lo, st.Moisture), max(hi, st.Moisture)
	}
	// Four months of drying and watering cover most of the range.
	if lo > 15 || hi < 35 {
		t.Errorf("moisture only spanned %.1f..%.1f %%", lo, hi)
	}
}

// TestSoilDrying: without waterings the water above Residual decays
// exponentially with time constant DryingTime over whole days, and the
// soil dries faster by day than by night.
func TestSoilDrying(t *testing.T) {
	s := sim.NewSoil(sim.SoilOptions{MeanInterval: -1, Initial: 35})
	o := s.Options()
	at := func(d time.Duration) float64 { return s.At(soilStart.Add(d)).Moisture }
	m0 := at(0)
	night := m0 - at(4*time.Hour)              // 00:00-04:00
	day := at(10*time.Hour) - at(14*time.Hour) // 10:00-14:00, the content already lower
	if day < 4*night {
		t.Errorf("drying 10-14 h %.3f %%, 00-04 h %.3f %%: want day at least 4 times night", day, night)
	}
	for _, days := range []int{1, 3, 10} {
		d := time.Duration(days) * 24 * time.Hour
		got := at(d) - o.Residual
		want := (m0 - o.Residual) * math.Exp(-float64(d)/float64(o.DryingTime))
		if math.Abs(got-want) > 0.01*want {
			t.Errorf("after %d days: %.4f %% above residual, want %.4f", days, got, want)
		}
	}
	if e := s.Evaporation(soilStart.Add(13 * time.Hour)); math.Abs(e-(0.2+0.8*math.Pi)) > 1e-9 {
		t.Errorf("evaporation at 13:00 = %v", e)
	}
	sum := 0.0
	for m := range 24 * 60 {
		sum += s.Evaporation(soilStart.Add(time.Duration(m) * time.Minute))
	}
	if mean := sum / (24 * 60); math.Abs(mean-1) > 0.001 {
		t.Errorf("mean evaporation over a day %v, want 1", mean)
	}
}

// TestSoilWaterings: the content rises only at watering events, which come
// at about the configured mean interval; between them it only falls.
func TestSoilWaterings(t *testing.T) {
	const days = 400
	s := sim.NewSoil(sim.SoilOptions{Seed: 9, MeanInterval: 48 * time.Hour})
	series := soilSeries(s, days*24*time.Hour, time.Hour)
	rises := 0
	for i := 1; i < len(series); i++ {
		if series[i].Moisture > series[i-1].Moisture {
			rises++
		}
	}
	// A Poisson count with mean 200 has a standard deviation of about 14.
	if rises < 150 || rises > 250 {
		t.Errorf("%d waterings in %d days at a mean interval of 2 days", rises, days)
	}
	none := soilSeries(sim.NewSoil(sim.SoilOptions{Seed: 9, MeanInterval: -1}), 30*24*time.Hour, time.Hour)
	for i := 1; i < len(none); i++ {
		if none[i].Moisture >= none[i-1].Moisture {
			t.Fatalf("hour %d: moisture rose or stayed (%v -> %v) with no waterings", i, none[i-1].Moisture, none[i].Moisture)
		}
	}
}

func TestSoilDoesNotRunBackwards(t *testing.T) {
	s := sim.NewSoil(sim.SoilOptions{Seed: 2})
	late := s.At(soilStart.Add(48 * time.Hour))
	early := s.At(soilStart)
	if early.Moisture != late.Moisture {
		t.Errorf("asked earlier: %v %%, want the latest state %v %%", early.Moisture, late.Moisture)
	}
	// A long gap is bounded work and keeps the state valid.
	far := s.At(soilStart.Add(50 * 365 * 24 * time.Hour))
	if far.Moisture < 5 || far.Moisture > 40 {
		t.Errorf("after 50 years: %v %%", far.Moisture)
	}
}
