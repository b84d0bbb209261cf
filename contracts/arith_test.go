package contracts

import (
	"errors"
	"testing"

	"github.com/holiman/uint256"
)

func TestCheckedArithmetic(t *testing.T) {
	top := new(uint256.Int).SetAllOne()
	cases := []struct {
		name string
		f    func() (*uint256.Int, error)
		want *uint256.Int // nil: an overflow
	}{
		{"add", func() (*uint256.Int, error) { return checkedAdd(u(2), u(3)) }, u(5)},
		{"add past 2^256", func() (*uint256.Int, error) { return checkedAdd(top, u(1)) }, nil},
		{"sub", func() (*uint256.Int, error) { return checkedSub(u(5), u(3)) }, u(2)},
		{"sub below zero", func() (*uint256.Int, error) { return checkedSub(u(3), u(5)) }, nil},
		{"mul", func() (*uint256.Int, error) { return checkedMul(u(6), u(7)) }, u(42)},
		{"mul past 2^256", func() (*uint256.Int, error) { return checkedMul(top, u(2)) }, nil},
		{"muldiv through 512 bits", func() (*uint256.Int, error) { return checkedMulDiv(top, u(3), u(3)) }, top},
		{"muldiv past 2^256", func() (*uint256.Int, error) { return checkedMulDiv(top, u(3), u(2)) }, nil},
		{"muldiv by zero", func() (*uint256.Int, error) { return checkedMulDiv(u(1), u(1), u(0)) }, nil},
	}
	for _, c := range cases {
		got, err := c.f()
		switch {
		case c.want == nil && !errors.Is(err, ErrOverflow):
			t.Errorf("%s: got %v, %v; want an overflow", c.name, got, err)
		case c.want != nil && (err != nil || !got.Eq(c.want)):
			t.Errorf("%s: got %v, %v; want %s", c.name, got, err, c.want.Dec())
		}
	}
	// addTo and subFrom leave their target alone when they fail.
	v := clone(top)
	if err := addTo(v, u(1)); !errors.Is(err, ErrOverflow) || !v.Eq(top) {
		t.Fatalf("addTo past 2^256: %v, left %s", err, v.Dec())
	}
	v = u(3)
	if err := subFrom(v, u(4)); !errors.Is(err, ErrOverflow) || !v.Eq(u(3)) {
		t.Fatalf("subFrom below zero: %v, left %s", err, v.Dec())
	}
}

func TestSharePriceCollapsed(t *testing.T) {
	cases := []struct {
		tokens, shares *uint256.Int
		want           bool
	}{
		{u(1000), u(1000), false},
		{u(1), u(maxSharesPerToken), false},
		{u(1), u(maxSharesPerToken + 1), true},
		{u(9), CIRO(675), true},
		{new(uint256.Int).SetAllOne(), new(uint256.Int).SetAllOne(), false}, // the bound's product overflows: not collapsed
	}
	for _, c := range cases {
		if got := sharePriceCollapsed(&Staker{Tokens: c.tokens, Shares: c.shares}); got != c.want {
			t.Errorf("tokens %s shares %s: collapsed %v, want %v", c.tokens.Dec(), c.shares.Dec(), got, c.want)
		}
	}
}
