package localstark

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/account"
	"github.com/NethermindEth/starknet.go/client/rpcerr"
	"github.com/NethermindEth/starknet.go/rpc"
	"github.com/NethermindEth/starknet.go/utils"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
)

var (
	registry = *new(felt.Felt).SetUint64(0xc120)
	sender   = *new(felt.Felt).SetUint64(0xacc0)
	key      = big.NewInt(0x5eed)
	ciro     = checkpoint.ShortString("ciro-devnet")
)

type fixture struct {
	node *Node
	acct *account.Account
	set  checkpoint.ValidatorSet
	keys map[felt.Felt]*big.Int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	keys := map[felt.Felt]*big.Int{}
	var set checkpoint.ValidatorSet
	for i := int64(1); i <= 3; i++ {
		k := big.NewInt(7_000_001 * i)
		pub := checkpoint.PublicKey(k)
		keys[pub] = k
		set = append(set, checkpoint.Member{PubKey: pub, Power: 1})
	}
	// The layout wants increasing keys.
	for i := range set {
		for j := i + 1; j < len(set); j++ {
			if set[j].PubKey.Cmp(&set[i].PubKey) < 0 {
				set[i], set[j] = set[j], set[i]
			}
		}
	}
	node, err := New(Config{StarknetChainID: "SN_CIRO_LOCAL", Registry: registry, CiroChainID: ciro, Genesis: set})
	if err != nil {
		t.Fatal(err)
	}
	node.AddAccount(sender, checkpoint.PublicKey(key))
	h, err := node.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p, err := rpc.NewProvider(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("starknet.go refuses the endpoint: %v", err)
	}
	pub := checkpoint.PublicKey(key)
	acct, err := account.NewAccount(p, &sender, pub.String(), account.SetNewMemKeystore(pub.String(), key), account.CairoV2)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{node: node, acct: acct, set: set, keys: keys}
}

func (f *fixture) submission(t *testing.T, nonce uint64, signers int) *checkpoint.Submission {
	t.Helper()
	cp := checkpoint.Checkpoint{ChainID: ciro, Epoch: nonce, StartHeight: nonce*10 - 9, EndHeight: nonce * 10, NextSetHash: *f.set.Hash(), Nonce: nonce}
	cp.JobsRoot.SetUint64(nonce)
	sub := &checkpoint.Submission{Checkpoint: cp}
	for i := 0; i < signers; i++ {
		r, s, err := checkpoint.Sign(cp.Digest(), f.keys[f.set[i].PubKey])
		if err != nil {
			t.Fatal(err)
		}
		sub.Sigs = append(sub.Sigs, checkpoint.Signature{Index: uint32(i), R: r, S: s})
	}
	return sub
}

