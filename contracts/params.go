package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/holiman/uint256"
)

// Params are the protocol's governance-set parameters. They live in state, so every node reads
// the same values. Durations are in seconds of block time; shares are in basis points.
type Params struct {
	// MinTxFee is the least fee a transaction may carry.
	MinTxFee *uint256.Int `json:"min_tx_fee"`
	// FeeBurnBps is the share of fees burned; the rest goes to the treasury. The protocol has it
	// rise from 30% to 80% with network revenue; governance moves it along that schedule.
	FeeBurnBps uint64 `json:"fee_burn_bps"`
	// SlashBurnBps is the share of slashed stake burned; the rest goes to the treasury.
	SlashBurnBps uint64 `json:"slash_burn_bps"`

	// CIROPriceMicroUSD is the governance-set CIRO price (micro-USD per CIRO) that staking
	// tiers are measured with.
	CIROPriceMicroUSD uint64 `json:"ciro_price_micro_usd"`
	// UnbondingSeconds is the unbonding cooldown per tier, indexed by Tier (TierNone first).
	UnbondingSeconds [NumTiers]uint64 `json:"unbonding_seconds"`

	// MaxValidators is N in "top N by stake".
	MaxValidators uint32 `json:"max_validators"`
	// MinValidatorStake is the least bonded stake that makes a validator candidate eligible.
	MinValidatorStake *uint256.Int `json:"min_validator_stake"`
	// MaxValidatorPower caps one validator's voting power (in whole CIRO of stake).
	MaxValidatorPower uint64 `json:"max_validator_power"`

	// SignedBlocksWindow is the number of recent blocks downtime is counted over.
	SignedBlocksWindow uint32 `json:"signed_blocks_window"`
	// MinSignedBps is the share of the window a validator must sign.
	MinSignedBps uint64 `json:"min_signed_bps"`

	DoubleSignSlashBps     uint64 `json:"double_sign_slash_bps"`
	DoubleSignJailSeconds  uint64 `json:"double_sign_jail_seconds"`
	DoubleSignReputationDn int64  `json:"double_sign_reputation_penalty"`
	DowntimeSlashBps       uint64 `json:"downtime_slash_bps"`
	DowntimeJailSeconds    uint64 `json:"downtime_jail_seconds"`
	DowntimeReputationDn   int64  `json:"downtime_reputation_penalty"`

	// InitialReputation is a new staker's score; scores stay within [0, MaxReputation].
	InitialReputation int64 `json:"initial_reputation"`
	MaxReputation     int64 `json:"max_reputation"`

	// PlatformFeeBps is the protocol's share of each job payment (the protocol says 5–10%), split between
	// burn and treasury like other fees.
	PlatformFeeBps uint64 `json:"platform_fee_bps"`
	// JobBaseFee is F_base of the adaptive network fee F(u, d).
	JobBaseFee *uint256.Int `json:"job_base_fee"`
	// MinJobPrice is the protocol's floor under any job's maximum price.
	MinJobPrice *uint256.Int `json:"min_job_price"`
	// MaxJobDeadlineBlocks bounds how far ahead a job's deadline may be.
	MaxJobDeadlineBlocks uint64 `json:"max_job_deadline_blocks"`
	// ChallengeWindowBlocks is the shortest time a sampled result waits for a validator's
	// challenge. The window grows with the job's declared work, its execution window (deadline
	// minus assignment height), since a validator needs about as long to re-run it, up to
	// ChallengeWindowMaxBlocks.
	ChallengeWindowBlocks    uint64 `json:"challenge_window_blocks"`
	ChallengeWindowMaxBlocks uint64 `json:"challenge_window_max_blocks"`
	// ChallengeBond is the least bond a challenge locks (the bond is at least the disputed
	// slot's price too); a challenge the validators' quorum rejects loses it.
	ChallengeBond *uint256.Int `json:"challenge_bond"`
	// DisputeWindowBlocks is how long the validators have to re-execute a disputed job and
	// vote; without a quorum by then the result stands and the bond is returned.
	DisputeWindowBlocks uint64 `json:"dispute_window_blocks"`
	// RevealWindowBlocks is how long a redundant job's committed slots have to reveal once
	// every slot has committed (or the others missed their deadline).
	RevealWindowBlocks uint64 `json:"reveal_window_blocks"`
	// SlotCollateralBps is the collateral each assignment locks in its provider's stake, as a
	// share of its price (20000: twice the price). A slot proven wrong is slashed at least
	// this much, so a caught majority loses more than the job pays.
	SlotCollateralBps uint64 `json:"slot_collateral_bps"`
	// UnavailableFeeBps is the share of a slot's price the client pays a provider that reported
	// the job's inputs unavailable, when no provider could fetch them.
	UnavailableFeeBps uint64 `json:"unavailable_fee_bps"`
	// MinAssignWindowBlocks is the least time a provider is given to answer: a job whose
	// deadline is closer than that when a provider frees up expires instead of being assigned.
	MinAssignWindowBlocks uint64 `json:"min_assign_window_blocks"`
	// MaxAssignmentsPerBlock bounds the auction's work in one block; the rest wait a block.
	MaxAssignmentsPerBlock uint32 `json:"max_assignments_per_block"`
	// Provider penalties (the provider faults of docs/protocol.md) and reputation steps.
	NoShowSlashBps      uint64 `json:"no_show_slash_bps"`
	MaliciousSlashBps   uint64 `json:"malicious_slash_bps"`
	ReputationSuccessUp int64  `json:"reputation_success_up"`
	ReputationNoShowDn  int64  `json:"reputation_no_show_penalty"`
	ReputationBadDn     int64  `json:"reputation_malicious_penalty"`
	// Selection weights of the auction: price, reputation, stake tier and committed randomness.
	WeightPrice      uint64 `json:"weight_price"`
	WeightReputation uint64 `json:"weight_reputation"`
	WeightStake      uint64 `json:"weight_stake"`
	WeightRandom     uint64 `json:"weight_random"`

	// EpochBlocks is the length of a reward epoch: rewards are paid at the EndBlock of every
	// height that is a multiple of it. 0 turns epoch rewards off.
	EpochBlocks uint64 `json:"epoch_blocks"`
	// InflationPerEpoch is the most CIRO one epoch mints as staking rewards (R_pool in docs/protocol.md).
	// It is rate-limited by the hard cap: an epoch mints only what still fits under it. Nil
	// reads as zero.
	InflationPerEpoch *uint256.Int `json:"inflation_per_epoch"`

	// Money and staking.
	// BonusMinVerifiedJobs is how many verified jobs (verification other than none) a provider
	// must have been paid for before its record earns the performance bonus.
	BonusMinVerifiedJobs uint64 `json:"bonus_min_verified_jobs"`
}

