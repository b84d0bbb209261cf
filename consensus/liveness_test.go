package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

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

// TestQueryAttacks: queries are served from a committed, immutable version without the App's
// lock, and every list is paged, so no query load can hold up a block.
func TestQueryAttacks(t *testing.T) {
	var provs []*testAccount
	for i := 0; i < 30; i++ {
		provs = append(provs, newAccount(byte(10+i)))
	}
	app, _ := openApp(t, t.TempDir())
	initChain(t, app, genesis(t, provs))
	finalize(t, app, 1, nil)
	var txs [][]byte
	for _, p := range provs {
		txs = append(txs, p.tx(&contracts.Stake{Amount: contracts.CIRO(10), Roles: contracts.RoleProvider}))
		txs = append(txs, p.tx(&contracts.RegisterProvider{Capacity: 1, Asks: []contracts.Ask{{Type: contracts.JobAIInference, Price: contracts.CIRO(1)}}}))
	}
	for i, r := range finalize(t, app, 2, txs).TxResults {
		if r.Code != 0 {
			t.Fatalf("tx %d: %s", i, r.Log)
		}
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"query flood stalls block execution", func(t *testing.T) {
			// A block is executing (it holds the App's lock); a query must still be answered.
			app.mu.Lock()
			done := make(chan *abci.QueryResponse, 1)
			go func() {
				res, _ := app.Query(context.Background(), &abci.QueryRequest{Path: QueryProviders})
				done <- res
			}()
			select {
			case res := <-done:
				app.mu.Unlock()
				if res == nil || res.Code != 0 {
					t.Fatalf("query failed: %+v", res)
				}
			case <-time.After(10 * time.Second):
				app.mu.Unlock()
				t.Fatal("a query waited for the block being executed")
			}
		}},
		{"list every provider in one query to stall the node", func(t *testing.T) {
			var all []contracts.Provider
			after := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("the pages never end")
				}
				path := QueryProviders + "?limit=7"
				if after != "" {
					path += "&after=" + after
				}
				res, err := app.Query(context.Background(), &abci.QueryRequest{Path: path})
				if err != nil || res.Code != 0 {
					t.Fatalf("%s: %v %s", path, err, res.Log)
				}
				var page []contracts.Provider
				if err := json.Unmarshal(res.Value, &page); err != nil {
					t.Fatal(err)
				}
				if len(page) > 7 {
					t.Fatalf("a page of limit 7 holds %d providers", len(page))
				}
				all = append(all, page...)
				if after = res.Info; after == "" {
					break
				}
			}
			if len(all) != len(provs) {
				t.Fatalf("the pages hold %d providers, want %d", len(all), len(provs))
			}
			for i := 1; i < len(all); i++ {
				if bytes.Compare(all[i-1].Address[:], all[i].Address[:]) >= 0 {
					t.Fatalf("providers %d and %d out of order or repeated", i-1, i)
				}
			}
			// A huge limit is clamped.
			res, _ := app.Query(context.Background(), &abci.QueryRequest{Path: QueryProviders + "?limit=100000000"})
			if res.Code != 0 {
				t.Fatalf("clamped limit refused: %s", res.Log)
			}
		}},
		{"query in a loop while blocks commit", func(t *testing.T) {
			// Readers of committed versions run beside FinalizeBlock and Commit (run with -race).
			stop := make(chan struct{})
			errs := make(chan error, 1)
			go func() {
				defer close(errs)
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, _ := app.Query(context.Background(), &abci.QueryRequest{Path: QueryProviders})
					if res.Code != 0 {
						errs <- fmt.Errorf("query: %s", res.Log)
						return
					}
				}
			}()
			for h := int64(3); h < 13; h++ {
				finalize(t, app, h, [][]byte{provs[0].tx(&contracts.Transfer{To: provs[1].addr, Amount: contracts.CIRO(1)})})
			}
			close(stop)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}},
		{"query with a forged cursor", func(t *testing.T) {
			res, _ := app.Query(context.Background(), &abci.QueryRequest{Path: QueryProviders + "?after=zz"})
			if contracts.Code(res.Code) != contracts.CodeInvalidArgument {
				t.Fatalf("code %d (%s), want invalid_argument", res.Code, res.Log)
			}
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}
