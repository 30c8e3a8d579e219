package sim

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// sampleClimate asks c about every step from t0 for span, in order.
func sampleClimate(c *Climate, span, step time.Duration) ([]time.Time, []Conditions) {
	var ts []time.Time
	var cs []Conditions
	for t := t0; t.Before(t0.Add(span)); t = t.Add(step) {
		ts = append(ts, t)
		cs = append(cs, c.At(t))
	}
	return ts, cs
}

func TestClimateRanges(t *testing.T) {
	c := NewClimate(ClimateOptions{Seed: 1})
	_, cs := sampleClimate(c, 60*24*time.Hour, 5*time.Minute)
	for i, x := range cs {
		if x.Temperature < 20-4-3 || x.Temperature > 20+4+3 {
			t.Fatalf("sample %d: temperature %.2f °C outside 13..27", i, x.Temperature)
		}
		if x.Humidity < 15 || x.Humidity > 100 {
			t.Fatalf("sample %d: humidity %.2f %%RH outside 15..100", i, x.Humidity)
		}
		if x.Pressure < MinPressure || x.Pressure > MaxPressure {
			t.Fatalf("sample %d: pressure %.2f hPa outside %v..%v", i, x.Pressure, MinPressure, MaxPressure)
		}
		if i > 0 {
			if d := math.Abs(x.Pressure - cs[i-1].Pressure); d > 1 {
				t.Fatalf("sample %d: pressure jumped %.2f hPa in 5 minutes", i, d)
			}
			if d := math.Abs(x.Temperature - cs[i-1].Temperature); d > 1.5 {
				t.Fatalf("sample %d: temperature jumped %.2f °C in 5 minutes", i, d)
			}
		}
	}
	// Over two months the pressure must actually move: a random walk, not a constant.
	lo, hi := cs[0].Pressure, cs[0].Pressure
	for _, x := range cs {
		lo, hi = min(lo, x.Pressure), max(hi, x.Pressure)
	}
	t.Logf("pressure %.1f..%.1f hPa over 60 days", lo, hi)
	if hi-lo < 5 {
		t.Errorf("pressure moved only %.2f hPa in 60 days", hi-lo)
	}
}

func TestClimateDailyCycle(t *testing.T) {
	c := NewClimate(ClimateOptions{Seed: 2, MeanTemperature: 10, DailySwing: 5, WarmestHour: 14})
	ts, cs := sampleClimate(c, 30*24*time.Hour, 10*time.Minute)
	var sum, n [24]float64
	for i, x := range cs {
		h := ts[i].Hour()
		sum[h] += x.Temperature
		n[h]++
	}
	warm, cold := 0, 0
	var avg [24]float64
	for h := range 24 {
		avg[h] = sum[h] / n[h]
		if avg[h] > avg[warm] {
			warm = h
		}
		if avg[h] < avg[cold] {
			cold = h
		}
	}
	// Hour buckets average over h:00..h:59, so the peak shows in bucket 13 or 14.
	if warm < 13 || warm > 14 {
		t.Errorf("warmest hour %d, want 13 or 14 (averages %.2f)", warm, avg)
	}
	if cold < 1 || cold > 2 {
		t.Errorf("coldest hour %d, want 1 or 2 (averages %.2f)", cold, avg)
	}
	if amp := (avg[warm] - avg[cold]) / 2; math.Abs(amp-5) > 1 {
		t.Errorf("daily amplitude %.2f °C, want about 5", amp)
	}
	var mean float64
	for _, a := range avg {
		mean += a / 24
	}
	if math.Abs(mean-10) > 0.5 {
		t.Errorf("daily mean %.2f °C, want about 10", mean)
	}
	if got := c.DailyCycle(time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC)); math.Abs(got-15) > 1e-9 {
		t.Errorf("DailyCycle at the warmest hour = %v, want 15", got)
	}
}

func TestClimateHumidityAgainstTemperature(t *testing.T) {
	c := NewClimate(ClimateOptions{Seed: 3})
	_, cs := sampleClimate(c, 3*24*time.Hour, 10*time.Minute)
	var xs, ys []float64
	for _, x := range cs {
		xs = append(xs, x.Temperature)
		ys = append(ys, x.Humidity)
	}
	if r := pearson(xs, ys); r > -0.7 {
		t.Errorf("correlation of humidity with temperature = %.2f, want strongly negative (< -0.7)", r)
	}
}

func pearson(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i] / float64(len(xs))
		my += ys[i] / float64(len(ys))
	}
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

func TestClimateDeterministic(t *testing.T) {
	_, a := sampleClimate(NewClimate(ClimateOptions{Seed: 7}), 24*time.Hour, time.Minute)
	_, b := sampleClimate(NewClimate(ClimateOptions{Seed: 7}), 24*time.Hour, time.Minute)
	_, c := sampleClimate(NewClimate(ClimateOptions{Seed: 8}), 24*time.Hour, time.Minute)
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d differs with the same seed: %+v vs %+v", i, a[i], b[i])
		}
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("different seeds gave the same climate")
	}
}

func TestClimateDoesNotRunBackwards(t *testing.T) {
	c := NewClimate(ClimateOptions{Seed: 4})
	c.At(t0.Add(time.Hour))
	x := c.At(t0) // earlier: treated as t0+1h
	if x.Temperature < 10 || x.Temperature > 30 {
		t.Fatalf("temperature %.2f after asking about the past", x.Temperature)
	}
	if got := c.Options(); got.MeanTemperature != 20 || got.DailySwing != 4 || got.Pressure != 1013.25 {
		t.Fatalf("defaults not applied: %+v", got)
	}
}
