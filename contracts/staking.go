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
	default:
		var overflow bool
		minted, overflow = mulDiv(amount, st.Shares, st.Tokens)
		if overflow {
			return Errorf(CodeInvalidArgument, "the amount is out of range")
		}
	}
	if minted.IsZero() {
		return Errorf(CodeInvalidArgument, "the amount is too small to buy a share of staker %s", stakerAddr)
	}
	if err := x.debit(delegator, amount); err != nil {
		return err
	}
	held, err := x.st.shares(stakerAddr, delegator)
	if err != nil {
		return err
	}
	st.Tokens.Add(st.Tokens, amount)
	st.Shares.Add(st.Shares, minted)
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	if err := x.st.setShares(stakerAddr, delegator, held.Add(held, minted)); err != nil {
		return err
	}
	x.emit(event("delegate", "delegator", delegator.String(), "staker", stakerAddr.String(), "amount", amount.Dec()))
	return nil
}

// stakeOf is the value of delegator's shares in st.
func stakeOf(st *Staker, shares *uint256.Int) *uint256.Int {
	if st.Shares.IsZero() {
		return zero()
	}
	v, _ := mulDiv(shares, st.Tokens, st.Shares)
	return v
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
	value := stakeOf(st, held)
	if held.IsZero() || amount.Gt(value) {
		return Errorf(CodeInsufficientFunds, "%s has %s staked with %s, less than %s", delegator, FormatCIRO(value), stakerAddr, FormatCIRO(amount))
	}
	tier := TierFor(st.Tokens, x.params.CIROPriceMicroUSD)
	var burnShares, out *uint256.Int
	if amount.Lt(value) {
		// ceil(amount × S / T)
		num, _ := mulDiv(amount, st.Shares, st.Tokens)
		check, _ := mulDiv(num, st.Tokens, st.Shares)
		if check.Lt(amount) {
			num.AddUint64(num, 1)
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
	st.Tokens.Sub(st.Tokens, out)
	st.Shares.Sub(st.Shares, burnShares)
	if err := x.st.setStaker(st); err != nil {
		return err
	}
	if err := x.st.setShares(stakerAddr, delegator, held.Sub(held, burnShares)); err != nil {
		return err
	}
	completes := x.block.Time + x.params.UnbondingSeconds[tier]
	seq, err := x.st.nextSeq("unbonding")
	if err != nil {
		return err
	}
	u := &Unbonding{Delegator: delegator, Staker: stakerAddr, Amount: out, CompletesAt: completes}
	if err := x.st.kv.Set(unbondingKey(completes, seq), u.encode()); err != nil {
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
		if err := x.credit(d.u.Delegator, d.u.Amount); err != nil {
			return err
		}
		x.emit(event("unbond_complete", "delegator", d.u.Delegator.String(), "amount", d.u.Amount.Dec()))
	}
	return nil
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
