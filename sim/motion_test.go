package sim

import (
	"testing"
	"time"
)

// motionSpells samples m every second for span from t0 and returns the
// states and the lengths of the output's high and low spells (whole
// spells only, in seconds).
func motionSpells(m *Motion, span time.Duration) (states []MotionState, high, low []int) {
	run := 0
	for s := range int(span / time.Second) {
		st := m.At(t0.Add(time.Duration(s) * time.Second))
		if s > 0 && st.Output != states[s-1].Output {
			if states[s-1].Output {
				high = append(high, run)
			} else if len(high) > 0 {
				low = append(low, run)
			}
			run = 0
		}
		run++
		states = append(states, st)
	}
	return states, high, low
}

func TestMotionOccupancyAndOutput(t *testing.T) {
	m := NewMotion(MotionOptions{Seed: 3})
	states, high, _ := motionSpells(m, 2*24*time.Hour)
	var occupied, output, arrivals, missed int
	lastOccupied := -1 << 30
	for s, st := range states {
		if st.Occupied {
			occupied++
			lastOccupied = s
		}
		if st.Output {
			output++
			// The output outlives the last movement (leaving) by Hold at most.
			if !st.Occupied && s-lastOccupied > 5 {
				t.Fatalf("second %d: output high %ds after the room emptied, hold is 5s", s, s-lastOccupied)
			}
		}
		if s > 0 && st.Occupied && !states[s-1].Occupied {
			arrivals++
			if !st.Output {
				missed++ // arrived during the lockout: possible, rare
			}
		}
	}
	// Mean cycle 12 min: about 240 visits in two days, occupied 1/6 of the time.
	if arrivals < 170 || arrivals > 320 {
		t.Errorf("%d visits in two days, want about 240", arrivals)
	}
	if frac := float64(occupied) / float64(len(states)); frac < 0.11 || frac > 0.23 {
		t.Errorf("occupied %.3f of the time, want about 2/12 = 0.167", frac)
	}
	if missed > arrivals/20 {
		t.Errorf("%d of %d arrivals did not trigger the sensor", missed, arrivals)
	}
	// Repeat trigger, movements every 10 s on average, hold 5 s: the output
	// covers 1-exp(-5/10) = 0.39 of a visit, a little more with the hold
	// after leaving, a little less with the lockouts.
	if frac := float64(output) / float64(occupied); frac < 0.3 || frac > 0.55 {
		t.Errorf("output high %.2f of the occupied time", frac)
	}
	for i, h := range high {
		if h < 5 {
			t.Fatalf("high spell %d lasted %ds, shorter than the 5s hold", i, h)
		}
	}
}

func TestMotionTriggerModes(t *testing.T) {
	// Someone always there, moving every second on average: in repeat
	// mode the output stays high; in single mode it pulses Hold high,
	// then stays low at least Block.
	busy := MotionOptions{Seed: 11, MeanVacant: time.Millisecond, MeanVisit: 1000 * time.Hour,
		MeanMoveGap: time.Second, Hold: 10 * time.Second, Block: 3 * time.Second}
	_, high, low := motionSpells(NewMotion(busy), time.Hour)
	if len(high) > 0 || len(low) > 0 {
		t.Errorf("repeat trigger in a busy room: output changed (%d high spells), want high throughout", len(high))
	}

	busy.SingleTrigger = true
	_, high, low = motionSpells(NewMotion(busy), time.Hour)
	if len(high) < 100 {
		t.Fatalf("single trigger in a busy room: %d pulses in an hour, want about 3600/(10+3+1)", len(high))
	}
	for i, h := range high {
		if h != 10 {
			t.Fatalf("single trigger: pulse %d lasted %ds, want the 10s hold", i, h)
		}
	}
	for i, l := range low {
		if l < 3 {
			t.Fatalf("single trigger: low spell %d lasted %ds, shorter than the 3s block", i, l)
		}
	}
}

func TestMotionDeterministicAndMonotonic(t *testing.T) {
	a, b := NewMotion(MotionOptions{Seed: 8}), NewMotion(MotionOptions{Seed: 8})
	if st := a.At(t0); st.Occupied || st.Output {
		t.Fatalf("first state %+v, want vacant and low", st)
	}
	b.At(t0)
	var late MotionState
	for s := 1; s < 6*3600; s++ {
		tt := t0.Add(time.Duration(s) * time.Second)
		if x, y := a.At(tt), b.At(tt); x != y {
			t.Fatalf("same seed differs at %v: %+v vs %+v", tt, x, y)
		}
		late = a.At(tt)
	}
	// Asking about the past returns the latest state.
	if got := a.At(t0); got != late {
		t.Errorf("At(t0) after 6h = %+v, want the latest %+v", got, late)
	}
	if got := a.Active(t0.Add(6 * time.Hour)); got != a.At(t0.Add(6*time.Hour)).Output {
		t.Errorf("Active disagrees with At")
	}
	// A gap of a year restarts the process instead of replaying it.
	if st := a.At(t0.Add(365 * 24 * time.Hour)); st.Occupied {
		t.Errorf("after a year's gap: %+v, want a restart, vacant", st)
	}
}
