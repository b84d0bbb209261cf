package checkpoint

import (
	"errors"
	"fmt"

	"github.com/NethermindEth/juno/core/felt"
)

// EpochBounds says which epoch a height belongs to when epochs are epochBlocks long: epoch e
// (from 1) covers heights (e-1)·epochBlocks+1 .. e·epochBlocks. ends reports whether height is
// the epoch's last, the height at which its checkpoint can be formed.
func EpochBounds(height, epochBlocks uint64) (epoch, start, end uint64, ends bool) {
	if epochBlocks == 0 || height == 0 {
		return 0, 0, 0, false
	}
	epoch = (height-1)/epochBlocks + 1
	start = (epoch-1)*epochBlocks + 1
	end = epoch * epochBlocks
	return epoch, start, end, height == end
}

// Epoch is what the chain knows of a finished epoch: everything its checkpoint commits to. Every
// validator builds it from the same committed state, so every validator forms the same digest.
type Epoch struct {
	ChainID     string
	Number      uint64
	StartHeight uint64
	// AppHashes are the app hashes of StartHeight, StartHeight+1, ..., in order; the epoch ends
	// at StartHeight + len(AppHashes) - 1.
	AppHashes [][]byte
	// Jobs and Slashes are the epoch's settled jobs and slashes, in the order the chain applied
	// them.
	Jobs    []JobLeaf
	Slashes []SlashLeaf
	// NextSet is the set that signs the next checkpoint.
	NextSet ValidatorSet
	// Nonce numbers the checkpoint; one checkpoint per epoch makes it the epoch number.
	Nonce uint64
}

// ErrBadEpoch is returned for an epoch that cannot form a checkpoint.
var ErrBadEpoch = errors.New("checkpoint: bad epoch")

// Checkpoint forms the epoch's checkpoint.
func (e *Epoch) Checkpoint() (Checkpoint, error) {
	var cp Checkpoint
	chain, err := ParseShortString(e.ChainID)
	if err != nil {
		return cp, fmt.Errorf("%w: chain id: %w", ErrBadEpoch, err)
	}
	if len(e.AppHashes) == 0 || e.Number == 0 || e.Nonce == 0 {
		return cp, fmt.Errorf("%w: epoch %d nonce %d with %d app hashes", ErrBadEpoch, e.Number, e.Nonce, len(e.AppHashes))
	}
	if err := e.NextSet.Validate(); err != nil {
		return cp, fmt.Errorf("%w: %w", ErrBadEpoch, err)
	}
	app, err := AppHashRoot(e.StartHeight, e.AppHashes)
	if err != nil {
		return cp, err
	}
	slashes, err := SlashesRoot(e.Slashes)
	if err != nil {
		return cp, err
	}
	return Checkpoint{
		ChainID: chain, Epoch: e.Number, StartHeight: e.StartHeight,
		EndHeight: e.StartHeight + uint64(len(e.AppHashes)) - 1, AppRoot: *app,
		NextSetHash: *e.NextSet.Hash(), JobsRoot: *JobsTree(e.Jobs).Root(), SlashesRoot: *slashes,
		Nonce: e.Nonce,
	}, nil
}

// JobProof is the path from a settled job to its checkpoint: what `prove-job` prints and what a
// Starknet contract passes to verify_job_settlement.
type JobProof struct {
	Epoch    uint64       `json:"epoch"`
	Job      JobLeaf      `json:"job"`
	Leaf     *felt.Felt   `json:"leaf"`
	Proof    []*felt.Felt `json:"proof"`
	JobsRoot *felt.Felt   `json:"jobs_root"`
}

// ErrJobNotInEpoch is returned by ProveJob for a job the epoch did not settle.
var ErrJobNotInEpoch = errors.New("checkpoint: job not settled in this epoch")

// ProveJob returns the Merkle path from job id's leaf to the epoch's jobs root.
func (e *Epoch) ProveJob(id uint64) (*JobProof, error) {
	tree := JobsTree(e.Jobs)
	for i, j := range e.Jobs {
		if j.JobID != id {
			continue
		}
		proof, err := tree.Proof(i)
		if err != nil {
			return nil, err
		}
		return &JobProof{Epoch: e.Number, Job: j, Leaf: j.Hash(), Proof: proof, JobsRoot: tree.Root()}, nil
	}
	return nil, fmt.Errorf("%w: job %d, epoch %d", ErrJobNotInEpoch, id, e.Number)
}

// Verify checks the proof against a checkpoint: the leaf is the job's, and the path leads to the
// checkpoint's jobs root.
func (p *JobProof) Verify(cp *Checkpoint) bool {
	return cp.Epoch == p.Epoch && p.Leaf != nil && p.Leaf.Equal(p.Job.Hash()) && VerifyProof(&cp.JobsRoot, p.Leaf, p.Proof)
}
