package contracts

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/holiman/uint256"
)

func hexStr(b []byte) string { return hex.EncodeToString(b) }

// Slashing: consensus faults proven by evidence, downtime counted from the last commit, and
// the job market's provider faults. Slashed stake leaves the pool and its unbonding entries;
// SlashBurnBps of it is burned and the rest goes to the treasury, so the supply invariant holds.
//
// A fault is slashed against the stake at the height of the fault (as Cosmos SDK x/slashing
// does): the pool's tokens, and every unbonding entry from the pool that started at or after
// that height, each by the same fraction. Stake that left before the fault has left; stake
// that left after it cannot escape by leaving. There are no redelegations on this chain, so
// there is nothing else to follow. The pool's part is a fraction of its tokens now, which also
// takes delegations made after the fault: the chain keeps no history of a pool's tokens, and a
// delegator who joins a pool under suspicion takes that risk.
//
// Double signing tombstones: the staker is jailed for good and can never stake, unjail or be
// delegated to again. A coordinated attack is slashed 100%: see handleMisbehavior for the rule.

// coordinatedAttackBps is the "coordinated attack" row of docs/protocol.md: everything.
const coordinatedAttackBps = 10_000

// slash slashes fractionBps of st's stake at the current height.
func (x *exec) slash(st *Staker, fractionBps uint64, reason string) (*uint256.Int, error) {
	return x.slashAtHeight(st, fractionBps, x.height(), reason)
}

// slashAtHeight slashes floor(fractionBps / 10000) of the stake st had at infractionHeight:
// that fraction of the pool's tokens, and of every unbonding entry that left the pool at or
// after infractionHeight (still unpaid). It returns the total taken. The caller stores st.
// The job market calls it with the height the faulty assignment began, evidence handling with
// the evidence's height.
func (x *exec) slashAtHeight(st *Staker, fractionBps uint64, infractionHeight uint64, reason string) (*uint256.Int, error) {
	fromPool := bps(st.Tokens, fractionBps)
	fromUnbonding, err := x.slashUnbondings(st.Address, fractionBps, infractionHeight)
	if err != nil {
		return nil, err
	}
	if err := subFrom(st.Tokens, fromPool); err != nil {
		return nil, err
	}
	total, err := checkedAdd(fromPool, fromUnbonding)
	if err != nil {
		return nil, err
	}
	st.Slashes++
	if err := x.splitBurnTreasury(total, x.params.SlashBurnBps); err != nil {
		return nil, err
	}
	x.emit(event("slash", "staker", st.Address.String(), "reason", reason, "amount", total.Dec(),
		"from_pool", fromPool.Dec(), "from_unbonding", fromUnbonding.Dec(),
		"infraction_height", uint64Str(infractionHeight), "height", fmt.Sprint(x.block.Height)))
	return total, nil
}

// slashUnbondings takes floor(amount × fractionBps / 10000) from each unpaid unbonding entry of
// staker's pool that started at or after fromHeight, and returns the sum. An entry left at
// zero is removed.
func (x *exec) slashUnbondings(staker Address, fractionBps uint64, fromHeight uint64) (*uint256.Int, error) {
	type entry struct{ idx, key []byte }
	var list []entry
	start := unbondingByStakerKey(staker, fromHeight, 0)
	end := prefixEnd(append([]byte{prefixUnbondingByStaker}, staker[:]...))
	err := x.st.kv.Iterate(start, end, func(k, v []byte) bool {
		list = append(list, entry{idx: append([]byte(nil), k...), key: append([]byte(nil), v...)})
		return true
	})
	if err != nil {
		return nil, err
	}
	total := zero()
	for _, e := range list {
		b, err := x.st.kv.Get(e.key)
		if err != nil {
			return nil, err
		}
		if b == nil {
			return nil, Errorf(CodeInternal, "unbonding index %x points at no entry", e.idx)
		}
		u, err := decodeUnbonding(b)
		if err != nil {
			return nil, err
		}
		cut := bps(u.Amount, fractionBps)
		if cut.IsZero() {
			continue
		}
		if err := subFrom(u.Amount, cut); err != nil {
			return nil, err
		}
		if err := addTo(total, cut); err != nil {
			return nil, err
		}
		if u.Amount.IsZero() {
			if err := x.st.kv.Delete(e.key); err != nil {
				return nil, err
			}
			if err := x.st.kv.Delete(e.idx); err != nil {
				return nil, err
			}
		} else if err := x.st.kv.Set(e.key, u.encode()); err != nil {
			return nil, err
		}
		x.emit(event("slash_unbonding", "staker", staker.String(), "delegator", u.Delegator.String(),
			"amount", cut.Dec(), "started_at", uint64Str(u.Height)))
	}
	return total, nil
}

func (x *exec) jail(st *Staker, seconds uint64) {
	st.Jailed = true
	if until := x.block.Time + seconds; until > st.JailedUntil {
		st.JailedUntil = until
	}
	x.emit(event("jail", "staker", st.Address.String(), "until", uint64Str(st.JailedUntil)))
}

