package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// newRand returns a generator seeded with seed and a per-model salt, so
// that models given the same seed still draw different streams.
func newRand(seed uint64, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, salt))
}

// ou is an Ornstein-Uhlenbeck process: a random walk pulled back to 0,
// with stationary standard deviation sigma and correlation time tau. It is
// advanced with its exact discretisation, so the result does not depend on
// how finely time is sampled.
type ou struct {
	x     float64
	sigma float64
	tau   time.Duration
}

func (p *ou) step(rng *rand.Rand, dt time.Duration) {
	if dt <= 0 {
		return
	}
	a := math.Exp(-float64(dt) / float64(p.tau))
	p.x = p.x*a + p.sigma*math.Sqrt(1-a*a)*rng.NormFloat64()
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// round rounds v to the given number of decimals, as a sensor's resolution
// would.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
