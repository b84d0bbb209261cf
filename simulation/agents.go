package simulation

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math"
	"math/rand/v2"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
)

// gpuClass is one of the GPU classes providers are drawn from: the claimed earnings band in
// $/h and throughput in jobs/h of a reference job, with the figures the metrics need.
type gpuClass struct {
	name        string
	lo, hi      float64 // $/h
	jobsPerHour float64 // reference jobs (complexity 3) per hour
	vramMiB     uint32
	tflops      float64 // C_i of the efficiency metric (dense FP32/TF32 figures)
	power       float64 // W_power of the completion-time estimate, 1..10
	costPerHour float64 // operating cost in $/h (power, hosting), the provider's cost basis
}

var gpuClasses = []gpuClass{
	{"RTX 3080", 0.40, 0.80, 45, 10_240, 30, 3, 0.10},
	{"RTX 4090", 0.80, 1.60, 73, 24_576, 83, 5, 0.18},
	{"A100", 1.50, 3.00, 94, 40_960, 156, 7, 0.40},
	{"H100", 2.20, 4.50, 127, 81_920, 495, 10, 0.70},
}

func classNames() []string {
	out := make([]string, len(gpuClasses))
	for i, c := range gpuClasses {
		out[i] = c.name
	}
	return out
}

func classByName(n string) int {
	for i, c := range gpuClasses {
		if c.name == n {
			return i
		}
	}
	return 0
}

// jobComplexity is J_complexity (1..10) per job type: a job's work relative to the reference
// job of complexity 3 is J/3.
var jobComplexity = [contracts.NumJobTypes]float64{2, 8, 3, 3, 2, 2, 6, 6, 5, 7, 1, 2, 4}

// jobVRAMMiB is the least VRAM per GPU a job type asks for: training and multimodal jobs need
// data-centre cards.
var jobVRAMMiB = [contracts.NumJobTypes]uint32{8192, 40_960, 8192, 8192, 4096, 4096, 20_480, 16_384, 16_384, 16_384, 2048, 4096, 8192}

// refJobCIRO is the reference price of a complexity-3 job: about an A100's mid-band hour over
// its throughput. The CIRO price is 1 USD unless the scenario overrides it.
const refJobCIRO = 0.025

// durationMs is how long class c takes for a job of type t, before noise.
func durationMs(c *gpuClass, t contracts.JobType) float64 {
	return 3600_000 / c.jobsPerHour * jobComplexity[t] / 3
}

// ciro converts a CIRO amount to the chain's smallest unit, to the micro-CIRO.
func ciro(x float64) *uint256.Int {
	if x <= 0 {
		return new(uint256.Int)
	}
	micro := uint256.NewInt(uint64(math.Round(x * 1e6)))
	return micro.Mul(micro, uint256.NewInt(1e12))
}

// toCIRO converts the smallest unit to CIRO, for metrics only.
func toCIRO(a *uint256.Int) float64 {
	if a == nil {
		return 0
	}
	return new(uint256.Int).Div(a, uint256.NewInt(1e6)).Float64() / 1e12
}

// identity is a chain account an agent signs as.
type identity struct {
	pub     ed25519.PublicKey
	addr    contracts.Address
	region  int
	lastArr int64 // the latest arrival of its transactions: one sender's messages stay in order
}

func newIdentity(name string, region int) identity {
	seed := sha256.Sum256([]byte("ciro-sim/" + name))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	return identity{pub: pub, addr: contracts.AddressOf(pub), region: region}
}

// provider is a modelled provider: its hardware, pricing strategy and behaviour, and what it
// earned and lost.
type provider struct {
	identity
	name      string
	operator  string // sybil identities share their operator
	source    int
	class     int
	stake     float64 // CIRO at genesis
	capacity  int
	pricing   string
	hourly    float64 // $/h, band and adaptive pricing
	behaviour string
	wrongRate float64
	uptime    float64
	floor     *market.FloorPricing
	src       *ProviderSource
	cartel    *cartel
	r         *rand.Rand
	asks      [contracts.NumJobTypes]float64 // CIRO

	running         int
	busyMs          float64
	busyAtReprice   float64
	assignments     int
	completed       int
	rejected        int
	noShows         int
	earned          float64 // CIRO, after the platform fee
	rewards         float64
	slashed         float64
	fees            float64
	costUSD         float64
	captured        int // cartel: jobs it took part in capturing
	reputationFinal int64
	stakeFinal      float64
}

