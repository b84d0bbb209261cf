package checkpoint

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/NethermindEth/juno/core/felt"
)

// Domain tags, as Cairo short strings. Every Poseidon input starts with one, so that a hash of
// one kind can never be passed off as a hash of another (a Merkle node as a leaf, a validator
// set as a digest).
var (
	TagCheckpoint = ShortString("CIRO_CHECKPOINT_V1")
	TagValset     = ShortString("CIRO_VALSET_V1")
	TagNode       = ShortString("CIRO_MERKLE_NODE")
	TagAppHash    = ShortString("CIRO_APP_HASH")
	TagJob        = ShortString("CIRO_JOB")
	TagSlash      = ShortString("CIRO_SLASH")
)

// ErrBadFelt is returned for a felt outside the range a field of the layout allows.
var ErrBadFelt = errors.New("checkpoint: value out of range")

// ShortString is Cairo's short-string literal ('abc'): the ASCII bytes read big-endian. It
// panics on more than 31 bytes; use ParseShortString for input that is not a constant.
func ShortString(s string) felt.Felt {
	f, err := ParseShortString(s)
	if err != nil {
		panic(err)
	}
	return f
}

// ParseShortString encodes s as a Cairo short string: printable ASCII, at most 31 bytes.
func ParseShortString(s string) (felt.Felt, error) {
	var f felt.Felt
	if len(s) == 0 || len(s) > 31 {
		return f, fmt.Errorf("%w: short string %q must be 1 to 31 bytes", ErrBadFelt, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return f, fmt.Errorf("%w: short string %q is not printable ASCII", ErrBadFelt, s)
		}
	}
	f.SetBytes([]byte(s))
	return f, nil
}

func u64Felt(v uint64) *felt.Felt { return new(felt.Felt).SetUint64(v) }

// feltU64 reads a felt that a Cairo u64 field holds.
func feltU64(f *felt.Felt, what string) (uint64, error) {
	b := f.BigInt(new(big.Int))
	if !b.IsUint64() {
		return 0, fmt.Errorf("%w: %s %s is not a u64", ErrBadFelt, what, f)
	}
	return b.Uint64(), nil
}

// feltU32 reads a felt that a Cairo u32 field holds.
func feltU32(f *felt.Felt, what string) (uint32, error) {
	v, err := feltU64(f, what)
	if err != nil {
		return 0, err
	}
	if v > 0xffffffff {
		return 0, fmt.Errorf("%w: %s %d is not a u32", ErrBadFelt, what, v)
	}
	return uint32(v), nil
}

// bytes32Felts splits 32 bytes into the (high, low) u128 pair Cairo's u256 uses, since 256 bits
// do not fit in one felt.
func bytes32Felts(b [32]byte) (hi, lo *felt.Felt) {
	return new(felt.Felt).SetBytes(b[:16]), new(felt.Felt).SetBytes(b[16:])
}

// feltFromBytes decodes a canonical 32-byte big-endian felt.
func feltFromBytes(b []byte) (felt.Felt, error) {
	var f felt.Felt
	if len(b) != 32 {
		return f, fmt.Errorf("%w: a felt is 32 bytes, got %d", ErrBadFelt, len(b))
	}
	if err := f.SetBytesCanonical(b); err != nil {
		return f, fmt.Errorf("%w: %v", ErrBadFelt, err)
	}
	return f, nil
}
