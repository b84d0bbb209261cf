package checkpoint

import (
	"fmt"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/curve"
)

// Checkpoint is what the validators sign at the end of each epoch. Its felt layout (Felts) is
// the Cairo struct Checkpoint's Serde layout, field for field.
type Checkpoint struct {
	// ChainID is the Ciro chain id as a Cairo short string.
	ChainID felt.Felt
	// Epoch covers heights StartHeight..EndHeight, both included.
	Epoch       uint64
	StartHeight uint64
	EndHeight   uint64
	// AppRoot is the Merkle root over the range's app hashes (AppHashLeaf), in height order.
	AppRoot felt.Felt
	// NextSetHash is the hash of the validator set that signs the next checkpoint. When it
	// differs from the signing set's, the checkpoint rotates the set on Starknet.
	NextSetHash felt.Felt
	// JobsRoot and SlashesRoot are Merkle roots over the epoch's settled jobs (JobLeaf) and
	// slashes (SlashLeaf), in the order the chain applied them; 0 when there were none.
	JobsRoot    felt.Felt
	SlashesRoot felt.Felt
	// Nonce numbers checkpoints 1, 2, 3...; the registry takes them in order and ignores one it
	// has already taken.
	Nonce uint64
}

// CheckpointFelts is the number of felts in a Checkpoint's layout.
const CheckpointFelts = 9

// Felts is the checkpoint's Serde layout.
func (c *Checkpoint) Felts() []*felt.Felt {
	return []*felt.Felt{
		new(felt.Felt).Set(&c.ChainID), u64Felt(c.Epoch), u64Felt(c.StartHeight), u64Felt(c.EndHeight),
		new(felt.Felt).Set(&c.AppRoot), new(felt.Felt).Set(&c.NextSetHash),
		new(felt.Felt).Set(&c.JobsRoot), new(felt.Felt).Set(&c.SlashesRoot), u64Felt(c.Nonce),
	}
}

// Digest is the felt each validator signs: poseidon(TagCheckpoint, Felts()...). The Cairo
// contract recomputes it with poseidon_hash_span over the same felts.
func (c *Checkpoint) Digest() *felt.Felt {
	return curve.PoseidonArray(append([]*felt.Felt{&TagCheckpoint}, c.Felts()...)...)
}

// CheckpointFromFelts reads a checkpoint from its layout, refusing values that do not fit the
// Cairo field types (a u64 field holding more than 64 bits).
func CheckpointFromFelts(fs []*felt.Felt) (Checkpoint, error) {
	var c Checkpoint
	if len(fs) != CheckpointFelts {
		return c, fmt.Errorf("%w: a checkpoint is %d felts, got %d", ErrBadFelt, CheckpointFelts, len(fs))
	}
	var err error
	c.ChainID.Set(fs[0])
	if c.Epoch, err = feltU64(fs[1], "epoch"); err != nil {
		return c, err
	}
	if c.StartHeight, err = feltU64(fs[2], "start_height"); err != nil {
		return c, err
	}
	if c.EndHeight, err = feltU64(fs[3], "end_height"); err != nil {
		return c, err
	}
	c.AppRoot.Set(fs[4])
	c.NextSetHash.Set(fs[5])
	c.JobsRoot.Set(fs[6])
	c.SlashesRoot.Set(fs[7])
	if c.Nonce, err = feltU64(fs[8], "nonce"); err != nil {
		return c, err
	}
	return c, nil
}

// AppHashRoot is the Merkle root over app hashes for consecutive heights from start.
func AppHashRoot(start uint64, appHashes [][]byte) (*felt.Felt, error) {
	leaves := make([]*felt.Felt, len(appHashes))
	for i, h := range appHashes {
		l, err := AppHashLeaf(start+uint64(i), h)
		if err != nil {
			return nil, err
		}
		leaves[i] = l
	}
	return NewTree(leaves).Root(), nil
}

// JobsTree is the Merkle tree over an epoch's settled jobs.
func JobsTree(jobs []JobLeaf) *Tree {
	leaves := make([]*felt.Felt, len(jobs))
	for i, j := range jobs {
		leaves[i] = j.Hash()
	}
	return NewTree(leaves)
}

// SlashesRoot is the Merkle root over an epoch's slashes.
func SlashesRoot(slashes []SlashLeaf) (*felt.Felt, error) {
	leaves := make([]*felt.Felt, len(slashes))
	for i, s := range slashes {
		h, err := s.Hash()
		if err != nil {
			return nil, err
		}
		leaves[i] = h
	}
	return NewTree(leaves).Root(), nil
}
