package contracts

import "github.com/holiman/uint256"

// The CIRO ledger: balances, transfers, burns, fees and the treasury.

func (x *exec) credit(to Address, amount *uint256.Int) error {
	acc, err := x.st.account(to)
	if err != nil {
		return err
	}
	if err := addTo(acc.Balance, amount); err != nil {
		return err
	}
	return x.st.setAccount(to, acc)
}

func (x *exec) debit(from Address, amount *uint256.Int) error {
	acc, err := x.st.account(from)
	if err != nil {
		return err
	}
	if acc.Balance.Lt(amount) {
		return Errorf(CodeInsufficientFunds, "the balance is %s, but %s is needed", FormatCIRO(acc.Balance), FormatCIRO(amount))
	}
	if err := subFrom(acc.Balance, amount); err != nil {
		return err
	}
	return x.st.setAccount(from, acc)
}

func (x *exec) transfer(from, to Address, amount *uint256.Int) error {
	if err := x.debit(from, amount); err != nil {
		return err
	}
	if err := x.credit(to, amount); err != nil {
		return err
	}
	x.emit(event("transfer", "from", from.String(), "to", to.String(), "amount", amount.Dec()))
	return nil
}

// recordBurn counts amount as destroyed. The caller has already taken it from wherever it was.
func (x *exec) recordBurn(amount *uint256.Int) error {
	if amount.IsZero() {
		return nil
	}
	sup, err := x.st.supply()
	if err != nil {
		return err
	}
	if err := addTo(sup.Burned, amount); err != nil {
		return err
	}
	return x.st.setSupply(sup)
}

func (x *exec) burn(from Address, amount *uint256.Int) error {
	if err := x.debit(from, amount); err != nil {
		return err
	}
	if err := x.recordBurn(amount); err != nil {
		return err
	}
	x.emit(event("burn", "from", from.String(), "amount", amount.Dec()))
	return nil
}

// splitBurnTreasury burns floor(amount × burnBps / 10000) and credits the rest to the treasury.
// Rounding down the burned part sends the odd unit to the treasury, so nothing is lost.
func (x *exec) splitBurnTreasury(amount *uint256.Int, burnBps uint64) error {
	burned := bps(amount, burnBps)
	if err := x.recordBurn(burned); err != nil {
		return err
	}
	rest, err := checkedSub(amount, burned)
	if err != nil {
		return err
	}
	if rest.IsZero() {
		return nil
	}
	return x.credit(TreasuryAddress, rest)
}

func (x *exec) collectFee(from Address, fee *uint256.Int) error {
	if fee.IsZero() {
		return nil
	}
	if err := x.debit(from, fee); err != nil {
		return err
	}
	return x.splitBurnTreasury(fee, x.params.FeeBurnBps)
}

// mint creates amount on to's balance, within the hard cap. Genesis mints this way; epoch
// rewards mint into staking pools through recordMint.
func (x *exec) mint(to Address, amount *uint256.Int) error {
	if err := x.recordMint(amount); err != nil {
		return err
	}
	return x.credit(to, amount)
}

// recordMint counts amount as created, refusing to pass the hard cap. The caller puts it
// somewhere the supply invariant counts.
func (x *exec) recordMint(amount *uint256.Int) error {
	sup, err := x.st.supply()
	if err != nil {
		return err
	}
	total, err := checkedAdd(sup.Minted, amount)
	if err != nil || total.Gt(HardCap) {
		return Errorf(CodeSupplyCap, "minting %s would pass the hard cap of %s", FormatCIRO(amount), FormatCIRO(HardCap))
	}
	sup.Minted = total
	return x.st.setSupply(sup)
}
