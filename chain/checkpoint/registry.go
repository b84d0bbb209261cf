package checkpoint

import (
	"errors"
	"fmt"

	"github.com/NethermindEth/juno/core/felt"
)

// Refusal is a reason the registry refuses a submission. Reason is the short string the Cairo
// contract panics with, so a revert reads the same from either side.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "checkpoint: refused: " + r.Reason }

// The registry's refusals.
var (
	ErrWrongChain   = &Refusal{"WRONG_CHAIN"}
	ErrStaleNonce   = &Refusal{"STALE_NONCE"}
	ErrNonceGap     = &Refusal{"NONCE_GAP"}
	ErrBadRange     = &Refusal{"BAD_RANGE"}
	ErrSigOrder     = &Refusal{"SIG_ORDER"}
	ErrBadSignature = &Refusal{"BAD_SIGNATURE"}
	ErrLowPower     = &Refusal{"LOW_POWER"}
	ErrBadNextSet   = &Refusal{"BAD_NEXT_SET"}
)

// VerifyQuorum checks that sigs are signatures over digest by members of s, in strictly
// increasing member order, whose power reaches s.Threshold(). It returns the power that signed.
// One bad signature refuses the whole quorum: a relayer that cannot tell good from bad
// signatures should not be relaying.
func (s ValidatorSet) VerifyQuorum(digest *felt.Felt, sigs []Signature) (uint64, error) {
	var power uint64
	for i, sig := range sigs {
		if int(sig.Index) >= len(s) || (i > 0 && sigs[i-1].Index >= sig.Index) {
			return 0, fmt.Errorf("signature %d (member %d): %w", i, sig.Index, ErrSigOrder)
		}
		m := &s[sig.Index]
		if !VerifySignature(digest, &m.PubKey, &sig.R, &sig.S) {
			return 0, fmt.Errorf("signature %d (member %d): %w", i, sig.Index, ErrBadSignature)
		}
		power += m.Power
	}
	if power < s.Threshold() {
		return power, fmt.Errorf("power %d of %d, need %d: %w", power, s.TotalPower(), s.Threshold(), ErrLowPower)
	}
	return power, nil
}

// Submission is one call to the registry's submit_checkpoint: the checkpoint, the next set's
// members when the checkpoint rotates the set (empty otherwise), and the signatures of the
// current set.
type Submission struct {
	Checkpoint Checkpoint
	NextSet    ValidatorSet
	Sigs       []Signature
}

// EpochRoots is what the registry keeps for each epoch.
type EpochRoots struct {
	Nonce       uint64
	Digest      felt.Felt
	AppRoot     felt.Felt
	JobsRoot    felt.Felt
	SlashesRoot felt.Felt
}

// Outcome says what a submission that was not refused did.
type Outcome int

const (
	// Accepted: the checkpoint is new and now stored.
	Accepted Outcome = iota + 1
	// Duplicate: the same checkpoint was already stored; nothing changed. This is what makes a
	// second relay of the same checkpoint harmless.
	Duplicate
)

// Registry is the registry contract's state and rules, in Go. It is not safe for concurrent use.
type Registry struct {
	chainID   felt.Felt
	set       ValidatorSet
	setHash   felt.Felt
	threshold uint64
	lastNonce uint64
	lastEpoch uint64
	lastEnd   uint64
	digests   map[uint64]felt.Felt // by nonce
	roots     map[uint64]EpochRoots
}

// NewRegistry is the contract's constructor: the chain it follows and the genesis set.
func NewRegistry(chainID felt.Felt, genesis ValidatorSet) (*Registry, error) {
	if err := genesis.Validate(); err != nil {
		return nil, err
	}
	r := &Registry{chainID: chainID, digests: map[uint64]felt.Felt{}, roots: map[uint64]EpochRoots{}}
	r.setSet(genesis)
	return r, nil
}

func (r *Registry) setSet(s ValidatorSet) {
	r.set = append(ValidatorSet(nil), s...)
	r.setHash = *s.Hash()
	r.threshold = s.Threshold()
}

