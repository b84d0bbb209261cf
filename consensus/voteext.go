package consensus

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/api/cometbft/types/v1"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/ciro-network/ciro-node/contracts"
)

// VoteExtensionVersion is the version of the VoteExtension encoding this node writes and reads.
const VoteExtensionVersion = 1

// MaxCheckpointSigLen bounds VoteExtension.CheckpointSig.
const MaxCheckpointSigLen = 512

// Flags of a VoteExtension.
const (
	extHasReveal     = 1 << 0
	extHasCheckpoint = 1 << 1
	extKnownFlags    = extHasReveal | extHasCheckpoint
)

// VoteExtension is the one format of what a validator attaches to its precommit (ABCI
// ExtendVote). It carries the randomness beacon's commit and reveal and, optionally, the
// validator's signature of a Starknet checkpoint. Version 1 is encoded as
//
//	version        u8        1
//	flags          u8        bit 0: Reveal follows; bit 1: CheckpointSig follows; others 0
//	commit         32 bytes  SHA-256 of the beacon secret this validator reveals at the next
//	                         height; all zero when it takes no part in the beacon
//	reveal         32 bytes  the secret committed at the previous height (flag bit 0)
//	checkpoint     u16 length, then that many bytes, 1..MaxCheckpointSigLen (flag bit 1)
//
// and nothing may follow. An empty extension is valid and carries nothing. A node rejects an
// extension of another version or with unknown flags in VerifyVoteExtension; a new field comes
// with a new flag bit or version.
type VoteExtension struct {
	Commit [32]byte
	// Reveal is nil or 32 bytes.
	Reveal []byte
	// CheckpointSig is nil or a checkpoint signature, opaque here (chain/ defines it).
	CheckpointSig []byte
}

// Encode writes the extension in its wire format.
func (e *VoteExtension) Encode() []byte {
	flags := byte(0)
	if e.Reveal != nil {
		flags |= extHasReveal
	}
	if e.CheckpointSig != nil {
		flags |= extHasCheckpoint
	}
	b := append([]byte{VoteExtensionVersion, flags}, e.Commit[:]...)
	if e.Reveal != nil {
		b = append(b, e.Reveal...)
	}
	if e.CheckpointSig != nil {
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.CheckpointSig)))
		b = append(b, e.CheckpointSig...)
	}
	return b
}

var errBadExtension = errors.New("consensus: malformed vote extension")

// DecodeVoteExtension parses an extension; an empty one decodes to the zero VoteExtension.
func DecodeVoteExtension(b []byte) (*VoteExtension, error) {
	e := &VoteExtension{}
	if len(b) == 0 {
		return e, nil
	}
	if len(b) < 34 || b[0] != VoteExtensionVersion || b[1]&^extKnownFlags != 0 {
		return nil, errBadExtension
	}
	flags := b[1]
	copy(e.Commit[:], b[2:34])
	rest := b[34:]
	if flags&extHasReveal != 0 {
		if len(rest) < 32 {
			return nil, errBadExtension
		}
		e.Reveal, rest = bytes.Clone(rest[:32]), rest[32:]
	}
	if flags&extHasCheckpoint != 0 {
		if len(rest) < 2 {
			return nil, errBadExtension
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n == 0 || n > MaxCheckpointSigLen || len(rest) != 2+n {
			return nil, errBadExtension
		}
		e.CheckpointSig, rest = bytes.Clone(rest[2:]), nil
	}
	if len(rest) != 0 {
		return nil, errBadExtension
	}
	return e, nil
}

// beaconSecret is this validator's secret for a height, derived from Options.BeaconKey.
func (a *App) beaconSecret(height int64) []byte {
	h := sha256.New()
	h.Write([]byte("ciro-beacon-secret-v1"))
	h.Write(a.opts.BeaconKey)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(height)))
	return h.Sum(nil)
}

// ExtendVote commits to this height's beacon secret and reveals the previous height's. A
// node with no BeaconKey takes no part in the beacon.
func (a *App) ExtendVote(_ context.Context, req *abci.ExtendVoteRequest) (*abci.ExtendVoteResponse, error) {
	if len(a.opts.BeaconKey) == 0 {
		return &abci.ExtendVoteResponse{}, nil
	}
	ext := &VoteExtension{Commit: sha256.Sum256(a.beaconSecret(req.Height)), Reveal: a.beaconSecret(req.Height - 1)}
	return &abci.ExtendVoteResponse{VoteExtension: ext.Encode()}, nil
}

// VerifyVoteExtension accepts any extension in the VoteExtension format. It reads no state: a
// reveal that does not open its commitment is simply not counted by the beacon.
func (a *App) VerifyVoteExtension(_ context.Context, req *abci.VerifyVoteExtensionRequest) (*abci.VerifyVoteExtensionResponse, error) {
	if _, err := DecodeVoteExtension(req.VoteExtension); err != nil {
		a.log.Warn("vote extension rejected", "height", req.Height, "validator", fmt.Sprintf("%X", req.ValidatorAddress), "err", err)
		return &abci.VerifyVoteExtensionResponse{Status: abci.VERIFY_VOTE_EXTENSION_STATUS_REJECT}, nil
	}
	return &abci.VerifyVoteExtensionResponse{Status: abci.VERIFY_VOTE_EXTENSION_STATUS_ACCEPT}, nil
}

