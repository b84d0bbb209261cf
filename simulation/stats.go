package simulation

import (
	"math"
	"sort"

	"github.com/ciro-network/ciro-node/contracts"
)

// acc accumulates a mean and keeps values for percentiles.
type acc struct {
	n, sum float64
	vals   []float64
}

func (a *acc) add(x float64) {
	a.n++
	a.sum += x
	a.vals = append(a.vals, x)
}

func (a *acc) mean() float64 {
	if a.n == 0 {
		return 0
	}
	return a.sum / a.n
}

func (a *acc) quantile(q float64) float64 {
	if len(a.vals) == 0 {
		return 0
	}
	v := append([]float64(nil), a.vals...)
	sort.Float64s(v)
	return v[int(math.Min(float64(len(v)-1), math.Floor(q*float64(len(v)))))]
}

// runStats are one replicate's counters.
type runStats struct {
	txs, submitted, assigned, completed, failed, expired, cancelled int
	jobsRejected, noShows, reauctions, challenged, invariantChecks  int
	sampledWrong, sampledWrongAccepted, wrongAccepted               int
	reexecutions, redundantSettled, cartelCaptured                  int
	rejectedTxs                                                     map[contracts.Code]int
	feesCIRO, rewards, reexecCostUSD                                float64
	slashed                                                         map[string]float64
	assignLatency, settleLatency, estimate, simulated               acc
	priceSum, priceN                                                [4]float64
	costByVerify, doneByVerify                                      [4]float64

	intervalCompleted             int
	intervalLatency               acc
	intervalPrice, intervalPriceN float64
}

func (s *runStats) init() {
	s.rejectedTxs = map[contracts.Code]int{}
	s.slashed = map[string]float64{}
}

// sample is one row of timeseries.csv.
type sample struct {
	TimeS          float64
	Height         int64
	Submitted      int
	Completed      int
	Failed         int
	Expired        int
	Open           int
	ThroughputPerH float64
	LatencyS       float64
	MeanPrice      float64
	Utilisation    float64
	SlashedCIRO    float64
}

func (e *engine) sample(at int64) {
	s := &e.stats
	interval := float64(e.sc.SampleEvery.Milliseconds()) / 1000
	if len(e.series) > 0 {
		interval = float64(at)/1000 - e.series[len(e.series)-1].TimeS
	}
	row := sample{
		TimeS: float64(at) / 1000, Height: e.height, Submitted: s.submitted, Completed: s.completed,
		Failed: s.failed, Expired: s.expired, Open: len(e.jobs), LatencyS: s.intervalLatency.mean(),
		Utilisation: e.utilisation(), SlashedCIRO: sumMap(s.slashed),
	}
	if interval > 0 {
		row.ThroughputPerH = float64(s.intervalCompleted) * 3600 / interval
	}
	if s.intervalPriceN > 0 {
		row.MeanPrice = s.intervalPrice / s.intervalPriceN
	}
	e.series = append(e.series, row)
	s.intervalCompleted, s.intervalLatency, s.intervalPrice, s.intervalPriceN = 0, acc{}, 0, 0
}

func sumMap(m map[string]float64) float64 {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t := 0.0
	for _, k := range keys {
		t += m[k]
	}
	return t
}

// ThroughputModel is the throughput scaling of docs/protocol.md, T(n) = T_max (1 − e^(−n/N_c)) (1 − C/(n+C))
// in jobs/h, with T_max = 10,000, N_c = 500, C = 100.
func ThroughputModel(n float64) float64 {
	const tMax, nc, c = 10_000.0, 500.0, 100.0
	return tMax * (1 - math.Exp(-n/nc)) * (1 - c/(n+c))
}

// Metric is one named number of a replicate.
type Metric struct {
	Name  string
	Value float64
}

