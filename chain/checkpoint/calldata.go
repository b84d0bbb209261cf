package checkpoint

import (
	"encoding/binary"
	"fmt"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/utils"
)

// SubmitEntryPoint is the registry's entry point that takes a Submission.
const SubmitEntryPoint = "submit_checkpoint"

// SubmitSelector is starknet_keccak(SubmitEntryPoint), the selector a call names.
var SubmitSelector = utils.GetSelectorFromNameFelt(SubmitEntryPoint)

// MaxSubmissionFelts bounds a submission's layout: a checkpoint, a full next set and a full
// set of signatures.
const MaxSubmissionFelts = CheckpointFelts + 1 + 2*MaxValidators + 1 + SignatureFelts*MaxValidators

// Felts is the calldata of submit_checkpoint(checkpoint, next_set, signatures): the
// checkpoint's layout, then Span<Member>, then Span<Signature>.
func (s *Submission) Felts() []*felt.Felt {
	out := s.Checkpoint.Felts()
	if len(s.NextSet) == 0 {
		out = append(out, new(felt.Felt))
	} else {
		out = append(out, s.NextSet.Felts()...)
	}
	out = append(out, u64Felt(uint64(len(s.Sigs))))
	for i := range s.Sigs {
		out = append(out, u64Felt(uint64(s.Sigs[i].Index)), new(felt.Felt).Set(&s.Sigs[i].R), new(felt.Felt).Set(&s.Sigs[i].S))
	}
	return out
}

// SubmissionFromFelts reads submit_checkpoint's calldata as Cairo's Serde would: it refuses
// trailing felts, lengths past the end, and values that do not fit their Cairo types.
func SubmissionFromFelts(fs []*felt.Felt) (*Submission, error) {
	if len(fs) > MaxSubmissionFelts {
		return nil, fmt.Errorf("%w: submission of %d felts exceeds %d", ErrBadFelt, len(fs), MaxSubmissionFelts)
	}
	if len(fs) < CheckpointFelts+2 {
		return nil, fmt.Errorf("%w: submission of %d felts is too short", ErrBadFelt, len(fs))
	}
	cp, err := CheckpointFromFelts(fs[:CheckpointFelts])
	if err != nil {
		return nil, err
	}
	sub := &Submission{Checkpoint: cp}
	rest := fs[CheckpointFelts:]
	n, err := feltU32(rest[0], "next_set length")
	if err != nil {
		return nil, err
	}
	rest = rest[1:]
	if uint64(n) > MaxValidators || uint64(len(rest)) < 2*uint64(n)+1 {
		return nil, fmt.Errorf("%w: next_set length %d does not fit the calldata", ErrBadFelt, n)
	}
	for i := uint32(0); i < n; i++ {
		power, err := feltU64(rest[1], "member power")
		if err != nil {
			return nil, err
		}
		sub.NextSet = append(sub.NextSet, Member{PubKey: *rest[0], Power: power})
		rest = rest[2:]
	}
	k, err := feltU32(rest[0], "signatures length")
	if err != nil {
		return nil, err
	}
	rest = rest[1:]
	if uint64(k) > MaxValidators || uint64(len(rest)) != SignatureFelts*uint64(k) {
		return nil, fmt.Errorf("%w: %d signatures do not fit %d felts", ErrBadFelt, k, len(rest))
	}
	for i := uint32(0); i < k; i++ {
		idx, err := feltU32(rest[0], "signature index")
		if err != nil {
			return nil, err
		}
		sub.Sigs = append(sub.Sigs, Signature{Index: idx, R: *rest[1], S: *rest[2]})
		rest = rest[3:]
	}
	return sub, nil
}

// MarshalBinary stores a submission as its felt layout: a 4-byte big-endian count, then 32
// bytes per felt.
func (s *Submission) MarshalBinary() ([]byte, error) {
	fs := s.Felts()
	out := make([]byte, 4, 4+32*len(fs))
	binary.BigEndian.PutUint32(out, uint32(len(fs)))
	for _, f := range fs {
		b := f.Bytes()
		out = append(out, b[:]...)
	}
	return out, nil
}

// UnmarshalSubmission reads what MarshalBinary wrote, refusing non-canonical felts and any
// length that does not match.
func UnmarshalSubmission(b []byte) (*Submission, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes is too short for a submission", ErrBadFelt, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if n > MaxSubmissionFelts || uint64(len(b)-4) != 32*uint64(n) {
		return nil, fmt.Errorf("%w: %d felts in %d bytes", ErrBadFelt, n, len(b))
	}
	fs := make([]*felt.Felt, n)
	for i := range fs {
		f, err := feltFromBytes(b[4+32*i : 4+32*(i+1)])
		if err != nil {
			return nil, err
		}
		fs[i] = &f
	}
	return SubmissionFromFelts(fs)
}

// Call is one call of an account's multicall.
type Call struct {
	To, Selector felt.Felt
	Calldata     []*felt.Felt
}

// MaxCalls bounds the calls one multicall may carry.
const MaxCalls = 1024

// Multicall is the calldata of a Cairo 1 account's __execute__(calls: Array<Call>) that submits
// subs to registry in order: the number of calls, then per call (to, selector, calldata length,
// calldata). It is the layout starknet.go's account builds (FmtCallDataCairo2).
func Multicall(registry *felt.Felt, subs []*Submission) []*felt.Felt {
	out := []*felt.Felt{u64Felt(uint64(len(subs)))}
	for _, s := range subs {
		data := s.Felts()
		out = append(out, new(felt.Felt).Set(registry), new(felt.Felt).Set(SubmitSelector), u64Felt(uint64(len(data))))
		out = append(out, data...)
	}
	return out
}

// ParseMulticall reads __execute__ calldata into its calls, refusing lengths that overrun the
// calldata and trailing felts.
func ParseMulticall(fs []*felt.Felt) ([]Call, error) {
	if len(fs) == 0 {
		return nil, fmt.Errorf("%w: empty multicall", ErrBadFelt)
	}
	n, err := feltU32(fs[0], "call count")
	if err != nil {
		return nil, err
	}
	if n > MaxCalls {
		return nil, fmt.Errorf("%w: %d calls exceeds %d", ErrBadFelt, n, MaxCalls)
	}
	rest := fs[1:]
	calls := make([]Call, 0, n)
	for i := uint32(0); i < n; i++ {
		if len(rest) < 3 {
			return nil, fmt.Errorf("%w: call %d is cut short", ErrBadFelt, i)
		}
		l, err := feltU32(rest[2], "calldata length")
		if err != nil {
			return nil, err
		}
		if uint64(len(rest)-3) < uint64(l) {
			return nil, fmt.Errorf("%w: call %d claims %d felts, %d left", ErrBadFelt, i, l, len(rest)-3)
		}
		calls = append(calls, Call{To: *rest[0], Selector: *rest[1], Calldata: rest[3 : 3+l]})
		rest = rest[3+l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d felts after the last call", ErrBadFelt, len(rest))
	}
	return calls, nil
}
