package contracts

import (
	"encoding/hex"
	"fmt"

	"github.com/holiman/uint256"
)

func hexStr(b []byte) string { return hex.EncodeToString(b) }

// Slashing: consensus faults proven by evidence, and downtime counted from the last commit.
// Slashed stake leaves the pool; SlashBurnBps of it is burned and the rest goes to the
// treasury, so the supply invariant holds. Unbonding entries are not slashed: stake that left
// before the evidence arrived has left (a known simplification, written down in
// docs/architecture.md).

// slash takes floor(tokens × fractionBps / 10000) from the staker's pool and records it.
func (x *exec) slash(st *Staker, fractionBps uint64, reason string) (*uint256.Int, error) {
	amount := bps(st.Tokens, fractionBps)
	return amount, x.slashAmount(st, amount, reason)
}

func (x *exec) slashAmount(st *Staker, amount *uint256.Int, reason string) error {
	if amount.Gt(st.Tokens) {
		amount = clone(st.Tokens)
	}
	if err := subFrom(st.Tokens, amount); err != nil {
		return err
	}
	st.Slashes++
	if err := x.splitBurnTreasury(amount, x.params.SlashBurnBps); err != nil {
		return err
	}
	x.emit(event("slash", "staker", st.Address.String(), "reason", reason, "amount", amount.Dec(),
		"height", fmt.Sprint(x.block.Height)))
	return nil
}

func (x *exec) jail(st *Staker, seconds uint64) {
	st.Jailed = true
	if until := x.block.Time + seconds; until > st.JailedUntil {
		st.JailedUntil = until
	}
	x.emit(event("jail", "staker", st.Address.String(), "until", uint64Str(st.JailedUntil)))
}

// handleMisbehavior slashes DoubleSignSlashBps, jails for DoubleSignJailSeconds and takes
// DoubleSignReputationDn reputation for each new piece of evidence. The same infraction is
// punished once, whatever number of times its evidence is committed.
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
		st, err := x.stakerByCons(m.ConsAddress)
		if err != nil {
			return err
		}
		if st == nil || st.Tombstoned {
			continue
		}
		reason := "double_sign"
		if m.Kind == LightClientAttack {
			reason = "light_client_attack"
		}
		if _, err := x.slash(st, x.params.DoubleSignSlashBps, reason); err != nil {
			return err
		}
		x.jail(st, x.params.DoubleSignJailSeconds)
		x.adjustReputation(st, -x.params.DoubleSignReputationDn)
		if err := x.st.setStaker(st); err != nil {
			return err
		}
		if err := x.st.kv.Delete(signingKey(st.Address)); err != nil {
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

// GraduatedPenalty computes SPEC.md's penalty for a fault of severity sev with a history
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