// metrics computes the replicate's metrics, in a fixed order.
func (e *engine) metrics() []Metric {
	s := &e.stats
	hours := e.sc.Duration.Hours()
	var out []Metric
	add := func(n string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		out = append(out, Metric{n, v})
	}
	settled := float64(s.completed + s.failed + s.expired + s.cancelled)
	add("jobs_submitted", float64(s.submitted))
	add("jobs_completed", float64(s.completed))
	add("jobs_failed", float64(s.failed))
	add("jobs_expired", float64(s.expired))
	add("jobs_rejected_at_submission", float64(s.jobsRejected))
	add("jobs_open_at_end", float64(len(e.jobs)))
	add("completion_rate", ratio(float64(s.completed), settled))
	add("throughput_jobs_per_h", float64(s.completed)/hours)
	add("throughput_model_jobs_per_h", ThroughputModel(float64(len(e.providers))))
	add("time_to_assignment_mean_s", s.assignLatency.mean())
	add("time_to_assignment_p95_s", s.assignLatency.quantile(0.95))
	add("time_to_settlement_mean_s", s.settleLatency.mean())
	add("time_to_settlement_p50_s", s.settleLatency.quantile(0.5))
	add("time_to_settlement_p95_s", s.settleLatency.quantile(0.95))
	add("completion_time_estimate_mean_s", s.estimate.mean())
	add("completion_time_simulated_mean_s", s.simulated.mean())

	// Efficiency η = Σ C_i U_i R_i Q_i / Σ C_i P_i, with P_i = 1 (peak is the capacity).
	num, den := 0.0, 0.0
	for _, p := range e.providers {
		c := gpuClasses[p.class].tflops
		u := math.Min(1, p.busyMs/(float64(e.end)*float64(p.capacity)))
		r := 1.0
		if n := p.completed + p.noShows + p.rejected; n > 0 {
			r = float64(p.completed) / float64(n)
		}
		q := 0.8 + 0.4*float64(p.reputationFinal)/float64(e.params.MaxReputation)
		num += c * u * r * q
		den += c
	}
	eta := ratio(num, den)
	add("efficiency_eta", eta)
	add("utilisation_mean", e.meanUtilisation())

	// Verification: cost per completed job by method, and the overhead against none.
	for v, name := range []string{"none", "redundant", "sampled"} {
		add("cost_per_job_"+name+"_ciro", ratio(s.costByVerify[v], s.doneByVerify[v]))
	}
	none := ratio(s.costByVerify[0], s.doneByVerify[0])
	if none > 0 {
		add("verification_overhead_redundant", ratio(s.costByVerify[1], s.doneByVerify[1])/none-1)
		sampledCost := ratio(s.costByVerify[2]+s.reexecCostUSD/e.usdPerCIRO, s.doneByVerify[2])
		add("verification_overhead_sampled", sampledCost/none-1)
	}
	add("sampled_wrong_results", float64(s.sampledWrong))
	add("sampled_detection_rate", ratio(float64(s.challenged), float64(s.sampledWrong)))
	// With n validators each re-executing independently with probability c, a wrong result
	// escapes all of them with probability (1 − c)^n.
	add("sampled_detection_theory", 1-math.Pow(1-e.sc.Validators.ChallengeRate, float64(len(e.validators))))
	add("wrong_results_accepted", float64(s.wrongAccepted))
	add("cartel_capture_rate", ratio(float64(s.cartelCaptured), float64(s.redundantSettled)))
	add("cartel_capture_theory", e.cartelTheory())
	add("slashed_ciro", sumMap(s.slashed))
	add("slashed_malicious_ciro", s.slashed["malicious_result"])
	add("slashed_unavailability_ciro", s.slashed["unavailability"])
	add("no_shows", float64(s.noShows))
	add("rewards_ciro", s.rewards)
	add("tx_fees_ciro", s.feesCIRO)

	// Attackers: profit against what they put at stake (the cost of corruption).
	var atkProfit, atkStake, honProfit, honStake float64
	for _, p := range e.providers {
		profit := p.earned + p.rewards - p.slashed - p.fees - p.costUSD/e.usdPerCIRO
		if p.adversarial() {
			atkProfit += profit
			atkStake += p.stake
		} else {
			honProfit += profit
			honStake += p.stake
		}
	}
	add("attacker_profit_ciro", atkProfit)
	add("attacker_stake_ciro", atkStake)
	add("attacker_return_on_stake", ratio(atkProfit, atkStake))
	add("honest_return_on_stake", ratio(honProfit, honStake))

	// Rewards per identity weight: sybil operators against single stakers.
	var sybR, sybS, oneR, oneS float64
	for _, p := range e.providers {
		if p.behaviour == "sybil" {
			sybR += p.rewards
			sybS += p.stake
		} else if !p.adversarial() {
			oneR += p.rewards
			oneS += p.stake
		}
	}
	add("sybil_reward_gain", 0)
	if sybS > 0 && oneR > 0 {
		out[len(out)-1].Value = ratio(sybR/sybS, oneR/oneS) - 1
	}
	add("sybil_gain_if_s08", 0)
	for _, src := range e.sc.Providers {
		if src.Behaviour == "sybil" {
			// Under S^0.8 weights m identities of S/m weigh m (S/m)^0.8 = m^0.2 S^0.8; under
			// linear weights a split gains nothing. The line shows what S^0.8 would give.
			out[len(out)-1].Value = math.Pow(float64(src.SybilSplit), 0.2) - 1
			break
		}
	}
	add("reward_stake_exponent", rewardExponent(e.providers))

	// Security and decentralisation over all bonded stake.
	var total, maxS float64
	var stakes []float64
	for _, p := range e.providers {
		stakes = append(stakes, p.stakeFinal)
	}
	for _, v := range e.validators {
		st, _ := contracts.GetStaker(e.kv, v.addr)
		if st != nil {
			stakes = append(stakes, toCIRO(st.Tokens))
		}
	}
	for _, x := range stakes {
		total += x
		maxS = math.Max(maxS, x)
	}
	decentral := 1 - ratio(maxS, total)
	econ := 1 - math.Exp(-0.001*total)
	n := len(e.validators)
	f := (n - 1) / 3
	byz := 0.0
	if n >= 3*f+1 && n >= 4 {
		byz = 1
	}
	security := math.Min(econ, byz)
	perf := ratio(float64(s.completed), settled)
	add("decentralisation", decentral)
	add("economic_security", econ)
	add("byzantine_security", byz)
	add("health", 0.3*eta+0.25*security+0.25*decentral+0.2*perf)
	for c := range gpuClasses {
		name := classKey(c)
		add("mean_price_"+name+"_ciro", ratio(s.priceSum[c], s.priceN[c]))
		add("earnings_per_hour_"+name+"_usd", e.classEarningsPerHour(c))
	}
	add("invariant_checks", float64(s.invariantChecks))
	add("transactions", float64(s.txs))
	return out
}

