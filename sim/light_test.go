package sim

import (
	"math"
	"sync"
	"testing"
	"time"
)

var lightT0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// sampleLight asks l about every step from lightT0 for span, in order.
func sampleLight(l *Light, span, step time.Duration) ([]time.Time, []float64) {
	var ts []time.Time
	var vs []float64
	for t := lightT0; t.Before(lightT0.Add(span)); t = t.Add(step) {
		ts = append(ts, t)
		vs = append(vs, l.At(t))
	}
	return ts, vs
}

func hourOf(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

func TestLightNightAndDay(t *testing.T) {
	l := NewLight(LightOptions{Seed: 1, Sunrise: 5.5, Sunset: 21})
	ts, vs := sampleLight(l, 20*24*time.Hour, 2*time.Minute)
	for i, v := range vs {
		h := hourOf(ts[i])
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("%s: %v lx", ts[i], v)
		}
		// More than an hour and a quarter from the sun: night.
		if (h < 5.5-1.25 || h > 21+1.25) && v != 0 {
			t.Fatalf("%s (night): %v lx, want 0", ts[i].Format(time.TimeOnly), v)
		}
		// In daylight the sky is never darker than a thick overcast's 15 %
		// of the horizon's light, nor brighter than a clear noon.
		if h >= 5.5 && h <= 21 {
			if v < 0.15*0.98*lightHorizon*100000 || v > 100000*1.03 {
				t.Fatalf("%s (day): %v lx", ts[i].Format(time.TimeOnly), v)
			}
		}
	}
}

func TestLightClearSkyCurve(t *testing.T) {
	l := NewLight(LightOptions{Sunrise: 7, Sunset: 19, Noon: 50000})
	day := lightT0
	at := func(h float64) float64 { return l.ClearSky(day.Add(time.Duration(h * float64(time.Hour)))) }
	if got := at(13); math.Abs(got-50000) > 1e-6 {
		t.Errorf("midday %v lx, want the Noon option's 50000", got)
	}
	if got := at(7); math.Abs(got-200) > 1e-9 {
		t.Errorf("sunrise %v lx, want 200 (0.4 %% of noon)", got)
	}
	// Rising all morning, falling all afternoon, symmetric about midday.
	for h := 7.0; h < 13; h += 0.25 {
		if at(h+0.25) <= at(h) {
			t.Fatalf("not rising at %.2f h: %v then %v", h, at(h), at(h+0.25))
		}
		if math.Abs(at(h)-at(26-h)) > 1e-6*at(h) {
			t.Fatalf("not symmetric: %.2f h %v, %.2f h %v", h, at(h), 26-h, at(26-h))
		}
	}
	// Twilight fades within the hour after sunset: a few lx after half an
	// hour, nothing after an hour and a quarter.
	if got := at(19.5); got < 1 || got > 10 {
		t.Errorf("half an hour after sunset: %v lx, want a few", got)
	}
	if got := at(20.25); got != 0 {
		t.Errorf("an hour and a quarter after sunset: %v lx, want 0", got)
	}
	if got := at(6.5); math.Abs(got-at(19.5)) > 1e-9 {
		t.Errorf("dawn %v lx and dusk %v lx differ", got, at(19.5))
	}
}

// With a clear sky, At follows ClearSky within the sensor noise; clouds dim
// it on average and make it vary from minute to minute.
func TestLightClouds(t *testing.T) {
	noonMean := func(l *Light) (mean, lo, hi float64) {
		ts, vs := sampleLight(l, 30*24*time.Hour, time.Minute)
		var sum, n float64
		lo, hi = math.Inf(1), 0
		for i, v := range vs {
			if h := hourOf(ts[i]); h >= 11.5 && h < 12.5 {
				r := v / l.ClearSky(ts[i])
				sum += r
				n++
				lo, hi = min(lo, r), max(hi, r)
			}
		}
		return sum / n, lo, hi
	}
	clear, clo, chi := noonMean(NewLight(LightOptions{Seed: 3, Cloudiness: -1}))
	if clo < 0.97 || chi > 1.03 {
		t.Errorf("clear sky: At/ClearSky in %.3f..%.3f, want within noise of 1", clo, chi)
	}
	broken, blo, bhi := noonMean(NewLight(LightOptions{Seed: 3, Cloudiness: 0.5}))
	overcast, _, _ := noonMean(NewLight(LightOptions{Seed: 3, Cloudiness: 0.95}))
	t.Logf("noon/clear sky: clear %.2f, broken %.2f (%.2f..%.2f), overcast %.2f", clear, broken, blo, bhi, overcast)
	if !(clear > broken && broken > overcast) {
		t.Errorf("noon means clear %.2f, broken %.2f, overcast %.2f: want falling with cloud", clear, broken, overcast)
	}
	if blo > 0.3 || bhi < 0.85 {
		t.Errorf("broken cloud: noon light only in %.2f..%.2f of clear sky, want sun and shade", blo, bhi)
	}
	if overcast > 0.4 {
		t.Errorf("overcast noon at %.2f of clear sky", overcast)
	}
}

