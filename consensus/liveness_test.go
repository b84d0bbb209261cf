package consensus

import (
	"context"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/ciro-network/ciro-node/contracts"
)

// TestProposalAttacks: a proposer must not fill its block with transactions that cost nobody a
// fee, which would let it choose the block's hash, and so anything seeded from it, for free.
func TestProposalAttacks(t *testing.T) {
	alice, bob := newAccount(1), newAccount(2)
	app, _ := openApp(t, t.TempDir())
	initChain(t, app, genesis(t, []*testAccount{alice, bob}))
	finalize(t, app, 1, nil)

	good := alice.tx(&contracts.Transfer{To: bob.addr, Amount: contracts.CIRO(1)})
	badSig := bob.tx(&contracts.Transfer{To: alice.addr, Amount: contracts.CIRO(1)})
	badSig[len(badSig)-1] ^= 1 // the signature is the encoding's tail
	otherChain := func() []byte {
		tx := &contracts.Tx{ChainID: "another-chain", Nonce: 0, Fee: contracts.DefaultParams().MinTxFee,
			Msg: &contracts.Transfer{To: alice.addr, Amount: contracts.CIRO(1)}}
		tx.Sign(bob.priv)
		return tx.Encode()
	}()
	invalid := func() []byte {
		tx := &contracts.Tx{ChainID: testChain, Nonce: 0, Fee: contracts.DefaultParams().MinTxFee,
			Msg: &contracts.SubmitJob{Spec: contracts.JobSpec{Redundancy: 1}}} // no CID, no price
		tx.Sign(bob.priv)
		return tx.Encode()
	}()

	for _, tc := range []struct {
		name   string
		txs    [][]byte
		accept bool
	}{
		{"an honest block", [][]byte{good}, true},
		{"an empty block", nil, true},
		{"fill the block with undecodable txs to grind the seed", [][]byte{good, []byte("grind-0001"), []byte("grind-0002")}, false},
		{"fill the block with badly signed txs to grind the seed", [][]byte{good, badSig}, false},
		{"fill the block with txs for another chain to grind the seed", [][]byte{otherChain}, false},
		{"fill the block with txs that fail their own checks to grind the seed", [][]byte{invalid}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := app.ProcessProposal(context.Background(), &abci.ProcessProposalRequest{Height: 2, Txs: tc.txs})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Status == abci.PROCESS_PROPOSAL_STATUS_ACCEPT; got != tc.accept {
				t.Fatalf("ProcessProposal status %v, want accept=%v", res.Status, tc.accept)
			}
			if tc.accept {
				return
			}
			// The node's own proposals leave such transactions out.
			prep, err := app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{Height: 2, Txs: tc.txs, MaxTxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			res, err = app.ProcessProposal(context.Background(), &abci.ProcessProposalRequest{Height: 2, Txs: prep.Txs})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != abci.PROCESS_PROPOSAL_STATUS_ACCEPT {
				t.Fatalf("the block PrepareProposal built from %d txs (%d kept) is rejected", len(tc.txs), len(prep.Txs))
			}
		})
	}
}