func classKey(c int) string {
	switch c {
	case 0:
		return "rtx3080"
	case 1:
		return "rtx4090"
	case 2:
		return "a100"
	}
	return "h100"
}

// classEarningsPerHour is the mean provider of a class's job earnings per hour, in USD.
func (e *engine) classEarningsPerHour(c int) float64 {
	sum, n := 0.0, 0.0
	for _, p := range e.providers {
		if p.class == c && !p.adversarial() {
			sum += p.earned * e.usdPerCIRO
			n++
		}
	}
	return ratio(sum, n) / e.sc.Duration.Hours()
}

func (e *engine) meanUtilisation() float64 {
	sum, n := 0.0, 0.0
	for _, p := range e.providers {
		sum += math.Min(1, p.busyMs/(float64(e.end)*float64(p.capacity)))
		n++
	}
	return ratio(sum, n)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// rewardExponent is the slope of log(reward) against log(stake) over the providers that were
// rewarded: 0.8 for rewards exactly proportional to S^0.8, less where the bonus terms favour
// small stakers.
func rewardExponent(ps []*provider) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, p := range ps {
		if p.rewards <= 0 || p.stake <= 0 {
			continue
		}
		x, y := math.Log(p.stake), math.Log(p.rewards)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if n < 3 || d <= 1e-9 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// cartelTheory is the chance that a cartel of C among N providers holds a majority of a
// redundant job's k slots when the slots go to k distinct providers uniformly at random:
// P(X > k/2) for X hypergeometric(N, C, k). The auction is not uniform (price, reputation and
// stake weigh in), which is what the simulated rate shows.
func (e *engine) cartelTheory() float64 {
	if len(e.cartels) == 0 {
		return 0
	}
	k := 0
	for _, c := range e.sc.Clients {
		if c.Verification["redundant"] > 0 {
			k = c.Redundancy
			break
		}
	}
	n, c := len(e.providers), len(e.cartels[0].members)
	if k == 0 || k > n {
		return 0
	}
	p := 0.0
	for x := k/2 + 1; x <= k && x <= c; x++ {
		p += choose(c, x) * choose(n-c, k-x) / choose(n, k)
	}
	return p
}

func choose(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}
