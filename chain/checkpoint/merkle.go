package checkpoint

import (
	"fmt"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/curve"
)

// The Merkle trees are Poseidon trees with sorted pairs: a node is
// poseidon(TagNode, min(a, b), max(a, b)), comparing felts as integers. Sorting makes a proof a
// plain list of siblings, with no left/right bits, which keeps the Cairo verifier a short loop.
// A level with an odd number of nodes carries its last node up unchanged. The root of one leaf is
// the leaf; the root of no leaves is 0, which no proof can reach (the contract refuses it).
// Leaves are themselves Poseidon hashes that start with a leaf tag, so a node can never be
// presented as a leaf.

// NodeHash is the hash of two sibling nodes.
func NodeHash(a, b *felt.Felt) *felt.Felt {
	if a.Cmp(b) > 0 {
		a, b = b, a
	}
	return curve.PoseidonArray(&TagNode, a, b)
}

// Tree is a Merkle tree over leaf hashes, kept whole so that proofs can be read from it.
type Tree struct {
	levels [][]*felt.Felt // levels[0] are the leaves; the last level holds the root
}

// NewTree builds the tree over leaves, in the given order.
func NewTree(leaves []*felt.Felt) *Tree {
	t := &Tree{levels: [][]*felt.Felt{append([]*felt.Felt(nil), leaves...)}}
	for cur := t.levels[0]; len(cur) > 1; {
		next := make([]*felt.Felt, 0, (len(cur)+1)/2)
		for i := 0; i+1 < len(cur); i += 2 {
			next = append(next, NodeHash(cur[i], cur[i+1]))
		}
		if len(cur)%2 == 1 {
			next = append(next, cur[len(cur)-1])
		}
		t.levels = append(t.levels, next)
		cur = next
	}
	return t
}

// Root is the tree's root, 0 for an empty tree.
func (t *Tree) Root() *felt.Felt {
	top := t.levels[len(t.levels)-1]
	if len(top) == 0 {
		return new(felt.Felt)
	}
	return new(felt.Felt).Set(top[0])
}

// Len is the number of leaves.
func (t *Tree) Len() int { return len(t.levels[0]) }

// Proof is the list of siblings from leaf i up to the root.
func (t *Tree) Proof(i int) ([]*felt.Felt, error) {
	if i < 0 || i >= t.Len() {
		return nil, fmt.Errorf("checkpoint: leaf %d out of range [0, %d)", i, t.Len())
	}
	var proof []*felt.Felt
	for _, level := range t.levels[:len(t.levels)-1] {
		sib := i ^ 1
		if sib < len(level) {
			proof = append(proof, new(felt.Felt).Set(level[sib]))
		}
		i /= 2
	}
	return proof, nil
}

// VerifyProof reports whether proof leads from leaf to root. A zero root proves nothing.
func VerifyProof(root, leaf *felt.Felt, proof []*felt.Felt) bool {
	if root.IsZero() {
		return false
	}
	cur := leaf
	for _, sib := range proof {
		cur = NodeHash(cur, sib)
	}
	return cur.Equal(root)
}

// AppHashLeaf is the leaf for the app hash committed at height. App hashes are 32 bytes; the
// leaf takes them as Cairo's u256 halves.
func AppHashLeaf(height uint64, appHash []byte) (*felt.Felt, error) {
	if len(appHash) != 32 {
		return nil, fmt.Errorf("%w: app hash at height %d is %d bytes, want 32", ErrBadFelt, height, len(appHash))
	}
	hi, lo := bytes32Felts([32]byte(appHash))
	return curve.PoseidonArray(&TagAppHash, u64Felt(height), hi, lo), nil
}

// JobLeaf is what a checkpoint commits to for one settled job: enough to prove to a Starknet
// contract that job ID settled at a height, with a result and an outcome.
type JobLeaf struct {
	JobID         uint64
	SettledHeight uint64
	// ResultDigest is a 32-byte digest of the job's result (its CID's multihash digest).
	ResultDigest [32]byte
	// Paid and Refunded are 256-bit amounts, big-endian, as the chain keeps them.
	Paid     [32]byte
	Refunded [32]byte
}

// Felts is the leaf's preimage after its tag: id, height, then each 32-byte field as (hi, lo).
func (j JobLeaf) Felts() []*felt.Felt {
	out := []*felt.Felt{u64Felt(j.JobID), u64Felt(j.SettledHeight)}
	for _, b := range [][32]byte{j.ResultDigest, j.Paid, j.Refunded} {
		hi, lo := bytes32Felts(b)
		out = append(out, hi, lo)
	}
	return out
}

// Hash is the leaf hash: poseidon(TagJob, Felts()...).
func (j JobLeaf) Hash() *felt.Felt {
	return curve.PoseidonArray(append([]*felt.Felt{&TagJob}, j.Felts()...)...)
}

// SlashLeaf is what a checkpoint commits to for one slash.
type SlashLeaf struct {
	Height uint64
	// Validator is the slashed validator's consensus address, left-padded to 32 bytes.
	Validator [32]byte
	Amount    [32]byte // 256-bit, big-endian
	// Reason is a short code ("double_sign", "downtime"), a Cairo short string.
	Reason string
}

// Hash is the leaf hash: poseidon(TagSlash, height, validator (hi, lo), amount (hi, lo), reason).
func (s SlashLeaf) Hash() (*felt.Felt, error) {
	reason, err := ParseShortString(s.Reason)
	if err != nil {
		return nil, err
	}
	vhi, vlo := bytes32Felts(s.Validator)
	ahi, alo := bytes32Felts(s.Amount)
	return curve.PoseidonArray(&TagSlash, u64Felt(s.Height), vhi, vlo, ahi, alo, &reason), nil
}
