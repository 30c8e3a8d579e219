package sim

import (
	"testing"
	"time"
)

func TestDoorOpensAndCloses(t *testing.T) {
	d := NewDoor(DoorOptions{Seed: 5})
	var openings, openSeconds int
	var spells []int
	prev := false
	run := 0
	for s := range 2 * 24 * 3600 {
		open := d.Open(t0.Add(time.Duration(s) * time.Second))
		if open {
			openSeconds++
			run++
		}
		if open && !prev {
			openings++
		}
		if !open && prev {
			spells = append(spells, run)
			run = 0
		}
		prev = open
	}
	// Mean cycle 5m20s: about 540 openings in two days.
	if openings < 400 || openings > 700 {
		t.Errorf("%d openings in two days, want about 540", openings)
	}
	if len(spells) < openings-1 {
		t.Errorf("door opened %d times but closed only %d times", openings, len(spells))
	}
	frac := float64(openSeconds) / (2 * 24 * 3600)
	if frac < 0.04 || frac > 0.09 {
		t.Errorf("open %.3f of the time, want about 20s/320s = 0.0625", frac)
	}
	var total int
	for _, s := range spells {
		total += s
	}
	if mean := float64(total) / float64(len(spells)); mean < 15 || mean > 26 {
		t.Errorf("mean open spell %.1fs, want about 20s", mean)
	}
}

func TestDoorStartsClosedAndIsDeterministic(t *testing.T) {
	a, b := NewDoor(DoorOptions{Seed: 9}), NewDoor(DoorOptions{Seed: 9})
	if a.Open(t0) {
		t.Fatal("door open at its first moment")
	}
	b.Open(t0)
	for s := 1; s < 3600; s++ {
		tt := t0.Add(time.Duration(s) * time.Second)
		if a.Open(tt) != b.Open(tt) {
			t.Fatalf("doors with the same seed differ at %v", tt)
		}
	}
	// A gap of a year restarts the process instead of replaying it.
	a.Open(t0.Add(365 * 24 * time.Hour))
}