// The extension tx carries the previous height's vote extensions into a block, where they
// reach state: CometBFT hands extensions to the next proposer only and stores none. The
// proposer builds it in PrepareProposal as the block's first transaction; ProcessProposal
// and FinalizeBlock check every extension's signature against its validator's consensus key.
// Encoding:
//
//	magic  2 bytes  0xce 0x01 (no signed transaction starts so: their first byte is the tx
//	                version)
//	height u64, round u32, then per vote, in ascending validator address order:
//	address 20 bytes, extension u16 length + bytes, signature 64 bytes
var extTxMagic = []byte{0xce, 0x01}

// maxExtTxVotes bounds the votes an extension tx may carry.
const maxExtTxVotes = 1000

type extVote struct {
	addr []byte
	ext  []byte
	sig  []byte
}

type extTx struct {
	height int64
	round  int32
	votes  []extVote
}

func isExtTx(raw []byte) bool { return bytes.HasPrefix(raw, extTxMagic) }

func (t *extTx) encode() []byte {
	b := append([]byte(nil), extTxMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.height))
	b = binary.BigEndian.AppendUint32(b, uint32(t.round))
	for _, v := range t.votes {
		b = append(b, v.addr...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.ext)))
		b = append(b, v.ext...)
		b = append(b, v.sig...)
	}
	return b
}

var errBadExtTx = errors.New("consensus: malformed extension transaction")

// decodeExtTx parses an extension tx; votes must be in strictly ascending address order.
func decodeExtTx(raw []byte) (*extTx, error) {
	if !isExtTx(raw) || len(raw) < 2+12 {
		return nil, errBadExtTx
	}
	t := &extTx{height: int64(binary.BigEndian.Uint64(raw[2:])), round: int32(binary.BigEndian.Uint32(raw[10:]))}
	if t.height <= 0 || t.round < 0 {
		return nil, errBadExtTx
	}
	rest := raw[14:]
	for len(rest) > 0 {
		if len(rest) < 22 || len(t.votes) >= maxExtTxVotes {
			return nil, errBadExtTx
		}
		v := extVote{addr: bytes.Clone(rest[:20])}
		n := int(binary.BigEndian.Uint16(rest[20:]))
		rest = rest[22:]
		if len(rest) < n+ed25519.SignatureSize {
			return nil, errBadExtTx
		}
		v.ext, v.sig = bytes.Clone(rest[:n]), bytes.Clone(rest[n:n+ed25519.SignatureSize])
		rest = rest[n+ed25519.SignatureSize:]
		if k := len(t.votes); k > 0 && bytes.Compare(t.votes[k-1].addr, v.addr) >= 0 {
			return nil, errBadExtTx
		}
		t.votes = append(t.votes, v)
	}
	return t, nil
}

// buildExtTx turns the extensions of the last commit into an extension tx, or nil when there
// are none.
func buildExtTx(info abci.ExtendedCommitInfo, height int64) []byte {
	t := &extTx{height: height - 1, round: info.Round}
	for _, v := range info.Votes {
		if v.BlockIdFlag != cmtproto.BlockIDFlagCommit || len(v.VoteExtension) == 0 || len(v.ExtensionSignature) != ed25519.SignatureSize ||
			len(v.Validator.Address) != 20 || len(v.VoteExtension) > 0xffff {
			continue
		}
		t.votes = append(t.votes, extVote{addr: v.Validator.Address, ext: v.VoteExtension, sig: v.ExtensionSignature})
	}
	if len(t.votes) == 0 || height <= 1 {
		return nil
	}
	sort.Slice(t.votes, func(i, j int) bool { return bytes.Compare(t.votes[i].addr, t.votes[j].addr) < 0 })
	for i := 1; i < len(t.votes); i++ {
		if bytes.Equal(t.votes[i].addr, t.votes[i-1].addr) {
			return nil // CometBFT never lists a validator twice
		}
	}
	if len(t.votes) > maxExtTxVotes {
		t.votes = t.votes[:maxExtTxVotes]
	}
	return t.encode()
}

// checkExtTx verifies an extension tx of the block at height against committed state: it must
// carry the extensions of height−1, each well-formed and signed by the consensus key its
// address names. It returns the beacon shares.
func (a *App) checkExtTx(chainID string, height int64, raw []byte, kv contracts.KV) ([]contracts.BeaconShare, error) {
	t, err := decodeExtTx(raw)
	if err != nil {
		return nil, err
	}
	if t.height != height-1 {
		return nil, fmt.Errorf("consensus: the extension tx carries height %d in block %d", t.height, height)
	}
	shares := make([]contracts.BeaconShare, 0, len(t.votes))
	for _, v := range t.votes {
		ext, err := DecodeVoteExtension(v.ext)
		if err != nil {
			return nil, err
		}
		pub, err := contracts.ConsPubKeyOf(kv, v.addr)
		if err != nil {
			return nil, err
		}
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("consensus: extension from %X, which is no validator's address", v.addr)
		}
		sign := cmttypes.VoteExtensionSignBytes(chainID, &cmtproto.Vote{Type: cmtproto.PrecommitType, Height: t.height, Round: t.round, Extension: v.ext})
		if !ed25519.Verify(pub, sign, v.sig) {
			return nil, fmt.Errorf("consensus: extension from %X has a bad signature", v.addr)
		}
		shares = append(shares, contracts.BeaconShare{ConsAddress: v.addr, Commit: ext.Commit, Reveal: ext.Reveal})
	}
	return shares, nil
}