const day = 24 * 60 * 60

// maxTotalVotingPower is CometBFT's limit on the validator set's total power (MaxInt64 / 8).
// votingPower returns at most MaxValidatorPower as an int64, so the cap must fit too.
const maxTotalVotingPower = math.MaxInt64 / 8

// DefaultParams are the values for a real network: the slashing table of docs/protocol.md, a 1 USD CIRO
// price, and tier cooldowns from 7 days (no tier) down to 1 day for the largest tiers, which
// have the most to lose.
func DefaultParams() Params {
	return Params{
		MinTxFee:               new(uint256.Int).Div(OneCIRO, uint256.NewInt(1000)), // 0.001 CIRO
		FeeBurnBps:             3000,
		SlashBurnBps:           5000,
		CIROPriceMicroUSD:      1_000_000,
		UnbondingSeconds:       [NumTiers]uint64{7 * day, 7 * day, 7 * day, 5 * day, 5 * day, 3 * day, 3 * day, 2 * day, 1 * day},
		MaxValidators:          100,
		MinValidatorStake:      CIRO(10_000),
		MaxValidatorPower:      10_000_000,
		SignedBlocksWindow:     21_600, // about 6 h of 1 s blocks: the protocol's "downtime over 6 h"
		MinSignedBps:           5000,
		DoubleSignSlashBps:     3000,
		DoubleSignJailSeconds:  90 * day,
		DoubleSignReputationDn: 50,
		DowntimeSlashBps:       500,
		DowntimeJailSeconds:    30 * day,
		DowntimeReputationDn:   10,
		InitialReputation:      500,
		MaxReputation:          1000,
		PlatformFeeBps:         500,
		JobBaseFee:             new(uint256.Int).Div(OneCIRO, uint256.NewInt(100)), // 0.01 CIRO
		MinJobPrice:            new(uint256.Int).Div(OneCIRO, uint256.NewInt(1000)),
		MaxJobDeadlineBlocks:   100_000,
		ChallengeWindowBlocks:  100,
		MinAssignWindowBlocks:  1,
		MaxAssignmentsPerBlock: 20_000,
		NoShowSlashBps:         1000,
		MaliciousSlashBps:      5000,
		ReputationSuccessUp:    2,
		ReputationNoShowDn:     10,
		ReputationBadDn:        50,
		WeightPrice:            4,
		WeightReputation:       3,
		WeightStake:            2,
		WeightRandom:           1,
		// 100 blocks of about 1 s; 8 CIRO an epoch is about 2.5 M CIRO a year, 5% of the
		// genesis supply.
		EpochBlocks:          100,
		InflationPerEpoch:    CIRO(8),
		BonusMinVerifiedJobs: 20,

		// Verification: a day of 1 s blocks is the longest a payment waits on a challenge
		// window; a slot locks twice its price.
		ChallengeWindowMaxBlocks: 86_400,
		ChallengeBond:            CIRO(1),
		DisputeWindowBlocks:      600,
		RevealWindowBlocks:       50,
		SlotCollateralBps:        20_000,
		UnavailableFeeBps:        1000,
	}
}

