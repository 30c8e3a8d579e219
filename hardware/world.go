package hardware

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
	ads1115sim "github.com/tributary-iot/tributary/sim/chip/ads1115"
)

// simWorld is what the simulated sensors of one device share: one climate
// (so that its thermometers and hygrometers agree), one sky, and a seed
// from the device id for the models each sensor has of its own (a soil
// bed, a door).
type simWorld struct {
	seed    uint64
	now     func() time.Time
	climate *sim.Climate
	light   *sim.Light

	mu    sync.Mutex
	n     uint64      // models made so far, to seed the next
	soils []*sim.Soil // every soil bed made, which an irrigation valve waters
}

func newSimWorld(device string, now func() time.Time) *simWorld {
	h := fnv.New64a()
	h.Write([]byte(device))
	seed := h.Sum64()
	return &simWorld{seed: seed, now: now,
		climate: sim.NewClimate(sim.ClimateOptions{Seed: seed}),
		light:   sim.NewLight(sim.LightOptions{Seed: seed + 1})}
}

// next returns the seed of the next model.
func (w *simWorld) next() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return w.seed + 1000 + w.n
}

func (w *simWorld) door() *sim.Door { return sim.NewDoor(sim.DoorOptions{Seed: w.next()}) }

// soil makes a soil bed (one per probe), which the world's valves water.
func (w *simWorld) soil() *sim.Soil {
	s := sim.NewSoil(sim.SoilOptions{Seed: w.next()})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.soils = append(w.soils, s)
	return s
}

// beds returns the soil beds made so far, making one if there is none, so
// that a valve always has something to water.
func (w *simWorld) beds() []*sim.Soil {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.soils) == 0 {
		w.n++
		w.soils = append(w.soils, sim.NewSoil(sim.SoilOptions{Seed: w.seed + 1000 + w.n}))
	}
	return append([]*sim.Soil(nil), w.soils...)
}
func (w *simWorld) rain() *sim.Rain     { return sim.NewRain(sim.RainOptions{Seed: w.next()}) }
func (w *simWorld) motion() *sim.Motion { return sim.NewMotion(sim.MotionOptions{Seed: w.next()}) }

// supply is the input of an ADC channel behind a divider of ratio scale
// measuring a 12 V lead-acid battery that charges by day and sags by night;
// with scale 1, half a 3.3 V supply.
func (w *simWorld) supply(scale float64) ads1115sim.Input {
	if scale <= 1 {
		return func(time.Time) float64 { return 1.65 }
	}
	return func(t time.Time) float64 {
		h := float64(t.Hour()) + float64(t.Minute())/60
		v := 12.4 + 1.2*math.Max(0, math.Sin((h-6)/12*math.Pi)) // charging by day
		return v / scale
	}
}

// noisy adds an ADC input's noise (a few hundred µV, as on a breadboard)
// to in, so that a steady input does not read as a stuck chip.
func (w *simWorld) noisy(in ads1115sim.Input) ads1115sim.Input {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(w.next(), 0))
	return func(t time.Time) float64 {
		mu.Lock()
		n := rng.NormFloat64() * 300e-6
		mu.Unlock()
		return in(t) + n
	}
}
