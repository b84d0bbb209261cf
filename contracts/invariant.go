package contracts

import (
	"fmt"

	"github.com/holiman/uint256"
)

// SupplyReport is the supply invariant's ledger: where every minted unit is.
type SupplyReport struct {
	Minted    *uint256.Int `json:"minted"`
	Burned    *uint256.Int `json:"burned"`
	Balances  *uint256.Int `json:"balances"` // the treasury's included
	Treasury  *uint256.Int `json:"treasury"`
	Staked    *uint256.Int `json:"staked"`
	Unbonding *uint256.Int `json:"unbonding"`
	Escrow    *uint256.Int `json:"escrow"`   // locked in open jobs
	Earnings  *uint256.Int `json:"earnings"` // providers' unwithdrawn earnings
}

// Held is everything not burned: balances, stakes, unbonding entries, escrow and earnings. The
// sum is checked: a total past 2^256 is an overflow error, never a wrapped number that could
// happen to match what was minted.
func (r *SupplyReport) Held() (*uint256.Int, error) {
	h := zero()
	for _, v := range []*uint256.Int{r.Balances, r.Staked, r.Unbonding, r.Escrow, r.Earnings} {
		if err := addTo(h, v); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// CheckSupply verifies the invariant that holds after every block:
//
//	balances + stakes + unbonding + escrow + earnings + burned = minted ≤ hard cap
//
// It reads the whole state, so nodes run it in tests and on demand, not on every block.
func CheckSupply(kv KV) (*SupplyReport, error) {
	st := state{kv: kv}
	sup, err := st.supply()
	if err != nil {
		return nil, err
	}
	r := &SupplyReport{Minted: sup.Minted, Burned: sup.Burned, Balances: zero(), Treasury: zero(), Staked: zero(), Unbonding: zero(), Escrow: zero(), Earnings: zero()}
	var decodeErr, sumErr error
	sum := func(total *uint256.Int, decode func([]byte) (*uint256.Int, error)) func(k, v []byte) bool {
		return func(_, v []byte) bool {
			a, err := decode(v)
			if err != nil {
				decodeErr = err
				return false
			}
			if err := addTo(total, a); err != nil {
				sumErr = err
				return false
			}
			return true
		}
	}
	steps := []struct {
		prefix byte
		total  *uint256.Int
		decode func([]byte) (*uint256.Int, error)
	}{
		{prefixAccount, r.Balances, func(v []byte) (*uint256.Int, error) { a, err := DecodeAccount(v); return accBal(a), err }},
		{prefixStaker, r.Staked, func(v []byte) (*uint256.Int, error) { s, err := DecodeStaker(v); return stTok(s), err }},
		{prefixUnbonding, r.Unbonding, func(v []byte) (*uint256.Int, error) { u, err := decodeUnbonding(v); return ubAmt(u), err }},
		{prefixJob, r.Escrow, func(v []byte) (*uint256.Int, error) {
			j, err := DecodeJob(v)
			if err != nil {
				return nil, err
			}
			return j.Escrow, nil
		}},
		{prefixProvider, r.Earnings, func(v []byte) (*uint256.Int, error) {
			p, err := DecodeProvider(v)
			if err != nil {
				return nil, err
			}
			return p.Earnings, nil
		}},
	}
	for _, s := range steps {
		if err := iteratePrefix(kv, []byte{s.prefix}, sum(s.total, s.decode)); err != nil {
			return nil, err
		}
		if decodeErr != nil {
			return nil, decodeErr
		}
		if sumErr != nil {
			return r, fmt.Errorf("supply invariant broken: a total passes 2^256: %w", sumErr)
		}
	}
	treasury, err := st.account(TreasuryAddress)
	if err != nil {
		return nil, err
	}
	r.Treasury = treasury.Balance
	held, err := r.Held()
	if err != nil {
		return r, fmt.Errorf("supply invariant broken: what is held passes 2^256: %w", err)
	}
	accounted, err := checkedAdd(held, r.Burned)
	if err != nil {
		return r, fmt.Errorf("supply invariant broken: held plus burned passes 2^256: %w", err)
	}
	if !accounted.Eq(r.Minted) {
		return r, fmt.Errorf("supply invariant broken: balances %s + staked %s + unbonding %s + escrow %s + earnings %s + burned %s = %s, but %s was minted",
			r.Balances.Dec(), r.Staked.Dec(), r.Unbonding.Dec(), r.Escrow.Dec(), r.Earnings.Dec(), r.Burned.Dec(), accounted.Dec(), r.Minted.Dec())
	}
	if r.Minted.Gt(HardCap) {
		return r, fmt.Errorf("supply invariant broken: %s minted, above the hard cap", r.Minted.Dec())
	}
	return r, nil
}

func accBal(a *Account) *uint256.Int {
	if a == nil {
		return zero()
	}
	return a.Balance
}

func stTok(s *Staker) *uint256.Int {
	if s == nil {
		return zero()
	}
	return s.Tokens
}

func ubAmt(u *Unbonding) *uint256.Int {
	if u == nil {
		return zero()
	}
	return u.Amount
}
