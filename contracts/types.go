package contracts

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/holiman/uint256"
)

// AddressLen is the length of an account address.
const AddressLen = 20

// Address identifies an account: the first 20 bytes of the SHA-256 of its ed25519 public key,
// the same rule CometBFT uses for validator addresses.
type Address [AddressLen]byte

// AddressOf derives the address of an ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address {
	sum := sha256.Sum256(pub)
	var a Address
	copy(a[:], sum[:AddressLen])
	return a
}

// ModuleAddress derives the address of a protocol-owned account (the treasury, say) from its
// name. No private key exists for it.
func ModuleAddress(name string) Address {
	sum := sha256.Sum256([]byte("ciro/module/" + name))
	var a Address
	copy(a[:], sum[:AddressLen])
	return a
}

// TreasuryAddress holds the protocol treasury's balance.
var TreasuryAddress = ModuleAddress("treasury")

// String renders the address as 40 lowercase hex digits.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// IsZero reports whether the address is all zeros.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText renders the address as hex, for JSON.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses hex, with or without a 0x prefix.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAddress parses 40 hex digits, with or without a 0x prefix.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	var a Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != AddressLen {
		return a, Errorf(CodeInvalidArgument, "%q is not an address: want 40 hex digits", s)
	}
	copy(a[:], b)
	return a, nil
}

// Units per CIRO: the token has 18 decimals.
var OneCIRO = uint256.NewInt(1_000_000_000_000_000_000)

// CIRO returns n whole CIRO in the smallest unit.
func CIRO(n uint64) *uint256.Int {
	return new(uint256.Int).Mul(uint256.NewInt(n), OneCIRO)
}

// HardCap is the most CIRO that can ever be minted: 1,000,000,000 CIRO.
var HardCap = CIRO(1_000_000_000)

// ParseAmount reads an amount given either in the smallest unit ("1500") or in CIRO with a
// suffix ("1.5ciro"). Fractions beyond 18 decimals are refused rather than rounded.
func ParseAmount(s string) (*uint256.Int, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if whole, ok := strings.CutSuffix(s, "ciro"); ok {
		whole = strings.TrimSpace(whole) // "1.5 CIRO", as FormatCIRO writes it
		intPart, frac, _ := strings.Cut(whole, ".")
		if len(frac) > 18 {
			return nil, Errorf(CodeInvalidArgument, "%q has more than 18 decimals", s)
		}
		frac += strings.Repeat("0", 18-len(frac))
		digits := strings.TrimLeft(intPart+frac, "0")
		if digits == "" {
			digits = "0"
		}
		s = digits
	}
	v := new(uint256.Int)
	if err := v.SetFromDecimal(s); err != nil {
		return nil, Errorf(CodeInvalidArgument, "%q is not an amount: %v", s, err)
	}
	return v, nil
}

// FormatCIRO renders an amount in CIRO with up to 18 decimals, trailing zeros trimmed.
func FormatCIRO(a *uint256.Int) string {
	q, r := new(uint256.Int), new(uint256.Int)
	q.DivMod(a, OneCIRO, r)
	if r.IsZero() {
		return q.Dec() + " CIRO"
	}
	frac := r.Dec()
	frac = strings.Repeat("0", 18-len(frac)) + frac
	return q.Dec() + "." + strings.TrimRight(frac, "0") + " CIRO"
}

// mulDiv returns floor(x*y/d) with a 512-bit intermediate; d must be non-zero. The second
// result reports overflow of the quotient past 256 bits.
func mulDiv(x, y, d *uint256.Int) (*uint256.Int, bool) {
	return new(uint256.Int).MulDivOverflow(x, y, d)
}

// bps returns floor(amount × basisPoints / 10000), a fraction of amount. Every caller passes a
// share that Params.Validate keeps within 10000; a larger one is taken as 10000, the whole
// amount, so that the result never exceeds amount and the quotient always fits in 256 bits.
func bps(amount *uint256.Int, basisPoints uint64) *uint256.Int {
	v, _ := mulDiv(amount, uint256.NewInt(min(basisPoints, 10_000)), uint256.NewInt(10_000)) // ≤ amount
	return v
}

func zero() *uint256.Int { return new(uint256.Int) }

func clone(a *uint256.Int) *uint256.Int {
	if a == nil {
		return new(uint256.Int)
	}
	return new(uint256.Int).Set(a)
}