// Validate checks that the parameters are usable.
func (p Params) Validate() error {
	switch {
	case p.MinTxFee == nil:
		return fmt.Errorf("min_tx_fee is missing")
	case p.MinValidatorStake == nil || p.MinValidatorStake.IsZero():
		return fmt.Errorf("min_validator_stake must be positive")
	case p.FeeBurnBps > 10_000 || p.SlashBurnBps > 10_000 || p.MinSignedBps > 10_000:
		return fmt.Errorf("a basis-point share is above 10000")
	case p.DoubleSignSlashBps > 10_000 || p.DowntimeSlashBps > 10_000:
		return fmt.Errorf("a slash fraction is above 10000 bps")
	case p.CIROPriceMicroUSD == 0:
		return fmt.Errorf("ciro_price_micro_usd must be positive")
	case p.MaxValidators == 0:
		return fmt.Errorf("max_validators must be positive")
	case p.MaxValidatorPower == 0:
		return fmt.Errorf("max_validator_power must be positive")
	case p.MaxValidatorPower > maxTotalVotingPower/uint64(p.MaxValidators):
		return fmt.Errorf("max_validators × max_validator_power must stay within CometBFT's total voting power limit %d", maxTotalVotingPower)
	case p.SignedBlocksWindow == 0:
		return fmt.Errorf("signed_blocks_window must be positive")
	case p.MaxReputation <= 0 || p.InitialReputation < 0 || p.InitialReputation > p.MaxReputation:
		return fmt.Errorf("initial_reputation must lie in [0, max_reputation]")
	case p.PlatformFeeBps > 10_000 || p.NoShowSlashBps > 10_000 || p.MaliciousSlashBps > 10_000:
		return fmt.Errorf("a job fee or provider slash is above 10000 bps")
	case p.JobBaseFee == nil || p.MinJobPrice == nil || p.MinJobPrice.IsZero():
		return fmt.Errorf("job_base_fee and a positive min_job_price are required")
	case p.JobBaseFee.Gt(HardCap) || p.MinJobPrice.Gt(HardCap) || p.MinTxFee.Gt(HardCap) || p.MinValidatorStake.Gt(HardCap):
		return fmt.Errorf("job_base_fee, min_job_price, min_tx_fee and min_validator_stake must not exceed the hard cap")
	case p.MaxJobDeadlineBlocks == 0 || p.ChallengeWindowBlocks == 0 || p.MaxAssignmentsPerBlock == 0:
		return fmt.Errorf("max_job_deadline_blocks, challenge_window_blocks and max_assignments_per_block must be positive")
	case p.MinAssignWindowBlocks == 0 || p.MinAssignWindowBlocks > p.MaxJobDeadlineBlocks:
		return fmt.Errorf("min_assign_window_blocks must be within 1..max_job_deadline_blocks")
	case p.ChallengeWindowMaxBlocks < p.ChallengeWindowBlocks:
		return fmt.Errorf("challenge_window_max_blocks must be at least challenge_window_blocks")
	case p.ChallengeBond == nil || p.ChallengeBond.IsZero():
		return fmt.Errorf("challenge_bond must be positive")
	case p.DisputeWindowBlocks == 0 || p.RevealWindowBlocks == 0:
		return fmt.Errorf("dispute_window_blocks and reveal_window_blocks must be positive")
	case p.SlotCollateralBps < 10_000 || p.UnavailableFeeBps > 10_000:
		return fmt.Errorf("slot_collateral_bps must be at least 10000 (the price) and unavailable_fee_bps at most 10000")
	case p.WeightPrice+p.WeightReputation+p.WeightStake+p.WeightRandom == 0:
		return fmt.Errorf("at least one auction weight must be positive")
	case p.InflationPerEpoch != nil && p.InflationPerEpoch.Gt(HardCap):
		return fmt.Errorf("inflation_per_epoch is above the hard cap")
	}
	return nil
}