// tombstone bans st for good: jailed, never to be unjailed, staked with or delegated to.
func (x *exec) tombstone(st *Staker) {
	if !st.Tombstoned {
		st.Tombstoned = true
		st.Jailed = true
		x.emit(event("tombstone", "staker", st.Address.String()))
	}
}

// handleMisbehavior punishes consensus faults proven by evidence. Each new piece of evidence
// (a validator at a height; the same infraction is punished once, whatever number of times
// its evidence is committed) slashes DoubleSignSlashBps of the stake at the evidence's
// height, takes DoubleSignReputationDn reputation, jails and tombstones the validator.
//
// The coordinated attack rule. The offenders at one height are tallied with the voting power
// the evidence reports for each and the total voting power of that height. When the
// offenders at a height together hold more than a third of it, that is a coordinated attack:
// a third is what it takes to break the chain's safety (a fork, or a light client fooled), so
// no accident of one operator reaches it. Every offender at that height, the earlier ones
// included and any that arrive later, is then slashed 100% of its stake at that height, the
// unbonding entries that left since included. A light-client attack that fools a light client
// needs that power by construction, so it always qualifies once its evidence is in.
func (x *exec) handleMisbehavior() error {
	for _, m := range x.block.Misbehavior {
		seen := evidenceKey(m.ConsAddress, m.Height)
		prior, err := x.st.kv.Get(seen)
		if err != nil {
			return err
		}
		if prior != nil {
			continue
		}
		if err := x.st.kv.Set(seen, []byte{byte(m.Kind)}); err != nil {
			return err
		}
		h := uint64(max(m.Height, 0))
		tally, crossed, err := x.tallyFault(h, m)
		if err != nil {
			return err
		}
		st, err := x.stakerByCons(m.ConsAddress)
		if err != nil {
			return err
		}
		if st != nil && !st.Tombstoned {
			reason := "double_sign"
			if m.Kind == LightClientAttack {
				reason = "light_client_attack"
			}
			fraction := x.params.DoubleSignSlashBps
			if tally.Coordinated {
				fraction, reason = coordinatedAttackBps, "coordinated_attack"
			}
			if _, err := x.slashAtHeight(st, fraction, h, reason); err != nil {
				return err
			}
			x.jail(st, x.params.DoubleSignJailSeconds)
			x.tombstone(st)
			x.adjustReputation(st, -x.params.DoubleSignReputationDn)
			if err := x.st.setStaker(st); err != nil {
				return err
			}
			if err := x.st.kv.Delete(signingKey(st.Address)); err != nil {
				return err
			}
		}
		if crossed {
			if err := x.punishCoordinated(h, m.ConsAddress); err != nil {
				return err
			}
		}
	}
	return nil
}

// tallyFault adds m's offender to the tally of height h. crossed reports that this evidence
// took the offenders past a third of the height's voting power.
func (x *exec) tallyFault(h uint64, m Misbehavior) (tally *FaultTally, crossed bool, err error) {
	tally = &FaultTally{}
	b, err := x.st.kv.Get(faultHeightKey(h))
	if err != nil {
		return nil, false, err
	}
	if b != nil {
		if tally, err = decodeFaultTally(b); err != nil {
			return nil, false, err
		}
	}
	if err := x.st.kv.Set(faultAtKey(h, m.ConsAddress), []byte{byte(m.Kind)}); err != nil {
		return nil, false, err
	}
	// Powers are CometBFT's, at most MaxInt64/8 in total, so the sum fits in a uint64.
	tally.Power += uint64(max(m.Power, 0))
	tally.TotalPower = max(tally.TotalPower, uint64(max(m.TotalPower, 0)))
	was := tally.Coordinated
	// Power × 3 ≤ 3 × MaxInt64/8 < 2^64.
	if tally.TotalPower > 0 && tally.Power*3 > tally.TotalPower {
		tally.Coordinated = true
	}
	if err := x.st.kv.Set(faultHeightKey(h), tally.encode()); err != nil {
		return nil, false, err
	}
	return tally, tally.Coordinated && !was, nil
}

// punishCoordinated slashes 100% of the stake at height h of every earlier offender at h:
// the evidence that crossed the third (except) has been slashed 100% already.
func (x *exec) punishCoordinated(h uint64, except []byte) error {
	prefix := binary.BigEndian.AppendUint64([]byte{prefixFaultAt}, h)
	var offenders [][]byte
	err := iteratePrefix(x.st.kv, prefix, func(k, _ []byte) bool {
		if cons := k[len(prefix):]; !bytes.Equal(cons, except) {
			offenders = append(offenders, append([]byte(nil), cons...))
		}
		return true
	})
	if err != nil {
		return err
	}
	x.emit(event("coordinated_attack", "height", uint64Str(h), "offenders", uint64Str(uint64(len(offenders)+1))))
	for _, cons := range offenders {
		st, err := x.stakerByCons(cons)
		if err != nil {
			return err
		}
		if st == nil {
			continue
		}
		if _, err := x.slashAtHeight(st, coordinatedAttackBps, h, "coordinated_attack"); err != nil {
			return err
		}
		x.tombstone(st)
		if err := x.st.setStaker(st); err != nil {
			return err
		}
	}
	return nil
}

