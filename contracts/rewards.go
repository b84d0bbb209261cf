package contracts

import (
	"github.com/holiman/uint256"
)

// Epoch rewards: every EpochBlocks blocks, at EndBlock, inflation mints an epoch's reward pool
// and splits it among the stakers by
//
//	R_i = w_i / Σ_j w_j × R_pool × (1 + P_i) × (1 + U_i) × B_i,   w_i = S_i
//
// The weight is linear in stake. The original design (docs/protocol.md) asks for w_i = S_i^0.8, against centralisation, but a
// weight that is concave per pool pays sybils: for any concave f with f(0) = 0, n·f(S/n) ≥
// f(S), so one operator who splits a stake S over n pools weighs n^0.2 times more under
// S^0.8 (one pool of 1,000 CIRO weighs 251, ten pools of 100 weigh 390). Pools are free to
// create, so the concavity would buy no decentralisation, only an incentive to fake it. With
// a linear weight, splitting gains exactly nothing before rounding, and loses to it: each
// pool's S_i floors to whole CIRO, and each R_i floors, so Σ floor(x_k) ≤ floor(Σ x_k). Every
// extra pool also costs its transactions' fees (and, for a validator, MinValidatorStake of
// its own and a place among MaxValidators). docs/security.md has the break-even.
//
// Who is paid: every staker with the validator or provider role, tokens in its pool, shares
// outstanding, not jailed and not tombstoned, in store key order. A staker jailed by this
// block's BeginBlock is not paid.
//
// The terms, all integers:
//   - R_pool = min(InflationPerEpoch, HardCap − minted). When the cap cuts the pool, an
//     inflation_capped event says by how much. Only what is paid is minted, so minted never
//     passes the cap.
//   - S_i is the pool's tokens in whole CIRO, floor(tokens / 10^18); a pool under 1 CIRO weighs
//     nothing. S_i ≤ 10^9 (the hard cap).
//   - P_i, the performance bonus, in basis points: floor(5000 × completed / (completed +
//     failed)), where completed counts the provider's paid jobs whose verification was not
//     none (sampled, redundant or zk) and failed counts every fault it was slashed for, and
//     only once completed reaches BonusMinVerifiedJobs; 0 before that or with no provider
//     record. A job with verification none proves nothing, and a provider can deal them to
//     itself, so they earn no bonus; a fault on any job counts against it.
//   - U_i, the uptime bonus, in basis points: floor(3000 × signed / observed), where observed
//     = min(counter, SignedBlocksWindow) blocks of the validator's signing record and signed =
//     observed − missed. Only validators in the active set have a signing record worth reading;
//     everyone else gets 0. Providers have no uptime signal on chain yet.
//   - B_i, the protocol's provider bonus multipliers, each a factor:
//     (1 + 0.10 × additional GPUs), from the provider's self-declared GPUCount − 1, counting
//     at most maxBonusGPUs additional GPUs, because the count is not verified on chain;
//     (1 + 0.25) for more than 99% uptime, i.e. signed × 100 > observed × 99, which only a
//     validator's signing record can show today (so a provider earns it only if it also
//     validates, and a pure validator earns it too).
//     Not applied, because the chain has no data for them yet: +50% for zkML jobs and +15%
//     for sub-200 ms responses.
//
// With m_i = (10000 + P_i)(10000 + U_i)(10000 + G_i)(10000 + H_i), the four factors in basis
// points, the protocol's reward is R_pool × w_i × m_i / (W × 10^16) with W = Σ w_j. Its total exceeds
// R_pool whenever anyone has a bonus, and then every reward is scaled down proportionally, so
// the paid reward is
//
//	R_i = floor(R_pool × w_i × m_i / D),   D = max(Σ_j w_j m_j, W × 10^16)
//
// Rounding: S_i floors, P_i and U_i floor, and each R_i is one floor of the exact rational
// (the product is formed in 512 bits). So Σ R_i ≤ R_pool, and each staker loses less than
// one unit to rounding. The undistributed remainder (the dust, or the whole pool when no
// staker weighs anything) is not minted.
//
// Where rewards go: into the staker's pool tokens, leaving shares alone, like a slash in
// reverse. Every delegator, the staker's own stake included, gains in proportion to its shares
// through the share price, at O(stakers) work per epoch rather than O(delegations), and the
// reward compounds: it counts toward the next epoch's stake, voting power and tier. The
// trade-off is that a reward is not liquid: it leaves through Undelegate and the tier's
// unbonding cooldown, and the operator takes no commission beyond its own shares.

