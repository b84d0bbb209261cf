package checkpoint

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/curve"
)

// MaxValidators bounds a set, so that a submission's calldata and the contract's loop stay
// bounded.
const MaxValidators = 256

// MaxTotalPower bounds a set's total power so that 3 × power never overflows a u64 (or the
// contract's u128).
const MaxTotalPower = uint64(1) << 60

// Member is one validator as Starknet sees it: the x coordinate of its STARK public key and its
// voting power.
type Member struct {
	PubKey felt.Felt
	Power  uint64
}

// ValidatorSet is a set of members in strictly increasing public-key order, so that a set has
// exactly one layout and one hash.
type ValidatorSet []Member

// ErrBadSet is returned for a validator set that breaks the layout's rules.
var ErrBadSet = errors.New("checkpoint: bad validator set")

// Validate checks the set's rules: 1..MaxValidators members, strictly increasing non-zero keys,
// positive powers, total at most MaxTotalPower.
func (s ValidatorSet) Validate() error {
	if len(s) == 0 || len(s) > MaxValidators {
		return fmt.Errorf("%w: %d members, want 1 to %d", ErrBadSet, len(s), MaxValidators)
	}
	var total uint64
	for i := range s {
		if s[i].PubKey.IsZero() {
			return fmt.Errorf("%w: member %d has a zero key", ErrBadSet, i)
		}
		if i > 0 && s[i-1].PubKey.Cmp(&s[i].PubKey) >= 0 {
			return fmt.Errorf("%w: keys not strictly increasing at member %d", ErrBadSet, i)
		}
		if s[i].Power == 0 || s[i].Power > MaxTotalPower-total {
			return fmt.Errorf("%w: member %d power %d is zero or overflows the total", ErrBadSet, i, s[i].Power)
		}
		total += s[i].Power
	}
	return nil
}

// TotalPower is the sum of the members' powers. Call Validate first.
func (s ValidatorSet) TotalPower() uint64 {
	var t uint64
	for _, m := range s {
		t += m.Power
	}
	return t
}

// Threshold is the least power that counts as 2/3 of the set: ceil(2 × total / 3).
func (s ValidatorSet) Threshold() uint64 {
	return (2*s.TotalPower() + 2) / 3
}

// Felts is the set's Serde layout as a Cairo Span<Member>: length, then (key, power) pairs.
func (s ValidatorSet) Felts() []*felt.Felt {
	out := make([]*felt.Felt, 0, 1+2*len(s))
	out = append(out, u64Felt(uint64(len(s))))
	for i := range s {
		out = append(out, new(felt.Felt).Set(&s[i].PubKey), u64Felt(s[i].Power))
	}
	return out
}

// Hash is poseidon(TagValset, Felts()...).
func (s ValidatorSet) Hash() *felt.Felt {
	return curve.PoseidonArray(append([]*felt.Felt{&TagValset}, s.Felts()...)...)
}

// Signature is one member's STARK-curve ECDSA signature over a digest. Index is the member's
// position in the signing set; a quorum lists its signatures in strictly increasing index order,
// so that no member counts twice.
type Signature struct {
	Index uint32
	R, S  felt.Felt
}

// SignatureFelts is the number of felts in a Signature's layout.
const SignatureFelts = 3

// ErrSign is returned when a key cannot sign.
var ErrSign = errors.New("checkpoint: cannot sign")

// PublicKey is the STARK public key (x coordinate) of a private key.
func PublicKey(priv *big.Int) felt.Felt {
	x, _ := curve.PrivateKeyToPoint(priv)
	var f felt.Felt
	f.SetBigInt(x)
	return f
}

// Sign signs digest with a STARK private key, as Cairo's check_ecdsa_signature verifies.
func Sign(digest *felt.Felt, priv *big.Int) (r, s felt.Felt, err error) {
	if priv.Sign() <= 0 {
		return r, s, fmt.Errorf("%w: private key must be positive", ErrSign)
	}
	rb, sb, err := curve.Sign(digest.BigInt(new(big.Int)), priv)
	if err != nil {
		return r, s, fmt.Errorf("%w: %w", ErrSign, err)
	}
	r.SetBigInt(rb)
	s.SetBigInt(sb)
	return r, s, nil
}

// VerifySignature reports whether (r, s) is pubKey's signature over digest. A malformed
// signature is false, not an error: the caller only needs to refuse it.
func VerifySignature(digest, pubKey, r, s *felt.Felt) bool {
	if r.IsZero() || s.IsZero() {
		return false
	}
	ok, err := curve.VerifyFelts(digest, r, s, pubKey)
	return err == nil && ok
}
