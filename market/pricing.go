package market

import (
	"fmt"
	"strings"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

// Pricing sets a provider's standing asks. The chain clears jobs against standing asks, one
// price per job type (contracts/auction.go), so the strategy prices job types, not jobs.
type Pricing interface {
	// Ask is the provider's price for a job type; nil means it does not sell that type, and
	// the string says why.
	Ask(t contracts.JobType) (*uint256.Int, string)
}

// FloorPricing is the default strategy: a floor price per job type, times a multiplier for the
// provider's GPU class. Amounts are integers in CIRO's smallest unit.
type FloorPricing struct {
	// Floors are per-type prices. A type missing here takes Default.
	Floors map[contracts.JobType]*uint256.Int
	// Default is the price of types without a floor; nil means such types are not sold.
	Default *uint256.Int
	// GPUClass names the provider's GPU class ("H100", "A100", "RTX 4090", ...); matched by
	// substring against GPUMultiplierBps's keys, case-insensitive.
	GPUClass string
	// GPUMultiplierBps scales the floor by class, in basis points (15000 = ×1.5). A class not
	// listed, or none, takes 10000 (×1).
	GPUMultiplierBps map[string]uint64
}

// DefaultGPUMultiplierBps follows the midpoints of the earnings per hour in docs/protocol.md, relative to an
// RTX 3080 (0.60 $/h): RTX 4090 1.20, A100 2.25, H100 3.35 $/h.
var DefaultGPUMultiplierBps = map[string]uint64{"RTX 3080": 10_000, "RTX 4090": 20_000, "A100": 37_500, "H100": 55_800}

// Ask implements Pricing.
func (f *FloorPricing) Ask(t contracts.JobType) (*uint256.Int, string) {
	floor := f.Floors[t]
	if floor == nil {
		floor = f.Default
	}
	if floor == nil || floor.IsZero() {
		return nil, fmt.Sprintf("no floor price is configured for %s", t)
	}
	mult := uint64(10_000)
	best := ""
	for class, m := range f.GPUMultiplierBps {
		// The longest matching class name wins, so "RTX 4090" is not read as a shorter key.
		if f.GPUClass != "" && strings.Contains(strings.ToLower(f.GPUClass), strings.ToLower(class)) && len(class) > len(best) {
			best, mult = class, m
		}
	}
	p := new(uint256.Int).Mul(floor, uint256.NewInt(mult))
	p.Div(p, uint256.NewInt(10_000))
	if p.IsZero() {
		p.SetOne()
	}
	return p, ""
}

// candidateFrameworks are the frameworks a job of type t might name, default executor first:
// the provider asks for a type when it can run any of them.
func candidateFrameworks(t compute.JobType) []compute.Framework {
	spec, err := compute.SpecFor(t)
	if err != nil {
		return nil
	}
	var out []compute.Framework
	add := func(k compute.ExecutorKind) {
		switch k {
		case compute.ExecWASM:
			out = append(out, compute.WASI)
		case compute.ExecModel:
			out = append(out, compute.CiroONNXInt)
		case compute.ExecDocker:
			if len(spec.Frameworks) == 0 {
				out = append(out, "")
			}
			out = append(out, spec.Frameworks...)
		}
	}
	add(spec.Executor)
	for _, k := range spec.Alternatives {
		add(k)
	}
	return out
}

// canSell reports whether profile can run some variant of job type t, and if not why (the
// reason for the type's default framework).
func canSell(profile compute.Profile, t contracts.JobType) (bool, string) {
	ct, err := ComputeType(t)
	if err != nil {
		return false, err.Error()
	}
	why := ""
	for _, fw := range candidateFrameworks(ct) {
		err := profile.CanRun(ct, fw, compute.Requirements{})
		if err == nil {
			return true, ""
		}
		if why == "" {
			why = err.Error()
		}
	}
	return false, why
}
