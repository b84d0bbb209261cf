package contracts

import (
	"bytes"
	"crypto/ed25519"

	"github.com/holiman/uint256"
)

// Staking: providers and validators bond CIRO into a pool; delegators own shares of a pool.
// A slash lowers the pool's tokens and so every share's value, the staker's own included.
//
// Share arithmetic, all floors unless noted:
//   - delegating a into a pool of T tokens and S shares mints a×S/T shares (a when S is 0);
//   - a delegator's stake is its shares × T / S;
//   - undelegating a burns ceil(a×S/T) shares, rounding against the leaver, so the pool never
//     pays out more than the shares were worth; when that is every share the holder has, the
//     holder takes their whole value instead (epoch rewards lift a share above one unit, so a
//     partial exit can round up to all of them); the last shares out take every remaining
//     token.
//
// Epoch rewards (rewards.go) add to a pool's tokens and leave its shares alone, so every
// holder's stake grows with the share price.

func (x *exec) stake(sender Address, m *Stake) error {
	st, err := x.st.staker(sender)
	if err != nil {
		return err
	}
	if st == nil {
		st = &Staker{
			Address:    sender,
			Tokens:     zero(),
			Shares:     zero(),
			Reputation: x.params.InitialReputation,
		}
	}
	if st.Tombstoned {
		return Errorf(CodeTombstoned, "staker %s is banned for good and cannot stake again", sender)
	}
	if len(m.ConsPubKey) != 0 {
		if len(st.ConsPubKey) != 0 && !bytes.Equal(st.ConsPubKey, m.ConsPubKey) {
			return Errorf(CodeInvalidArgument, "staker %s already validates with another consensus key; key rotation is not supported", sender)
		}
		if len(st.ConsPubKey) == 0 {
			consAddr := AddressOf(ed25519.PublicKey(m.ConsPubKey))
			owner, err := x.st.kv.Get(consIndexKey(consAddr[:]))
			if err != nil {
				return err
			}
			if owner != nil {
				return Errorf(CodeInvalidArgument, "the consensus key is already used by staker %x", owner)
			}
			if err := x.st.kv.Set(consIndexKey(consAddr[:]), sender[:]); err != nil {
				return err
			}
			st.ConsPubKey = append([]byte(nil), m.ConsPubKey...)
		}
	}
	st.Roles |= m.Roles
	if m.Moniker != "" {
		st.Moniker = m.Moniker
	}
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	return x.delegate(sender, sender, m.Amount)
}

func (x *exec) delegate(delegator, stakerAddr Address, amount *uint256.Int) error {
	st, err := x.st.staker(stakerAddr)
	if err != nil {
		return err
	}
	if st == nil {
		return Errorf(CodeNotFound, "no staker %s", stakerAddr)
	}
	if st.Tombstoned {
		return Errorf(CodeTombstoned, "staker %s is banned for good", stakerAddr)
	}
	var minted *uint256.Int
	switch {
	case st.Shares.IsZero():
		minted = clone(amount)
	case st.Tokens.IsZero():
		return Errorf(CodeInvalidArgument, "staker %s has been slashed to zero; its pool takes no delegations", stakerAddr)
	case sharePriceCollapsed(st):
		return Errorf(CodeInvalidArgument, "staker %s has been slashed to under 1/%d of its shares' first value; its pool takes no delegations", stakerAddr, maxSharesPerToken)
	default:
		if minted, err = checkedMulDiv(amount, st.Shares, st.Tokens); err != nil {
			return err
		}
	}
	if minted.IsZero() {
		return Errorf(CodeInvalidArgument, "the amount is too small to buy a share of staker %s", stakerAddr)
	}
	tokens, err := checkedAdd(st.Tokens, amount)
	if err != nil {
		return err
	}
	shares, err := checkedAdd(st.Shares, minted)
	if err != nil {
		return err
	}
	held, err := x.st.shares(stakerAddr, delegator)
	if err != nil {
		return err
	}
	if held, err = checkedAdd(held, minted); err != nil {
		return err
	}
	if err := x.debit(delegator, amount); err != nil {
		return err
	}
	st.Tokens, st.Shares = tokens, shares
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	if err := x.st.setShares(stakerAddr, delegator, held); err != nil {
		return err
	}
	x.emit(event("delegate", "delegator", delegator.String(), "staker", stakerAddr.String(), "amount", amount.Dec()))
	return nil
}

// maxSharesPerToken bounds a pool's shares per token unit. A pool starts at one share per unit;
// slashes lower its tokens and leave its shares, so the ratio only grows past this bound once
// the pool has lost all but a millionth of its shares' first value. Such a pool takes no
// delegations: a delegation mints amount × shares / tokens, and at a collapsed price that is
// an absurd number of shares, whose sum passes 2^256 after a few rounds of slashes (Cosmos SDK
// refuses a validator whose exchange rate is invalid for the same reason). With the bound,
// every delegation leaves shares ≤ maxSharesPerToken × tokens ≤ 10^6 × the hard cap < 2^110.
const maxSharesPerToken = 1_000_000

// sharePriceCollapsed reports whether st's shares exceed maxSharesPerToken per token unit.
func sharePriceCollapsed(st *Staker) bool {
	limit, over := new(uint256.Int).MulOverflow(st.Tokens, uint256.NewInt(maxSharesPerToken))
	return !over && st.Shares.Gt(limit)
}

