package consensus

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/api/cometbft/types/v1"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/ciro-network/ciro-node/contracts"
)

func TestVoteExtensionRoundTrip(t *testing.T) {
	for _, e := range []VoteExtension{
		{},
		{Commit: [32]byte{1}},
		{Commit: [32]byte{2}, Reveal: bytes.Repeat([]byte{3}, 32)},
		{Commit: [32]byte{4}, CheckpointSig: []byte("sig")},
		{Commit: [32]byte{5}, Reveal: bytes.Repeat([]byte{6}, 32), CheckpointSig: bytes.Repeat([]byte{7}, MaxCheckpointSigLen)},
	} {
		got, err := DecodeVoteExtension(e.Encode())
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if !bytes.Equal(got.Encode(), e.Encode()) {
			t.Fatalf("round trip changed %+v into %+v", e, got)
		}
	}
	for _, bad := range [][]byte{
		{2}, // another version
		append([]byte{1, 0x80}, make([]byte, 32)...),                           // unknown flag
		append([]byte{1, extHasReveal}, make([]byte, 40)...),                   // short reveal area
		append([]byte{1, 0}, make([]byte, 33)...),                              // trailing byte
		append(append([]byte{1, extHasCheckpoint}, make([]byte, 32)...), 0, 0), // empty checkpoint
	} {
		if _, err := DecodeVoteExtension(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

func FuzzDecodeVoteExtension(f *testing.F) {
	f.Add([]byte{})
	f.Add((&VoteExtension{Commit: [32]byte{1}, Reveal: make([]byte, 32), CheckpointSig: []byte("x")}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeVoteExtension(b)
		if err != nil {
			return
		}
		if len(b) > 0 && !bytes.Equal(e.Encode(), b) {
			t.Fatalf("%x decodes to %+v, which encodes to %x", b, e, e.Encode())
		}
	})
}

func FuzzDecodeExtTx(f *testing.F) {
	f.Add((&extTx{height: 3, round: 0, votes: []extVote{{addr: make([]byte, 20), ext: []byte{1}, sig: make([]byte, 64)}}}).encode())
	f.Add([]byte{0xce, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := decodeExtTx(b)
		if err != nil {
			return
		}
		if !bytes.Equal(tx.encode(), b) {
			t.Fatalf("%x does not encode back", b)
		}
	})
}

// beaconNet drives one App as four validators would: it signs the validators' vote extensions
// with their consensus keys (those of genesis) and hands them to the next proposer.
type beaconNet struct {
	t    *testing.T
	app  *App
	cons []ed25519.PrivateKey
}

func (n *beaconNet) secret(v int, h int64) []byte {
	s := sha256.Sum256([]byte{byte(v), byte(h), byte(h >> 8)})
	return s[:]
}

// commitInfo is the extended last commit of height h, each validator committing and revealing.
func (n *beaconNet) commitInfo(h int64, tamper func(v int, ext []byte) []byte) abci.ExtendedCommitInfo {
	info := abci.ExtendedCommitInfo{Round: 0}
	for v, priv := range n.cons {
		e := &VoteExtension{Commit: sha256.Sum256(n.secret(v, h)), Reveal: n.secret(v, h-1)}
		raw := e.Encode()
		sig := ed25519.Sign(priv, cmttypes.VoteExtensionSignBytes(testChain, &cmtproto.Vote{Height: h, Round: 0, Extension: raw}))
		if tamper != nil {
			raw = tamper(v, raw)
		}
		pub := priv.Public().(ed25519.PublicKey)
		info.Votes = append(info.Votes, abci.ExtendedVoteInfo{
			Validator:     abci.Validator{Address: consAddrOf(pub), Power: 10},
			VoteExtension: raw, ExtensionSignature: sig, BlockIdFlag: cmtproto.BlockIDFlagCommit,
		})
	}
	return info
}

func consAddrOf(pub ed25519.PublicKey) []byte { a := contracts.AddressOf(pub); return a[:] }

func (n *beaconNet) propose(h int64, info abci.ExtendedCommitInfo) [][]byte {
	prep, err := n.app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{Height: h, LocalLastCommit: info, MaxTxBytes: 1 << 20})
	if err != nil {
		n.t.Fatal(err)
	}
	return prep.Txs
}

func (n *beaconNet) accepts(h int64, txs [][]byte) bool {
	res, err := n.app.ProcessProposal(context.Background(), &abci.ProcessProposalRequest{Height: h, Txs: txs})
	if err != nil {
		n.t.Fatal(err)
	}
	return res.Status == abci.PROCESS_PROPOSAL_STATUS_ACCEPT
}

// TestBeaconAttacks: the auction's seed comes from the validators' committed-then-revealed
// secrets, carried into blocks by the proposer and checked by every validator.
func TestBeaconAttacks(t *testing.T) {
	app, store := openApp(t, t.TempDir())
	initChain(t, app, genesis(t, nil))
	n := &beaconNet{t: t, app: app}
	for i := 0; i < 4; i++ {
		n.cons = append(n.cons, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(200 + i)}, 32)))
	}
	finalize(t, app, 1, nil)
	var last []byte
	for h := int64(2); h <= 5; h++ {
		txs := n.propose(h, n.commitInfo(h-1, nil))
		if len(txs) != 1 || !isExtTx(txs[0]) {
			t.Fatalf("height %d: the proposal holds %d txs, want the extension tx", h, len(txs))
		}
		if !n.accepts(h, txs) {
			t.Fatalf("height %d: an honest extension tx is rejected", h)
		}
		res := finalize(t, app, h, txs)
		if res.TxResults[0].Code != 0 {
			t.Fatalf("height %d: extension tx: %s", h, res.TxResults[0].Log)
		}
		v, err := contracts.BeaconValue(committedView{store: store})
		if err != nil {
			t.Fatal(err)
		}
		if h >= 3 && (v == nil || bytes.Equal(v, last)) {
			t.Fatalf("height %d: the beacon did not move (%x)", h, v)
		}
		last = v
	}

	for _, tc := range []struct {
		name string
		txs  func() [][]byte
	}{
		{"forge another validator's vote extension to bias the seed", func() [][]byte {
			return n.propose(6, n.commitInfo(5, func(v int, ext []byte) []byte {
				if v == 1 {
					ext = bytes.Clone(ext)
					ext[len(ext)-1] ^= 1 // a reveal of the proposer's choosing
				}
				return ext
			}))
		}},
		{"replay the extensions of an older height", func() [][]byte { return n.propose(6, n.commitInfo(4, nil)) }},
		{"put the extension tx anywhere but first", func() [][]byte {
			txs := n.propose(6, n.commitInfo(5, nil))
			return [][]byte{newAccount(1).tx(&contracts.Burn{Amount: contracts.CIRO(1)}), txs[0]}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n.accepts(6, tc.txs()) {
				t.Fatal("ProcessProposal accepted it")
			}
		})
	}
}