// adversarial reports whether the provider's behaviour is an attack the metrics account for.
func (p *provider) adversarial() bool {
	switch p.behaviour {
	case "lazy", "wrong", "silent", "cartel", "griefer":
		return true
	}
	return p.pricing == "undercut"
}

// setAsks computes the provider's asks from its strategy.
func (p *provider) setAsks(e *engine) {
	c := &gpuClasses[p.class]
	for t := contracts.JobType(0); t < contracts.NumJobTypes; t++ {
		switch p.pricing {
		case "floor":
			a, _ := p.floor.Ask(t)
			p.asks[t] = toCIRO(a)
		case "undercut":
			best := math.Inf(1)
			for _, q := range e.providers {
				if q != p && q.asks[t] > 0 && q.asks[t] < best {
					best = q.asks[t]
				}
			}
			if math.IsInf(best, 1) {
				best = p.hourly / c.jobsPerHour * jobComplexity[t] / 3
			}
			p.asks[t] = best * float64(10_000-p.src.UndercutBps) / 10_000
		default:
			p.asks[t] = p.hourly / c.jobsPerHour * jobComplexity[t] / 3 / e.usdPerCIRO
		}
		if min := toCIRO(e.params.MinJobPrice); p.asks[t] < min {
			p.asks[t] = min
		}
	}
}

func (p *provider) registerMsg() *contracts.RegisterProvider {
	c := &gpuClasses[p.class]
	asks := make([]contracts.Ask, 0, contracts.NumJobTypes)
	for t := contracts.JobType(0); t < contracts.NumJobTypes; t++ {
		asks = append(asks, contracts.Ask{Type: t, Price: ciro(p.asks[t])})
	}
	return &contracts.RegisterProvider{
		Caps:     contracts.CapCUDA | contracts.CapFP16 | contracts.CapTensorCores,
		GPUModel: c.name, GPUCount: 1, VRAMMiB: c.vramMiB, Frameworks: []string{"PyTorch", "wasi", "ciro-onnx-int"},
		Region: regionNames[p.region], Capacity: uint32(p.capacity), Asks: asks,
	}
}

// client is a modelled client.
type client struct {
	identity
	name      string
	src       *ClientSource
	r         *rand.Rand
	jobMix    []float64
	verify    []float64 // none, redundant, sampled
	submitted int
	completed int
	failed    int
	expired   int
	rejected  int
	spent     float64
	latencySum,
	latencyN float64
}

// nextArrival draws the gap to the client's next job after now (ms); 0 means never.
func (c *client) nextArrival(now int64) int64 {
	base := c.src.RatePerHour / 3600_000 // per ms
	if base <= 0 {
		return 0
	}
	peak := base
	switch c.src.Arrival {
	case "bursts":
		peak = base * math.Max(1, c.src.BurstFactor)
	case "diurnal":
		peak = base * (1 + c.src.DiurnalAmplitude)
	}
	t := float64(now)
	for {
		t += expDraw(c.r, peak)
		rate := base
		switch c.src.Arrival {
		case "bursts":
			every, length := float64(c.src.BurstEvery.Milliseconds()), float64(c.src.BurstLength.Milliseconds())
			if math.Mod(t, every) < length {
				rate = peak
			}
		case "diurnal":
			rate = base * (1 + c.src.DiurnalAmplitude*math.Sin(2*math.Pi*t/86_400_000))
		}
		if c.r.Float64()*peak <= rate {
			return int64(math.Ceil(t))
		}
	}
}

// validator is a member of the validator set: it signs blocks and re-executes sampled results.
type validator struct {
	identity
	name       string
	cons       ed25519.PublicKey
	consAddr   []byte
	r          *rand.Rand
	challenges int
	rewards    float64
}

// cartel is a group of providers that agree on one wrong result whenever they hold a majority
// of a redundant job's slots, and work honestly otherwise.
type cartel struct {
	name     string
	members  []*provider
	captured int
	seen     int // redundant jobs a member was assigned to
}