// The sun fades behind a cloud's rim over seconds, not at once: from one
// second to the next the light changes by less than 6 % of the clear sky's
// (a sensor's noise included), yet over the morning it does come and go.
func TestLightSmooth(t *testing.T) {
	for seed := range uint64(5) {
		l := NewLight(LightOptions{Seed: seed, Cloudiness: 0.5})
		start := lightT0.Add(8 * time.Hour)
		prev := l.At(start)
		var moves int
		for i := 1; i < 4*3600; i++ {
			tt := start.Add(time.Duration(i) * time.Second)
			v := l.At(tt)
			d := math.Abs(v-prev) / l.ClearSky(tt)
			if d > 0.06 {
				t.Fatalf("seed %d, second %d: %v -> %v lx (%.0f %% of clear sky)", seed, i, prev, v, 100*d)
			}
			if d > 0.02 {
				moves++
			}
			prev = v
		}
		if moves == 0 {
			t.Errorf("seed %d: no cloud passed in four hours of broken cloud", seed)
		}
	}
}

func TestLightIndoor(t *testing.T) {
	out := NewLight(LightOptions{Seed: 5})
	in := NewLight(LightOptions{Seed: 5, Indoor: true})
	in3 := NewLight(LightOptions{Seed: 5, Indoor: true, DaylightFactor: 0.03})
	for i := range 24 * 12 {
		tt := lightT0.Add(time.Duration(i) * 5 * time.Minute)
		o, v, v3 := out.At(tt), in.At(tt), in3.At(tt)
		if math.Abs(v-0.02*o) > 1e-9*o || math.Abs(v3-0.03*o) > 1e-9*o {
			t.Fatalf("%s: outdoor %v, indoor %v and %v, want 2 %% and 3 %%", tt, o, v, v3)
		}
	}
	if in.Options().DaylightFactor != 0.02 || !in.Options().Indoor {
		t.Errorf("options %+v", in.Options())
	}
}

func TestLightDeterministic(t *testing.T) {
	_, a := sampleLight(NewLight(LightOptions{Seed: 7}), 2*24*time.Hour, 7*time.Minute)
	_, b := sampleLight(NewLight(LightOptions{Seed: 7}), 2*24*time.Hour, 7*time.Minute)
	_, c := sampleLight(NewLight(LightOptions{Seed: 8}), 2*24*time.Hour, 7*time.Minute)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
	}
	if !same {
		t.Error("equal seeds gave different light")
	}
	if !differ {
		t.Error("different seeds gave the same light")
	}
}

func TestLightOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		in           LightOptions
		rise, set    float64
		noon, clouds float64
	}{
		{LightOptions{}, 6, 18, 100000, 0.4},
		{LightOptions{Sunrise: 20, Sunset: 7}, 6, 18, 100000, 0.4}, // invalid: defaults
		{LightOptions{Sunrise: 4.5, Sunset: 22, Noon: 30000, Cloudiness: -1}, 4.5, 22, 30000, 0},
		{LightOptions{Cloudiness: 3}, 6, 18, 100000, 1},
	} {
		o := NewLight(tc.in).Options()
		if o.Sunrise != tc.rise || o.Sunset != tc.set || o.Noon != tc.noon || o.Cloudiness != tc.clouds || o.Location != time.UTC {
			t.Errorf("NewLight(%+v).Options() = %+v", tc.in, o)
		}
	}
}

// Asked about the past, the model answers for the latest time it was asked
// about; shared between goroutines it stays consistent (run with -race).
func TestLightBackwardsAndConcurrent(t *testing.T) {
	l := NewLight(LightOptions{Seed: 9})
	noon := lightT0.Add(12 * time.Hour)
	if v := l.At(noon); v == 0 {
		t.Fatal("no light at noon")
	}
	if v := l.At(lightT0); v == 0 {
		t.Errorf("midnight asked after noon: %v lx, want noon's light", v)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if v := l.At(noon.Add(time.Duration(g*500+i) * time.Second)); v <= 0 {
					t.Errorf("afternoon: %v lx", v)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkLightAt(b *testing.B) {
	l := NewLight(LightOptions{Seed: 1})
	tt := lightT0.Add(9 * time.Hour)
	for b.Loop() {
		tt = tt.Add(time.Second)
		l.At(tt)
	}
}