// The bonus terms, in basis points.
const (
	successBonusBps    = 5000 // P_i at a perfect job record: 0.5
	uptimeBonusBps     = 3000 // U_i at a perfect signing record: 0.3
	gpuBonusBps        = 1000 // +10% per additional GPU
	highUptimeBonusBps = 2500 // +25% for more than 99% uptime
	maxBonusGPUs       = 7    // additional GPUs the bonus counts: an 8-GPU machine
	bpsOne             = 10_000
)

// multOne is m_i with no bonus: 10000^4.
var multOne = uint256.NewInt(bpsOne * bpsOne * bpsOne * bpsOne)

// rewardFactors are one staker's bonus terms, in basis points.
type rewardFactors struct {
	Performance uint64 // P_i, 0..5000
	Uptime      uint64 // U_i, 0..3000
	GPU         uint64 // 0..7000
	HighUptime  uint64 // 0 or 2500
}

// mult is m_i: the product of the four factors (1 + term), scaled by 10000^4. It is at most
// 15000 × 13000 × 17000 × 12500 < 2^56.
func (f rewardFactors) mult() uint64 {
	return (bpsOne + f.Performance) * (bpsOne + f.Uptime) * (bpsOne + f.GPU) * (bpsOne + f.HighUptime)
}

// rewardEntry is a staker being paid this epoch.
type rewardEntry struct {
	st      *Staker
	weight  *uint256.Int // w_i = S_i, whole CIRO
	factors rewardFactors
}

// payEpochRewards pays an epoch's rewards when this block closes one.
func (x *exec) payEpochRewards() error {
	n := x.params.EpochBlocks
	want := clone(x.params.InflationPerEpoch)
	if n == 0 || want.IsZero() || x.block.Height <= 0 || uint64(x.block.Height)%n != 0 {
		return nil
	}
	epoch := uint64Str(uint64(x.block.Height) / n)
	sup, err := x.st.supply()
	if err != nil {
		return err
	}
	room := zero()
	if HardCap.Gt(sup.Minted) {
		if room, err = checkedSub(HardCap, sup.Minted); err != nil {
			return err
		}
	}
	pool := want
	if room.Lt(want) {
		pool = room
		x.emit(event("inflation_capped", "epoch", epoch, "requested", want.Dec(), "pool", pool.Dec()))
	}
	var entries []rewardEntry
	if !pool.IsZero() {
		if entries, err = x.rewardEntries(); err != nil {
			return err
		}
	}
	weights := make([]*uint256.Int, len(entries))
	mults := make([]uint64, len(entries))
	for i, e := range entries {
		weights[i], mults[i] = e.weight, e.factors.mult()
	}
	amounts, err := splitRewards(pool, weights, mults)
	if err != nil {
		return err
	}
	paid := zero()
	stakers := uint64(0)
	for i, e := range entries {
		a := amounts[i]
		if a.IsZero() {
			continue
		}
		if err := addTo(e.st.Tokens, a); err != nil {
			return err
		}
		if err := x.st.setStaker(e.st); err != nil {
			return err
		}
		if err := addTo(paid, a); err != nil {
			return err
		}
		stakers++
		x.emit(event("reward", "staker", e.st.Address.String(), "amount", a.Dec()))
	}
	if err := x.recordMint(paid); err != nil {
		return Errorf(CodeInternal, "epoch %s paid %s, more than the pool %s allowed: %v", epoch, paid.Dec(), pool.Dec(), err)
	}
	undistributed, err := checkedSub(pool, paid)
	if err != nil {
		return err
	}
	x.emit(event("epoch_rewards", "epoch", epoch, "pool", pool.Dec(), "paid", paid.Dec(),
		"undistributed", undistributed.Dec(), "stakers", uint64Str(stakers)))
	return nil
}