// stakeOf is the value of delegator's shares in st: shares × tokens / total shares. shares ≤
// total shares, so the quotient is at most tokens and cannot overflow.
func stakeOf(st *Staker, shares *uint256.Int) (*uint256.Int, error) {
	if st.Shares.IsZero() {
		return zero(), nil
	}
	return checkedMulDiv(shares, st.Tokens, st.Shares)
}

func (x *exec) undelegate(delegator, stakerAddr Address, amount *uint256.Int) error {
	st, err := x.st.staker(stakerAddr)
	if err != nil {
		return err
	}
	if st == nil {
		return Errorf(CodeNotFound, "no staker %s", stakerAddr)
	}
	held, err := x.st.shares(stakerAddr, delegator)
	if err != nil {
		return err
	}
	value, err := stakeOf(st, held)
	if err != nil {
		return err
	}
	if held.IsZero() || amount.Gt(value) {
		return Errorf(CodeInsufficientFunds, "%s has %s staked with %s, less than %s", delegator, FormatCIRO(value), stakerAddr, FormatCIRO(amount))
	}
	tier := TierFor(st.Tokens, x.params.CIROPriceMicroUSD)
	var burnShares, out *uint256.Int
	if amount.Lt(value) {
		// ceil(amount × S / T); amount < value ≤ T, so the floor is below S.
		num, err := checkedMulDiv(amount, st.Shares, st.Tokens)
		if err != nil {
			return err
		}
		check, err := checkedMulDiv(num, st.Tokens, st.Shares)
		if err != nil {
			return err
		}
		if check.Lt(amount) {
			if num, err = checkedAdd(num, uint256.NewInt(1)); err != nil {
				return err
			}
		}
		burnShares, out = num, clone(amount)
	}
	if burnShares == nil || !burnShares.Lt(held) {
		// A full exit, or a partial one whose rounded-up shares are all the holder has, which
		// can happen once rewards lift a share above one unit: the holder leaves with its
		// shares' whole value rather than leave tokens behind that no share owns.
		burnShares = clone(held)
		out = clone(value)
		if held.Eq(st.Shares) {
			out = clone(st.Tokens) // the last shares out take the rounding dust with them
		}
	}
	if err := x.checkCollateral(st, out); err != nil {
		return err
	}
	if err := subFrom(st.Tokens, out); err != nil {
		return err
	}
	if err := subFrom(st.Shares, burnShares); err != nil {
		return err
	}
	if err := subFrom(held, burnShares); err != nil {
		return err
	}
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	if err := x.st.setShares(stakerAddr, delegator, held); err != nil {
		return err
	}
	completes := x.block.Time + x.params.UnbondingSeconds[tier]
	seq, err := x.st.nextSeq("unbonding")
	if err != nil {
		return err
	}
	u := &Unbonding{Delegator: delegator, Staker: stakerAddr, Amount: out, CompletesAt: completes,
		Height: x.height(), Seq: seq}
	if err := x.st.kv.Set(unbondingKey(completes, seq), u.encode()); err != nil {
		return err
	}
	if err := x.st.kv.Set(unbondingByStakerKey(stakerAddr, u.Height, seq), unbondingKey(completes, seq)); err != nil {
		return err
	}
	x.emit(event("unbond", "delegator", delegator.String(), "staker", stakerAddr.String(),
		"amount", out.Dec(), "completes_at", uint64Str(completes), "tier", tier.String()))
	return nil
}

// matureUnbondings pays out every unbonding whose cooldown ended at or before the block time.
func (x *exec) matureUnbondings() error {
	type due struct {
		key []byte
		u   *Unbonding
	}
	var list []due
	var decodeErr error
	end := unbondingKey(x.block.Time+1, 0)
	err := x.st.kv.Iterate([]byte{prefixUnbonding}, end, func(k, v []byte) bool {
		u, err := decodeUnbonding(v)
		if err != nil {
			decodeErr = err
			return false
		}
		list = append(list, due{key: append([]byte(nil), k...), u: u})
		return true
	})
	if err != nil {
		return err
	}
	if decodeErr != nil {
		return decodeErr
	}
	for _, d := range list {
		if err := x.st.kv.Delete(d.key); err != nil {
			return err
		}
		if err := x.st.kv.Delete(unbondingByStakerKey(d.u.Staker, d.u.Height, d.u.Seq)); err != nil {
			return err
		}
		if err := x.credit(d.u.Delegator, d.u.Amount); err != nil {
			return err
		}
		x.emit(event("unbond_complete", "delegator", d.u.Delegator.String(), "amount", d.u.Amount.Dec()))
	}
	return nil
}

// height is the current block height; heights before the first block read as 0.
func (x *exec) height() uint64 {
	if x.block.Height < 0 {
		return 0
	}
	return uint64(x.block.Height)
}

func (x *exec) adjustReputation(st *Staker, delta int64) {
	st.Reputation += delta
	if st.Reputation < 0 {
		st.Reputation = 0
	}
	if st.Reputation > x.params.MaxReputation {
		st.Reputation = x.params.MaxReputation
	}
}