// ParamsCache remembers the last decoded parameters record. Decoding is a pure function of the
// record's bytes, so reusing it cannot change a result; the bytes are still read from state
// each time, so a parameter change takes effect at once.
type ParamsCache struct {
	mu  sync.Mutex
	raw []byte
	p   Params
}

// get decodes the parameters in st, through the cache when c is not nil. Callers get their own
// copies of the amounts.
func (c *ParamsCache) get(st state) (Params, error) {
	if c == nil {
		return st.params()
	}
	raw, err := st.kv.Get(ParamsKey())
	if err != nil {
		return Params{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if raw == nil || !bytes.Equal(raw, c.raw) {
		p, err := st.params()
		if err != nil {
			return Params{}, err
		}
		c.raw, c.p = append([]byte(nil), raw...), p
	}
	p := c.p
	p.MinTxFee, p.MinValidatorStake = clone(p.MinTxFee), clone(p.MinValidatorStake)
	p.JobBaseFee, p.MinJobPrice = clone(p.JobBaseFee), clone(p.MinJobPrice)
	p.ChallengeBond = clone(p.ChallengeBond)
	if p.InflationPerEpoch != nil {
		p.InflationPerEpoch = clone(p.InflationPerEpoch)
	}
	return p, nil
}

func (p Params) encode() []byte {
	b, err := json.Marshal(p) // struct fields marshal in declaration order: deterministic
	if err != nil {
		panic(fmt.Sprintf("contracts: params do not marshal: %v", err))
	}
	return b
}

// Tier is a staking tier of docs/protocol.md, set by the USD value of a stake.
type Tier uint8

// The tiers, lowest first. TierNone is a stake below Basic.
const (
	TierNone Tier = iota
	TierBasic
	TierPremium
	TierEnterprise
	TierInfrastructure
	TierFleet
	TierDatacenter
	TierHyperscale
	TierInstitutional
	NumTiers = 9
)

var tierNames = [NumTiers]string{"none", "basic", "premium", "enterprise", "infrastructure", "fleet", "datacenter", "hyperscale", "institutional"}

// tierUSD is each tier's threshold in whole USD.
var tierUSD = [NumTiers]uint64{0, 100, 500, 2_500, 10_000, 50_000, 100_000, 250_000, 500_000}

func (t Tier) String() string {
	if int(t) < len(tierNames) {
		return tierNames[t]
	}
	return "unknown"
}

// TierThresholdUSD is the whole-USD value a stake needs for tier t.
func TierThresholdUSD(t Tier) uint64 { return tierUSD[t] }

// TierFor returns the tier a stake reaches at a CIRO price in micro-USD. The USD value is
// floor(stake × price / 10^18) micro-USD: rounding down never lifts a stake into a tier it
// has not reached.
func TierFor(stake *uint256.Int, priceMicroUSD uint64) Tier {
	microUSD, overflow := mulDiv(stake, uint256.NewInt(priceMicroUSD), OneCIRO)
	if overflow {
		return TierInstitutional
	}
	tier := TierNone
	for t := Tier(1); t < NumTiers; t++ {
		need := uint256.NewInt(tierUSD[t] * 1_000_000) // ≤ 5 × 10^11: fits in uint64
		if microUSD.Cmp(need) >= 0 {
			tier = t
		}
	}
	return tier
}