// maxMissed is how many blocks of the window a validator may miss before it is jailed.
func maxMissed(p Params) uint32 {
	minSigned := uint64(p.SignedBlocksWindow) * p.MinSignedBps / 10_000
	return p.SignedBlocksWindow - uint32(minSigned)
}

// countDowntime records each last-commit vote in its validator's ring of recent blocks. A
// validator that has been observed for a whole window and missed more than maxMissed of it is
// slashed DowntimeSlashBps, jailed for DowntimeJailSeconds and loses DowntimeReputationDn.
func (x *exec) countDowntime() error {
	window := uint64(x.params.SignedBlocksWindow)
	for _, v := range x.block.Votes {
		st, err := x.stakerByCons(v.ConsAddress)
		if err != nil {
			return err
		}
		if st == nil || st.Jailed || st.Tombstoned {
			continue // a jailed validator still votes until its removal takes effect at H+2
		}
		info, err := x.signingInfo(st.Address)
		if err != nil {
			return err
		}
		idx := info.Counter % window
		byteIdx, bit := idx/8, byte(1)<<(idx%8)
		wasMissed := info.Bitmap[byteIdx]&bit != 0
		missed := !v.Signed
		switch {
		case missed && !wasMissed:
			info.Bitmap[byteIdx] |= bit
			info.Missed++
		case !missed && wasMissed:
			info.Bitmap[byteIdx] &^= bit
			info.Missed--
		}
		info.Counter++
		if info.Counter >= window && info.Missed > maxMissed(x.params) {
			if _, err := x.slash(st, x.params.DowntimeSlashBps, "downtime"); err != nil {
				return err
			}
			x.jail(st, x.params.DowntimeJailSeconds)
			x.adjustReputation(st, -x.params.DowntimeReputationDn)
			if err := x.st.setStaker(st); err != nil {
				return err
			}
			if err := x.st.kv.Delete(signingKey(st.Address)); err != nil {
				return err
			}
			continue
		}
		if err := x.st.kv.Set(signingKey(st.Address), info.encode()); err != nil {
			return err
		}
	}
	return nil
}

func (x *exec) signingInfo(a Address) (*SigningInfo, error) {
	window := int(x.params.SignedBlocksWindow)
	b, err := x.st.kv.Get(signingKey(a))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return &SigningInfo{Bitmap: make([]byte, (window+7)/8)}, nil
	}
	info, err := decodeSigningInfo(b)
	if err != nil {
		return nil, err
	}
	if len(info.Bitmap) != (window+7)/8 {
		// The window parameter changed: start counting afresh rather than misread old bits.
		return &SigningInfo{Bitmap: make([]byte, (window+7)/8)}, nil
	}
	return info, nil
}

func (x *exec) unjail(sender Address) error {
	st, err := x.st.staker(sender)
	if err != nil {
		return err
	}
	switch {
	case st == nil:
		return Errorf(CodeNotFound, "%s is not a staker", sender)
	case st.Tombstoned:
		return Errorf(CodeTombstoned, "staker %s is banned for good and cannot be unjailed", sender)
	case !st.Jailed:
		return Errorf(CodeNotJailed, "staker %s is not jailed", sender)
	case x.block.Time < st.JailedUntil:
		return Errorf(CodeTooEarly, "staker %s stays jailed until block time %d, %d s from now", sender, st.JailedUntil, st.JailedUntil-x.block.Time)
	}
	st.Jailed = false
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	if err := x.st.kv.Delete(signingKey(sender)); err != nil {
		return err
	}
	x.emit(event("unjail", "staker", sender.String()))
	return nil
}

// GraduatedPenalty computes the graduated penalty of docs/protocol.md for a fault of severity sev with a history
// multiplier:
//
//	P = S_base × (1 + sev² / (1 − sev)) × history,   S_base = 5% of stake
//
// in fixed point: sevBps is sev in basis points (0..9000), historyBps is history in basis
// points (10000..30000). With s = sevBps and h = historyBps,
//
//	P = floor(stake × 500 × (10000 + floor(s² / (10000 − s))) × h / 10000³)
//
// Both divisions round down, in the offender's favour by less than one unit per division; the
// result is capped at the stake.
func GraduatedPenalty(stake *uint256.Int, sevBps, historyBps uint64) (*uint256.Int, error) {
	if sevBps > 9000 {
		return nil, Errorf(CodeInvalidArgument, "severity %d bps is above 9000 (0.9)", sevBps)
	}
	if historyBps < 10_000 || historyBps > 30_000 {
		return nil, Errorf(CodeInvalidArgument, "history %d bps is outside 10000..30000 (1.0..3.0)", historyBps)
	}
	factor := 10_000 + sevBps*sevBps/(10_000-sevBps)        // ≤ 10000 + 81e6/1000 = 91000
	multiplier := uint256.NewInt(500 * factor * historyBps) // ≤ 500 × 91000 × 30000 < 2^41
	p, err := checkedMulDiv(stake, multiplier, uint256.NewInt(1_000_000_000_000))
	if err != nil {
		return nil, err
	}
	if p.Gt(stake) {
		p = clone(stake)
	}
	return p, nil
}
