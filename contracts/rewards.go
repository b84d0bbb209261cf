package contracts

import (
	"github.com/holiman/uint256"
)

// Epoch rewards: every EpochBlocks blocks, at EndBlock, inflation mints an epoch's reward pool
// and splits it among the stakers by SPEC.md's
//
//	R_i = S_i^0.8 / Σ_j S_j^0.8 × R_pool × (1 + P_i) × (1 + U_i) × B_i
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
//     nothing. w_i = S_i^0.8 = floor((S_i^4)^(1/5)), an exact integer fifth root; it equals
//     floor of the real S_i^0.8. S_i ≤ 10^9 (the hard cap), so S_i^4 < 2^120.
//   - P_i, the performance bonus, in basis points: floor(5000 × completed / (completed +
//     failed)) from the provider's job record; 0 with no settled jobs or no provider record.
//   - U_i, the uptime bonus, in basis points: floor(3000 × signed / observed), where observed
//     = min(counter, SignedBlocksWindow) blocks of the validator's signing record and signed =
//     observed − missed. Only validators in the active set have a signing record worth reading;
//     everyone else gets 0. Providers have no uptime signal on chain yet.
//   - B_i, SPEC's provider bonus multipliers, each a factor:
//     (1 + 0.10 × additional GPUs), from the provider's self-declared GPUCount − 1, counting
//     at most maxBonusGPUs additional GPUs, because the count is not verified on chain;
//     (1 + 0.25) for more than 99% uptime, i.e. signed × 100 > observed × 99, which only a
//     validator's signing record can show today (so a provider earns it only if it also
//     validates, and a pure validator earns it too).
//     Not applied, because the chain has no data for them yet: +50% for zkML jobs and +15%
//     for sub-200 ms responses.
//
// With m_i = (10000 + P_i)(10000 + U_i)(10000 + G_i)(10000 + H_i), the four factors in basis
// points, SPEC's reward is R_pool × w_i × m_i / (W × 10^16) with W = Σ w_j. Its total exceeds
// R_pool whenever anyone has a bonus, and then every reward is scaled down proportionally, so
// the paid reward is
//
//	R_i = floor(R_pool × w_i × m_i / D),   D = max(Σ_j w_j m_j, W × 10^16)
//
// Rounding: the fifth root floors, S_i floors, P_i and U_i floor, and each R_i is one floor
// of the exact rational (the product is formed in 512 bits). So Σ R_i ≤ R_pool, and each
// staker loses less than one unit to rounding. The undistributed remainder (the dust, or the
// whole pool when no staker weighs anything) is not minted.
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
	weight  *uint256.Int // w_i = floor(S_i^0.8)
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
		w, ok := stakeWeight(st.Tokens)
		if !ok {
			return nil, Errorf(CodeInternal, "staker %s holds %s, above the hard cap", st.Address, st.Tokens.Dec())
		}
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
			f.Performance = successBps(p.Completed, p.Failed)
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

// stakeWeight is w = floor(S^0.8) for S = floor(tokens / 10^18), the whole CIRO staked. It
// reports false for a stake beyond 2^64 CIRO, whose fourth power would not fit in 256 bits;
// the hard cap keeps every real stake far below that.
func stakeWeight(tokens *uint256.Int) (*uint256.Int, bool) {
	s := new(uint256.Int).Div(tokens, OneCIRO)
	return pow08(s)
}

// pow08 returns floor(s^0.8) = floor((s^4)^(1/5)), exactly, for s < 2^64.
func pow08(s *uint256.Int) (*uint256.Int, bool) {
	if !s.IsUint64() {
		return nil, false
	}
	s2, err := checkedMul(s, s)
	if err != nil {
		return nil, false
	}
	s4, err := checkedMul(s2, s2) // < 2^256 for s < 2^64
	if err != nil {
		return nil, false
	}
	return root5(s4), true
}

// root5 returns floor(x^(1/5)), the largest r with r^5 ≤ x, by binary search. x < 2^b gives
// r < 2^(b/5) ≤ 2^(floor(b/5)+1), and r < 2^52 for every 256-bit x.
func root5(x *uint256.Int) *uint256.Int {
	lo, hi := uint64(0), uint64(1)<<(uint(x.BitLen())/5+1) // lo^5 ≤ x < hi^5
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if p, ok := pow5(mid); ok && !p.Gt(x) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return uint256.NewInt(lo)
}

// pow5 returns r^5, or false when it does not fit in 256 bits.
func pow5(r uint64) (*uint256.Int, bool) {
	b := uint256.NewInt(r)
	p2, err := checkedMul(b, b) // < 2^128
	if err != nil {
		return nil, false
	}
	p4, err := checkedMul(p2, p2) // < 2^256
	if err != nil {
		return nil, false
	}
	p5, err := checkedMul(p4, b)
	return p5, err == nil
}
