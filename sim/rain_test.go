package sim

import (
	"math"
	"testing"
	"time"
)

func TestRainYear(t *testing.T) {
	r := NewRain(RainOptions{Seed: 4})
	var prev RainState
	var wetHours, events int
	var peak float64
	for h := range 365 * 24 {
		st := r.At(t0.Add(time.Duration(h) * time.Hour))
		if st.Total < prev.Total {
			t.Fatalf("hour %d: total fell from %.3f to %.3f mm", h, prev.Total, st.Total)
		}
		if st.Intensity < 0 || st.Intensity > MaxRainIntensity {
			t.Fatalf("hour %d: intensity %.2f mm/h out of 0..%v", h, st.Intensity, MaxRainIntensity)
		}
		if st.Raining != (st.Intensity > 0) {
			t.Fatalf("hour %d: raining %v at %.3f mm/h", h, st.Raining, st.Intensity)
		}
		if want := uint64(math.Floor(st.Total / RainTip)); st.Tips != want {
			t.Fatalf("hour %d: %d tips for %.4f mm, want %d", h, st.Tips, st.Total, want)
		}
		if st.Raining {
			wetHours++
			if !prev.Raining {
				events++
			}
		}
		peak = max(peak, st.Intensity)
		prev = st
	}
	// About 1000 mm a year, raining ~8 % of the time, one event per 13 h
	// (events shorter than an hour are often missed by hourly sampling).
	if prev.Total < 600 || prev.Total > 1600 {
		t.Errorf("%.0f mm in a year, want about 1000", prev.Total)
	}
	if frac := float64(wetHours) / (365 * 24); frac < 0.04 || frac > 0.13 {
		t.Errorf("raining %.3f of the hours, want about 0.077", frac)
	}
	if events < 300 || events > 700 {
		t.Errorf("%d rain events seen in a year, want about 600 less the short ones", events)
	}
	if peak < 5 {
		t.Errorf("peak intensity %.1f mm/h: no heavy burst all year", peak)
	}
}

func TestRainIndependentOfSampling(t *testing.T) {
	// Total integrates the same steps whether asked every minute or once.
	fine, coarse := NewRain(RainOptions{Seed: 6}), NewRain(RainOptions{Seed: 6})
	fine.At(t0)
	coarse.At(t0)
	end := t0.Add(30 * 24 * time.Hour)
	for tt := t0; tt.Before(end); tt = tt.Add(time.Minute) {
		fine.At(tt)
	}
	a, b := fine.At(end), coarse.At(end)
	if math.Abs(a.Total-b.Total) > 1e-6 || a.Tips != b.Tips {
		t.Fatalf("sampled every minute: %.6f mm (%d tips); once: %.6f mm (%d tips)", a.Total, a.Tips, b.Total, b.Tips)
	}
	if a.Total == 0 {
		t.Fatal("no rain in 30 days")
	}
	// Not backwards: an earlier time returns the latest state.
	if got := fine.At(t0); got != a {
		t.Errorf("At(t0) after 30 days = %+v, want %+v", got, a)
	}
}

func TestRainIntensityMatchesTips(t *testing.T) {
	// During an event, tips come at intensity/Tip per hour: a tipping
	// bucket at 10 mm/h tips every 100 s.
	r := NewRain(RainOptions{Seed: 2, MeanDry: time.Second, MeanEvent: 1000 * time.Hour, MeanIntensity: 10})
	start := r.At(t0)
	var sum float64
	n := 0
	for m := 1; m <= 24*60; m++ {
		st := r.At(t0.Add(time.Duration(m) * time.Minute))
		sum += st.Intensity
		n++
	}
	end := r.At(t0.Add(24 * time.Hour))
	meanRate := sum / float64(n)      // mm/h, minute samples
	fallen := end.Total - start.Total // mm in 24 h
	if math.Abs(fallen-24*meanRate) > 0.05*fallen+1 {
		t.Errorf("fell %.1f mm in 24h at a mean of %.2f mm/h", fallen, meanRate)
	}
	if tips := end.Tips - start.Tips; math.Abs(float64(tips)-fallen/RainTip) > 1 {
		t.Errorf("%d tips for %.2f mm", tips, fallen)
	}
}
