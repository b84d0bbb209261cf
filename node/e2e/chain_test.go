package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// TestAgreement sends transfers through all four validators and checks that every transfer
// commits with the exact balances expected, and that every node recorded the same app hash at
// every height over at least 50 heights.
func TestAgreement(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	faucet := mustKey(t, d.Home(0), node.FaucetKeyName)

	// One sender per node, so each sender's nonces reach its node in order.
	senders := make([]*node.Key, 4)
	var funded int64
	for i := range senders {
		k, err := node.AddKey(d.Home(0), fmt.Sprintf("sender%d", i))
		if err != nil {
			t.Fatal(err)
		}
		senders[i] = k
		res, err := d.Clients[0].Send(ctx, faucet, &contracts.Transfer{To: k.Address, Amount: contracts.CIRO(100)})
		if err != nil {
			t.Fatalf("fund sender%d: %v", i, err)
		}
		funded = max(funded, res.Height)
	}
	// Each sender broadcasts through its own node, whose mempool checks against that node's
	// committed state: a node one block behind node0 would still see the sender unfunded.
	for _, c := range d.Clients {
		waitHeight(ctx, t, c, funded)
	}
	recipient, err := node.AddKey(d.Home(0), "recipient")
	if err != nil {
		t.Fatal(err)
	}
	const perSender = 10
	params, err := d.Clients[0].Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*perSender)
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := d.Clients[i]
			chainID, err := c.ChainID(ctx)
			if err != nil {
				errs <- err
				return
			}
			var hashes [][]byte
			for n := uint64(0); n < perSender; n++ {
				tx := &contracts.Tx{ChainID: chainID, Nonce: n, Fee: params.MinTxFee,
					Msg: &contracts.Transfer{To: recipient.Address, Amount: uint256.NewInt(1000 + uint64(i))}}
				tx.Sign(s.Private)
				h, err := c.Broadcast(ctx, tx.Encode())
				if err != nil {
					errs <- fmt.Errorf("sender%d nonce %d via node%d: %w", i, n, i, err)
					return
				}
				hashes = append(hashes, h)
			}
			for _, h := range hashes {
				res, err := c.WaitTx(ctx, h)
				if err == nil {
					err = res.Err()
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	want := uint256.NewInt(perSender * (1000 + 1001 + 1002 + 1003))
	for i, c := range d.Clients {
		if got := balanceOf(ctx, t, c, recipient.Address); !got.Eq(want) {
			t.Errorf("node%d: recipient balance %s, want %s", i, got.Dec(), want.Dec())
		}
	}
	for _, c := range d.Clients {
		waitHeight(ctx, t, c, 52)
	}
	lim := devnet.DefaultAgreementLimits
	lim.Heights = 50
	heights, err := d.CheckAgreementWithin(ctx, lim)
	if err != nil {
		t.Fatal(err)
	}
	if heights < 50 {
		t.Fatalf("compared %d heights, want at least 50", heights)
	}
	// Every node answers the same state at the same height.
	h := int64(50)
	var first []byte
	for i, c := range d.Clients {
		res, err := c.RPC.ABCIQueryWithOptions(ctx, consensus.QuerySupply, nil, rpcOpts(h))
		if err != nil {
			t.Fatal(err)
		}
		var sv consensus.SupplyView
		if err := json.Unmarshal(res.Response.Value, &sv); err != nil {
			t.Fatal(err)
		}
		if !sv.InvariantOK {
			t.Errorf("node%d: supply invariant broken at height %d", i, h)
		}
		if i == 0 {
			first = res.Response.Value
		} else if string(first) != string(res.Response.Value) {
			t.Errorf("node%d supply at height %d differs from node0's", i, h)
		}
	}
}

// TestValidatorJoinAndLeave stakes a full node's account with its consensus key, sees it join
// CometBFT's validator set exactly at H+2, then unstakes and sees it leave at H'+2 and its
// funds return after the cooldown.
func TestValidatorJoinAndLeave(t *testing.T) {
	d := nodetest.NetworkWith(t, 4, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	home := d.Home(4)
	c := d.Clients[4]
	key := mustKey(t, home, node.ValidatorKeyName)
	cons := consAddrOf(t, home)

	msg, err := node.StakeMsg(home, "20000ciro", true, false, "node4")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Send(ctx, key, msg)
	if err != nil {
		t.Fatalf("stake: %v", err)
	}
	h := res.Height
	waitHeight(ctx, t, c, h+2)
	if p, ok := cometPowers(ctx, t, c, h+1)[cons]; ok {
		t.Fatalf("node4 is in the validator set at H+1=%d with power %d; updates apply at H+2", h+1, p)
	}
	if p := cometPowers(ctx, t, c, h+2)[cons]; p != 20000 {
		t.Fatalf("node4 power at H+2=%d is %d, want 20000", h+2, p)
	}

	balBefore := balanceOf(ctx, t, c, key.Address)
	params, err := c.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Send(ctx, key, &contracts.Unstake{Amount: contracts.CIRO(20000)})
	if err != nil {
		t.Fatalf("unstake: %v", err)
	}
	h = res.Height
	waitHeight(ctx, t, c, h+2)
	if _, ok := cometPowers(ctx, t, c, h+1)[cons]; !ok {
		t.Fatalf("node4 left the set before H+2")
	}
	if p, ok := cometPowers(ctx, t, c, h+2)[cons]; ok {
		t.Fatalf("node4 still in the set at H+2 with power %d", p)
	}
	want := new(uint256.Int).Sub(balBefore, params.MinTxFee)
	want.Add(want, contracts.CIRO(20000))
	eventually(t, 60*time.Second, "unbonded stake to return", func() bool {
		return balanceOf(ctx, t, c, key.Address).Eq(want)
	})
	if st := stakerOf(ctx, t, c, key.Address); !st.Tokens.IsZero() {
		t.Fatalf("staker keeps %s tokens after unstaking everything", st.Tokens.Dec())
	}
}

// TestCrashRecovery kills a validator with SIGKILL while transfers flow, restarts it, and
// checks that it replays, catches up and agrees on state with the others.
func TestCrashRecovery(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	faucet := mustKey(t, d.Home(0), node.FaucetKeyName)
	recipient, err := node.AddKey(d.Home(0), "recipient")
	if err != nil {
		t.Fatal(err)
	}
	chainID, err := d.Clients[0].ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	params, err := d.Clients[0].Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var hashes [][]byte
	loadDone := make(chan error, 1)
	go func() {
		nonce := uint64(0)
		for loadCtx.Err() == nil {
			tx := &contracts.Tx{ChainID: chainID, Nonce: nonce, Fee: params.MinTxFee,
				Msg: &contracts.Transfer{To: recipient.Address, Amount: uint256.NewInt(7)}}
			tx.Sign(faucet.Private)
			// Not under loadCtx: a broadcast cut off by the stop could still reach the mempool
			// and commit without being counted.
			h, err := d.Clients[0].Broadcast(ctx, tx.Encode())
			if err != nil {
				loadDone <- err
				return
			}
			hashes = append(hashes, h)
			nonce++
			time.Sleep(20 * time.Millisecond)
		}
		loadDone <- nil
	}()

	time.Sleep(3 * time.Second)
	d.Procs[2].Kill()
	killedAt, _ := d.Clients[0].Height(ctx)
	waitHeight(ctx, t, d.Clients[0], killedAt+5) // three validators keep the chain going
	if err := d.Restart(2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, h := range hashes {
		if _, err := d.Clients[0].WaitTx(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	top, _ := d.Clients[0].Height(ctx)
	waitHeight(ctx, t, d.Clients[2], top)
	if _, err := d.CheckAgreement(ctx); err != nil {
		t.Fatal(err)
	}
	want := uint256.NewInt(7 * uint64(len(hashes)))
	for i, c := range d.Clients {
		res, err := c.RPC.ABCIQueryWithOptions(ctx, consensus.QueryAccount+recipient.Address.String(), nil, rpcOpts(top))
		if err != nil {
			t.Fatal(err)
		}
		var acc contracts.Account
		if err := json.Unmarshal(res.Response.Value, &acc); err != nil {
			t.Fatal(err)
		}
		if !acc.Balance.Eq(want) {
			t.Errorf("node%d at height %d: recipient has %s, want %s (%d transfers)", i, top, acc.Balance.Dec(), want.Dec(), len(hashes))
		}
	}
	t.Logf("%d transfers committed across a SIGKILL of node2 at height %d", len(hashes), killedAt)
}