// invoke builds and signs an INVOKE v3 of subs at nonce, bounded at 10^7 L2 gas and mult times
// the endpoint's gas price.
func (f *fixture) invoke(t *testing.T, nonce uint64, mult float64, subs ...*checkpoint.Submission) *rpc.BroadcastInvokeTxnV3 {
	t.Helper()
	var calls []rpc.InvokeFunctionCall
	for _, s := range subs {
		calls = append(calls, rpc.InvokeFunctionCall{ContractAddress: &registry, FunctionName: checkpoint.SubmitEntryPoint, CallData: s.Felts()})
	}
	calldata, err := f.acct.FmtCalldata(utils.InvokeFuncCallsToFunctionCalls(calls))
	if err != nil {
		t.Fatal(err)
	}
	zero := rpc.ResourceBounds{MaxAmount: "0x0", MaxPricePerUnit: "0x0"}
	l2 := rpc.ResourceBounds{MaxAmount: "0x989680", MaxPricePerUnit: rpc.U128(fmt.Sprintf("%#x", int(1000*mult)))}
	tx := utils.BuildInvokeTxn(&sender, new(felt.Felt).SetUint64(nonce), calldata, &rpc.ResourceBoundsMapping{L1Gas: zero, L1DataGas: zero, L2Gas: l2}, nil)
	if err := f.acct.SignInvokeTransaction(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestEstimateFeeRunsTheTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	est, err := f.acct.Provider.EstimateFee(ctx, []rpc.BroadcastTxn{f.invoke(t, 0, 1, f.submission(t, 1, 2))}, nil, rpc.WithBlockTag(rpc.BlockTagPreConfirmed))
	if err != nil || est[0].OverallFee.IsZero() || est[0].L2GasPrice.Uint64() != 1000 {
		t.Fatalf("estimate of a good batch: %+v %v", est, err)
	}
	// A batch that would revert (checkpoint 2 before 1) fails its estimate, as on Starknet, so a
	// relayer learns it before paying.
	_, err = f.acct.Provider.EstimateFee(ctx, []rpc.BroadcastTxn{f.invoke(t, 0, 1, f.submission(t, 2, 2))}, nil, rpc.WithBlockTag(rpc.BlockTagPreConfirmed))
	if rpcCode(err) != rpc.ErrTxnExec.Code {
		t.Fatalf("estimate of a batch that reverts: %v", err)
	}
	if st := f.node.Stats(); st.LastNonce != 0 || st.Invokes != 0 {
		t.Fatalf("an estimate changed the endpoint: %+v", st)
	}
}

func rpcCode(err error) int {
	var re *rpcerr.RPCError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

func TestMulticallLayoutIsStarknetGos(t *testing.T) {
	f := newFixture(t)
	subs := []*checkpoint.Submission{f.submission(t, 1, 2), f.submission(t, 2, 3)}
	tx := f.invoke(t, 0, 1.5, subs...)
	want := checkpoint.Multicall(&registry, subs)
	if len(tx.Calldata) != len(want) {
		t.Fatalf("account calldata %d felts, checkpoint.Multicall %d", len(tx.Calldata), len(want))
	}
	for i := range want {
		if !tx.Calldata[i].Equal(want[i]) {
			t.Fatalf("felt %d differs: account %s, ours %s", i, tx.Calldata[i], want[i])
		}
	}
}

func TestInvokeLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.acct.Provider.AddInvokeTransaction(ctx, f.invoke(t, 0, 1.5, f.submission(t, 1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.acct.Provider.TransactionStatus(ctx, res.Hash)
	if err != nil || st.FinalityStatus != rpc.TxnStatusReceived {
		t.Fatalf("before a block: %+v %v", st, err)
	}
	if _, err := f.acct.Provider.TransactionReceipt(ctx, res.Hash); rpcCode(err) != rpc.ErrHashNotFound.Code {
		t.Fatalf("receipt before a block: %v", err)
	}
	f.node.Produce()
	rc, err := f.acct.Provider.TransactionReceipt(ctx, res.Hash)
	if err != nil || rc.FinalityStatus != rpc.TxnFinalityStatusPreConfirmed || rc.ExecutionStatus != rpc.TxnExecutionStatusSUCCEEDED {
		t.Fatalf("after one block: %+v %v", rc, err)
	}
	f.node.Produce()
	rc, err = f.acct.Provider.TransactionReceipt(ctx, res.Hash)
	if err != nil || rc.FinalityStatus != rpc.TxnFinalityStatusAcceptedOnL2 || rc.BlockNumber != 1 || rc.ActualFee.Amount.IsZero() {
		t.Fatalf("after two blocks: %+v %v", rc, err)
	}
	n, err := f.acct.Nonce(ctx)
	if err != nil || n.Uint64() != 1 {
		t.Fatalf("account nonce %v %v", n, err)
	}
	// The registry's views answer through starknet_call.
	out, err := f.acct.Provider.Call(ctx, rpc.FunctionCall{ContractAddress: &registry, EntryPointSelector: selLastNonce}, rpc.WithBlockTag(rpc.BlockTagLatest))
	if err != nil || len(out) != 1 || out[0].Uint64() != 1 {
		t.Fatalf("last_nonce: %v %v", out, err)
	}
	// verify_job_settlement(1, leaf, []): the jobs root of epoch 1 is 1 here, a one-leaf tree.
	one := new(felt.Felt).SetUint64(1)
	args := []*felt.Felt{one, one, new(felt.Felt)}
	out, err = f.acct.Provider.Call(ctx, rpc.FunctionCall{ContractAddress: &registry, EntryPointSelector: selVerifySettled, Calldata: args}, rpc.WithBlockTag(rpc.BlockTagLatest))
	if err != nil || len(out) != 1 || !out[0].Equal(one) {
		t.Fatalf("verify_job_settlement: %v %v", out, err)
	}
}

func TestAttackForgedInvokeSignature(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tx := f.invoke(t, 0, 1.5, f.submission(t, 1, 2))
	// Signed by a key that is not the account's.
	other := checkpoint.PublicKey(big.NewInt(99))
	forger, _ := account.NewAccount(f.acct.Provider, &sender, other.String(), account.SetNewMemKeystore(other.String(), big.NewInt(99)), account.CairoV2)
	forged := *tx
	if err := forger.SignInvokeTransaction(ctx, &forged); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, &forged); rpcCode(err) != rpc.ErrValidationFailure.Code {
		t.Fatalf("forged signature: %v", err)
	}
	// Calldata changed after signing: the hash no longer matches the signature.
	tampered := *tx
	tampered.Calldata = append([]*felt.Felt(nil), tx.Calldata...)
	tampered.Calldata[len(tampered.Calldata)-1] = new(felt.Felt).SetUint64(5)
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, &tampered); rpcCode(err) != rpc.ErrValidationFailure.Code {
		t.Fatalf("tampered calldata: %v", err)
	}
	if f.node.Stats().Invokes != 0 {
		t.Fatal("a refused invoke was admitted")
	}
}

func TestInvokeRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, f.invoke(t, 1, 1.5, f.submission(t, 1, 2))); rpcCode(err) != rpc.ErrInvalidTransactionNonce.Code {
		t.Fatalf("future nonce: %v", err)
	}
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, f.invoke(t, 0, 0.5, f.submission(t, 1, 2))); rpcCode(err) != rpc.ErrFeeBelowMinimum.Code {
		t.Fatalf("underpriced: %v", err)
	}
	tx := f.invoke(t, 0, 1.5, f.submission(t, 1, 2))
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, tx); rpcCode(err) != rpc.ErrDuplicateTx.Code {
		t.Fatalf("same transaction twice: %v", err)
	}
	// Nonce 1 may follow while 0 is still in flight.
	if _, err := f.acct.Provider.AddInvokeTransaction(ctx, f.invoke(t, 1, 1.5, f.submission(t, 2, 2))); err != nil {
		t.Fatalf("second invoke in flight: %v", err)
	}
	f.node.SetOutage(true)
	if _, err := f.acct.Provider.BlockNumber(ctx); err == nil {
		t.Fatal("no error during an outage")
	}
	f.node.SetOutage(false)
	if _, err := f.acct.Provider.BlockNumber(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMulticallIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Checkpoint 1 is good, checkpoint 2 has one signature of three (below 2/3): the whole invoke
	// reverts and checkpoint 1 is not kept either.
	res, err := f.acct.Provider.AddInvokeTransaction(ctx, f.invoke(t, 0, 1.5, f.submission(t, 1, 2), f.submission(t, 2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	f.node.Produce()
	f.node.Produce()
	rc, err := f.acct.Provider.TransactionReceipt(ctx, res.Hash)
	if err != nil || rc.ExecutionStatus != rpc.TxnExecutionStatusREVERTED || rc.RevertReason != "call 1: LOW_POWER" {
		t.Fatalf("receipt %+v %v", rc, err)
	}
	if st := f.node.Stats(); st.LastNonce != 0 || st.Accepted != 0 {
		t.Fatalf("a reverted multicall left state: %+v", st)
	}
	// The revert still spent the account's nonce, as on Starknet.
	if n, _ := f.acct.Nonce(ctx); n.Uint64() != 1 {
		t.Fatalf("nonce after a revert %d", n.Uint64())
	}
}

// TestServeRelaysUntilCancelled runs the endpoint as the devnet does, on a listener with its own
// block loop, and stops it with its context.
func TestServeRelaysUntilCancelled(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.node.cfg.BlockTime = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.node.Serve(ctx, ln) }()
	p, err := rpc.NewProvider(ctx, "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := p.BlockNumber(ctx)
		if err == nil && b >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no blocks closed: %d %v", b, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}
