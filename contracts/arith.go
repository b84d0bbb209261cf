package contracts

import "github.com/holiman/uint256"

// Checked 256-bit arithmetic. Every amount, share count and supply counter in contracts/ is
// added, subtracted and multiplied through these helpers, so that no value ever wraps modulo
// 2^256: a result that does not fit is an error with the stable code CodeOverflow, which
// rejects the transaction (DeliverTx drops its writes) or, in BeginBlock and EndBlock, stops
// the block before a wrong state is committed. Subtraction below zero is an overflow too.

// overflow builds the error for an arithmetic result that does not fit in 256 bits.
func overflow(op string) error {
	return Errorf(CodeOverflow, "an amount is out of range: the %s does not fit in 256 bits", op)
}

// checkedAdd returns a + b in a new integer.
func checkedAdd(a, b *uint256.Int) (*uint256.Int, error) {
	v, over := new(uint256.Int).AddOverflow(a, b)
	if over {
		return nil, overflow("sum")
	}
	return v, nil
}

// checkedSub returns a − b in a new integer; b > a is an error.
func checkedSub(a, b *uint256.Int) (*uint256.Int, error) {
	v, under := new(uint256.Int).SubOverflow(a, b)
	if under {
		return nil, Errorf(CodeOverflow, "an amount is out of range: %s − %s is below zero", a.Dec(), b.Dec())
	}
	return v, nil
}

// checkedMul returns a × b in a new integer.
func checkedMul(a, b *uint256.Int) (*uint256.Int, error) {
	v, over := new(uint256.Int).MulOverflow(a, b)
	if over {
		return nil, overflow("product")
	}
	return v, nil
}

// checkedMulDiv returns floor(x × y / d) with a 512-bit intermediate, an error when the
// quotient does not fit in 256 bits or d is zero.
func checkedMulDiv(x, y, d *uint256.Int) (*uint256.Int, error) {
	if d.IsZero() {
		return nil, Errorf(CodeOverflow, "an amount is out of range: division by zero")
	}
	v, over := mulDiv(x, y, d)
	if over {
		return nil, overflow("quotient")
	}
	return v, nil
}

// addTo sets *dst to dst + v, leaving dst unchanged on overflow.
func addTo(dst, v *uint256.Int) error {
	s, err := checkedAdd(dst, v)
	if err != nil {
		return err
	}
	dst.Set(s)
	return nil
}

// subFrom sets *dst to dst − v, leaving dst unchanged when v > dst.
func subFrom(dst, v *uint256.Int) error {
	s, err := checkedSub(dst, v)
	if err != nil {
		return err
	}
	dst.Set(s)
	return nil
}
