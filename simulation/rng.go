package simulation

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// newStream returns the random stream of one named agent in one replicate. Each agent draws
// from its own stream, keyed by its stable name, so adding an agent to a scenario leaves every
// other agent's draws as they were.
func newStream(seed uint64, replicate int, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(mix(seed, uint64(replicate)), h.Sum64()))
}

// mix is splitmix64's finaliser over seed and salt: nearby seeds give unrelated streams.
func mix(seed, salt uint64) uint64 {
	z := seed + 0x9e3779b97f4a7c15*(salt+1)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// expDraw is an exponential draw with the given rate.
func expDraw(r *rand.Rand, rate float64) float64 { return r.ExpFloat64() / rate }

// lognormDraw is e^N(mu, sigma).
func lognormDraw(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}
