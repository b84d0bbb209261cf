package simulation

import "math/rand/v2"

// The network latency model: a mixture of a fast exponential component and a slow one shifted
// by μ,
//
//	f(t) = α β e^(−β t) + γ δ e^(−δ (t − μ))   (the second term for t ≥ μ)
//
// with α = 0.6, β = 0.08/ms, γ = 0.4, δ = 0.02/ms, μ = 50 ms. A draw for a pair of regions is
// scaled by the pair's distance factor: 1 within a region, more across oceans.
const (
	latAlpha = 0.6
	latBeta  = 0.08 // per ms
	latDelta = 0.02 // per ms
	latMu    = 50.0 // ms
)

// Regions, in the order of the provider mix: North America 45%, Europe 32%, Asia-Pacific 18%,
// other 5%.
var regionNames = []string{"na", "eu", "apac", "other"}

var defaultRegionWeights = []float64{0.45, 0.32, 0.18, 0.05}

// regionFactor scales a latency draw between two regions. Same region 1; the Atlantic 1.5; the
// Pacific 2; Europe–Asia 2.2; anything to "other" 2.5.
var regionFactor = [4][4]float64{
	{1.0, 1.5, 2.0, 2.5},
	{1.5, 1.0, 2.2, 2.5},
	{2.0, 2.2, 1.0, 2.5},
	{2.5, 2.5, 2.5, 1.0},
}

// latencyMs draws one message delay in milliseconds between regions a and b.
func latencyMs(r *rand.Rand, a, b int) float64 {
	var t float64
	if r.Float64() < latAlpha {
		t = expDraw(r, latBeta)
	} else {
		t = latMu + expDraw(r, latDelta)
	}
	return t * regionFactor[a][b]
}

func regionIndex(name string) int {
	for i, n := range regionNames {
		if n == name {
			return i
		}
	}
	return -1
}