// rewardEntries lists the stakers eligible for this epoch's rewards, in key order, with their
// weights and bonus terms. Stakers with no whole CIRO staked are left out.
func (x *exec) rewardEntries() ([]rewardEntry, error) {
	var stakers []*Staker
	var decodeErr error
	err := iteratePrefix(x.st.kv, []byte{prefixStaker}, func(_, v []byte) bool {
		st, err := DecodeStaker(v)
		if err != nil {
			decodeErr = err
			return false
		}
		if st.Roles&(RoleValidator|RoleProvider) != 0 && !st.Jailed && !st.Tombstoned &&
			!st.Tokens.IsZero() && !st.Shares.IsZero() {
			stakers = append(stakers, st)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if decodeErr != nil {
		return nil, decodeErr
	}
	var entries []rewardEntry
	for _, st := range stakers {
		w := stakeWeight(st.Tokens)
		if w.IsZero() {
			continue
		}
		f, err := x.rewardFactors(st)
		if err != nil {
			return nil, err
		}
		entries = append(entries, rewardEntry{st: st, weight: w, factors: f})
	}
	return entries, nil
}

// rewardFactors reads a staker's job record and signing record into its bonus terms.
func (x *exec) rewardFactors(st *Staker) (rewardFactors, error) {
	var f rewardFactors
	if st.Roles&RoleProvider != 0 {
		p, err := x.st.provider(st.Address)
		if err != nil {
			return f, err
		}
		if p != nil {
			rec, err := x.st.verifiedRecord(st.Address)
			if err != nil {
				return f, err
			}
			if rec.Completed >= x.params.BonusMinVerifiedJobs {
				f.Performance = successBps(rec.Completed, rec.Failed)
			}
			if p.GPUCount > 1 {
				f.GPU = gpuBonusBps * min(uint64(p.GPUCount-1), maxBonusGPUs)
			}
		}
	}
	if cons := st.ConsAddress(); st.IsValidatorCandidate() && cons != nil {
		active, err := x.st.kv.Get(ValidatorSetKey(cons))
		if err != nil {
			return f, err
		}
		if active != nil {
			info, err := x.signingInfo(st.Address)
			if err != nil {
				return f, err
			}
			f.Uptime, f.HighUptime = uptimeBps(info, uint64(x.params.SignedBlocksWindow))
		}
	}
	return f, nil
}

// successBps is P_i: floor(5000 × completed / (completed + failed)), 0 with no settled jobs.
func successBps(completed, failed uint64) uint64 {
	total, err := checkedAdd(uint256.NewInt(completed), uint256.NewInt(failed)) // < 2^65
	if err != nil || total.IsZero() {
		return 0
	}
	v, err := checkedMulDiv(uint256.NewInt(completed), uint256.NewInt(successBonusBps), total) // ≤ 5000
	if err != nil {
		return 0
	}
	return v.Uint64()
}

// uptimeBps is U_i, floor(3000 × signed / observed) over the last min(counter, window) blocks,
// and the high-uptime bonus, 2500 when signed × 100 > observed × 99.
func uptimeBps(info *SigningInfo, window uint64) (uptime, high uint64) {
	observed := min(info.Counter, window)
	missed := uint64(info.Missed)
	if observed == 0 || missed >= observed {
		return 0, 0
	}
	signed := observed - missed
	// observed ≤ window < 2^32, so the products fit in uint64.
	uptime = uptimeBonusBps * signed / observed
	if signed*100 > observed*99 {
		high = highUptimeBonusBps
	}
	return uptime, high
}

// splitRewards divides pool by weights w_i and multipliers m_i (scaled by 10000^4):
//
//	R_i = floor(pool × w_i × m_i / D),   D = max(Σ_j w_j m_j, Σ_j w_j × 10000^4)
//
// so that Σ R_i ≤ pool. With no weight, nothing is paid. Each w_i m_i < 2^24 × 2^56, so the
// sums cannot overflow for any real number of stakers; they are checked all the same.
func splitRewards(pool *uint256.Int, weights []*uint256.Int, mults []uint64) ([]*uint256.Int, error) {
	out := make([]*uint256.Int, len(weights))
	num := make([]*uint256.Int, len(weights))
	w, wm := zero(), zero()
	var err error
	for i, wi := range weights {
		if num[i], err = checkedMul(wi, uint256.NewInt(mults[i])); err != nil {
			return nil, err
		}
		if err := addTo(w, wi); err != nil {
			return nil, err
		}
		if err := addTo(wm, num[i]); err != nil {
			return nil, err
		}
	}
	d, err := checkedMul(w, multOne)
	if err != nil {
		return nil, err
	}
	if wm.Gt(d) {
		d = wm
	}
	for i := range weights {
		if d.IsZero() {
			out[i] = zero()
			continue
		}
		if out[i], err = checkedMulDiv(pool, num[i], d); err != nil { // ≤ pool
			return nil, err
		}
	}
	return out, nil
}

// stakeWeight is w = S = floor(tokens / 10^18), the whole CIRO staked.
func stakeWeight(tokens *uint256.Int) *uint256.Int {
	return new(uint256.Int).Div(tokens, OneCIRO)
}