// Submit applies submit_checkpoint. It changes nothing when it returns an error.
func (r *Registry) Submit(sub *Submission) (Outcome, error) {
	cp := &sub.Checkpoint
	if !cp.ChainID.Equal(&r.chainID) {
		return 0, ErrWrongChain
	}
	digest := cp.Digest()
	if cp.Nonce <= r.lastNonce {
		if seen, ok := r.digests[cp.Nonce]; ok && seen.Equal(digest) {
			return Duplicate, nil
		}
		return 0, fmt.Errorf("nonce %d, last %d: %w", cp.Nonce, r.lastNonce, ErrStaleNonce)
	}
	if cp.Nonce != r.lastNonce+1 {
		return 0, fmt.Errorf("nonce %d, last %d: %w", cp.Nonce, r.lastNonce, ErrNonceGap)
	}
	if cp.StartHeight > cp.EndHeight || (r.lastNonce > 0 && (cp.Epoch <= r.lastEpoch || cp.StartHeight <= r.lastEnd)) {
		return 0, fmt.Errorf("epoch %d heights %d..%d after epoch %d ending %d: %w",
			cp.Epoch, cp.StartHeight, cp.EndHeight, r.lastEpoch, r.lastEnd, ErrBadRange)
	}
	if _, err := r.set.VerifyQuorum(digest, sub.Sigs); err != nil {
		return 0, err
	}
	rotates := !cp.NextSetHash.Equal(&r.setHash)
	if rotates {
		if err := sub.NextSet.Validate(); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrBadNextSet, err)
		}
		if !sub.NextSet.Hash().Equal(&cp.NextSetHash) {
			return 0, fmt.Errorf("next set does not hash to next_set_hash: %w", ErrBadNextSet)
		}
	} else if len(sub.NextSet) != 0 {
		return 0, fmt.Errorf("members given for a checkpoint that keeps the set: %w", ErrBadNextSet)
	}
	if rotates {
		r.setSet(sub.NextSet)
	}
	r.lastNonce, r.lastEpoch, r.lastEnd = cp.Nonce, cp.Epoch, cp.EndHeight
	r.digests[cp.Nonce] = *digest
	r.roots[cp.Epoch] = EpochRoots{Nonce: cp.Nonce, Digest: *digest, AppRoot: cp.AppRoot, JobsRoot: cp.JobsRoot, SlashesRoot: cp.SlashesRoot}
	return Accepted, nil
}

// LastNonce is the nonce of the last checkpoint taken, 0 before the first.
func (r *Registry) LastNonce() uint64 { return r.lastNonce }

// SetHash is the current validator set's hash.
func (r *Registry) SetHash() felt.Felt { return r.setHash }

// Threshold is the power a quorum of the current set needs.
func (r *Registry) Threshold() uint64 { return r.threshold }

// Roots is what the registry keeps for epoch.
func (r *Registry) Roots(epoch uint64) (EpochRoots, bool) {
	x, ok := r.roots[epoch]
	return x, ok
}

// VerifyJobSettlement is the contract's verify_job_settlement: whether jobLeaf is in the jobs
// tree of epoch's checkpoint.
func (r *Registry) VerifyJobSettlement(epoch uint64, jobLeaf *felt.Felt, proof []*felt.Felt) bool {
	x, ok := r.roots[epoch]
	return ok && VerifyProof(&x.JobsRoot, jobLeaf, proof)
}

// IsRefusal reports whether err is one of the registry's refusals, and which.
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// Clone is a deep copy, so that a caller can apply a batch and keep it only if it all succeeds.
func (r *Registry) Clone() *Registry {
	c := *r
	c.set = append(ValidatorSet(nil), r.set...)
	c.digests = make(map[uint64]felt.Felt, len(r.digests))
	for k, v := range r.digests {
		c.digests[k] = v
	}
	c.roots = make(map[uint64]EpochRoots, len(r.roots))
	for k, v := range r.roots {
		c.roots[k] = v
	}
	return &c
}
