package localstark

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/NethermindEth/starknet.go/client"
	"github.com/NethermindEth/starknet.go/curve"
	"github.com/NethermindEth/starknet.go/hash"
	"github.com/NethermindEth/starknet.go/rpc"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
)

// SpecVersion is the Starknet JSON-RPC version served; starknet.go v0.17.0 insists on it.
const SpecVersion = "0.9.0"

// Config sets up a Node.
type Config struct {
	// StarknetChainID is the Starknet chain id, a short string ("SN_CIRO_LOCAL").
	StarknetChainID string
	// Registry is the address the registry contract lives at.
	Registry felt.Felt
	// CiroChainID and Genesis are the registry's constructor arguments.
	CiroChainID felt.Felt
	Genesis     checkpoint.ValidatorSet
	// BlockTime is how often Run closes a block.
	BlockTime time.Duration
	// L2GasPrice is the price of L2 gas in fri; invokes bounded below it are refused.
	L2GasPrice uint64
}

type acctState struct {
	pubKey felt.Felt
	nonce  uint64 // of the last transaction executed
	queued uint64 // transactions received and not yet executed
}

type txRecord struct {
	tx       rpc.BroadcastInvokeTxnV3
	hash     felt.Felt
	block    uint64 // 0 while RECEIVED
	receipt  rpc.TransactionReceiptWithBlockInfo
	executed bool
}

// Node is the endpoint's state. All methods are safe for concurrent use.
type Node struct {
	cfg       Config
	chainFelt felt.Felt

	mu        sync.Mutex
	accounts  map[felt.Felt]*acctState
	registry  *checkpoint.Registry
	txs       map[felt.Felt]*txRecord
	pending   []*txRecord
	block     uint64
	gasPrice  uint64
	outage    bool
	revertN   int
	invokes   int // accepted by add_invoke
	accepted  int // checkpoints the registry took
	duplicate int // checkpoints the registry ignored as seen
}

// New starts an endpoint at block 0 with a deployed registry.
func New(cfg Config) (*Node, error) {
	chain, err := checkpoint.ParseShortString(cfg.StarknetChainID)
	if err != nil {
		return nil, fmt.Errorf("localstark: chain id: %w", err)
	}
	reg, err := checkpoint.NewRegistry(cfg.CiroChainID, cfg.Genesis)
	if err != nil {
		return nil, fmt.Errorf("localstark: registry: %w", err)
	}
	if cfg.BlockTime <= 0 {
		cfg.BlockTime = 100 * time.Millisecond
	}
	if cfg.L2GasPrice == 0 {
		cfg.L2GasPrice = 1000
	}
	return &Node{
		cfg: cfg, chainFelt: chain, accounts: map[felt.Felt]*acctState{}, registry: reg,
		txs: map[felt.Felt]*txRecord{}, gasPrice: cfg.L2GasPrice,
	}, nil
}

// AddAccount deploys an account whose transactions pubKey signs.
func (n *Node) AddAccount(address, pubKey felt.Felt) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.accounts[address] = &acctState{pubKey: pubKey}
}

// Handler serves JSON-RPC over HTTP at any path. During an injected outage it answers 503.
func (n *Node) Handler() (http.Handler, error) {
	srv := client.NewServer()
	if err := srv.RegisterName("starknet", &service{n: n}); err != nil {
		return nil, fmt.Errorf("localstark: register service: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		down := n.outage
		n.mu.Unlock()
		if down {
			http.Error(w, "endpoint down (injected outage)", http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}), nil
}

// Run closes a block every BlockTime until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	t := time.NewTicker(n.cfg.BlockTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n.Produce()
		}
	}
}

// Produce closes one block: it executes the received transactions in order, and the previous
// block's transactions become ACCEPTED_ON_L2.
func (n *Node) Produce() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.block++
	for _, rec := range n.pending {
		n.execute(rec)
	}
	n.pending = nil
	for _, rec := range n.txs {
		if rec.executed && rec.block < n.block {
			rec.receipt.FinalityStatus = rpc.TxnFinalityStatusAcceptedOnL2
		}
	}
}

// gasFor is this endpoint's gas model: a base cost, calldata, and a cost per signature check.
// It is not Starknet's; it only makes fees grow with what a batch carries.
func gasFor(calldata []*felt.Felt) uint64 {
	g := uint64(20_000) + 100*uint64(len(calldata))
	if calls, err := checkpoint.ParseMulticall(calldata); err == nil {
		for _, c := range calls {
			if sub, err := checkpoint.SubmissionFromFelts(c.Calldata); err == nil {
				g += 5_000 + 2_000*uint64(len(sub.Sigs))
			}
		}
	}
	return g
}

// execute runs one transaction at the current block. A revert still takes the nonce and the fee,
// as on Starknet.
func (n *Node) execute(rec *txRecord) {
	acct := n.accounts[*rec.tx.SenderAddress]
	acct.nonce++
	acct.queued--
	gas := gasFor(rec.tx.Calldata)
	fee := new(felt.Felt).SetUint64(gas * n.gasPrice)
	rec.executed, rec.block = true, n.block
	rec.receipt = rpc.TransactionReceiptWithBlockInfo{
		TransactionReceipt: rpc.TransactionReceipt{
			Hash: &rec.hash, Type: rpc.TransactionTypeInvoke,
			ActualFee:      rpc.FeePayment{Amount: fee, Unit: rpc.UnitFri},
			FinalityStatus: rpc.TxnFinalityStatusPreConfirmed, ExecutionStatus: rpc.TxnExecutionStatusSUCCEEDED,
			MessagesSent: []rpc.MsgToL1{}, Events: []rpc.Event{},
			ExecutionResources: rpc.ExecutionResources{L2Gas: uint(gas)},
		},
		BlockHash:   curve.PoseidonArray(new(felt.Felt).SetUint64(n.block), &n.chainFelt),
		BlockNumber: uint(n.block),
	}
	if reason := n.apply(rec.tx.Calldata, true); reason != "" {
		rec.receipt.ExecutionStatus = rpc.TxnExecutionStatusREVERTED
		rec.receipt.RevertReason = reason
	}
}

// apply runs the multicall against a copy of the registry and, when commit is set, keeps the
// copy only if every call succeeds: a multicall is all or nothing. Without commit it is the dry
// run a fee estimate makes.
func (n *Node) apply(calldata []*felt.Felt, commit bool) string {
	if commit && n.revertN > 0 {
		n.revertN--
		return "injected revert"
	}
	calls, err := checkpoint.ParseMulticall(calldata)
	if err != nil {
		return "bad multicall: " + err.Error()
	}
	reg := n.registry.Clone()
	var accepted, dup int
	for i, c := range calls {
		if !c.To.Equal(&n.cfg.Registry) {
			return fmt.Sprintf("call %d: no contract at %s", i, &c.To)
		}
		if !c.Selector.Equal(checkpoint.SubmitSelector) {
			return fmt.Sprintf("call %d: ENTRYPOINT_NOT_FOUND", i)
		}
		sub, err := checkpoint.SubmissionFromFelts(c.Calldata)
		if err != nil {
			return fmt.Sprintf("call %d: Failed to deserialize param: %v", i, err)
		}
		out, err := reg.Submit(sub)
		if err != nil {
			if rf, ok := checkpoint.IsRefusal(err); ok {
				return fmt.Sprintf("call %d: %s", i, rf.Reason)
			}
			return fmt.Sprintf("call %d: %v", i, err)
		}
		if out == checkpoint.Accepted {
			accepted++
		} else {
			dup++
		}
	}
	if !commit {
		return ""
	}
	n.registry = reg
	n.accepted += accepted
	n.duplicate += dup
	return ""
}

// addInvoke admits a transaction: the sender exists, the version is 3, the hash and signature
// check, the nonce is the next one, and the fee bound is not below the gas price.
func (n *Node) addInvoke(tx *rpc.BroadcastInvokeTxnV3) (*felt.Felt, error) {
	if tx.SenderAddress == nil || tx.Nonce == nil || tx.ResourceBounds == nil {
		return nil, errValidation("missing sender, nonce or resource bounds")
	}
	if tx.Version != rpc.TransactionV3 {
		return nil, errUnsupportedVersion
	}
	acct, ok := n.accounts[*tx.SenderAddress]
	if !ok {
		return nil, errValidation("no account at " + tx.SenderAddress.String())
	}
	h, err := hash.TransactionHashInvokeV3(tx, &n.chainFelt)
	if err != nil {
		return nil, errValidation("cannot hash the transaction: " + err.Error())
	}
	if len(tx.Signature) != 2 || !checkpoint.VerifySignature(h, &acct.pubKey, tx.Signature[0], tx.Signature[1]) {
		return nil, errValidation("invalid signature")
	}
	if _, dup := n.txs[*h]; dup {
		return nil, errDuplicateTx
	}
	want := acct.nonce + acct.queued
	if got := tx.Nonce.BigInt(new(big.Int)); !got.IsUint64() || got.Uint64() != want {
		return nil, errNonce(fmt.Sprintf("account nonce %d, transaction nonce %s", want, tx.Nonce))
	}
	price, err := tx.ResourceBounds.L2Gas.MaxPricePerUnit.ToBigInt()
	if err != nil || price.Cmp(new(big.Int).SetUint64(n.gasPrice)) < 0 {
		return nil, errFeeBelowMinimum
	}
	amount, err := tx.ResourceBounds.L2Gas.MaxAmount.ToUint64()
	if err != nil || amount < gasFor(tx.Calldata) {
		return nil, errFeeBelowMinimum
	}
	rec := &txRecord{tx: *tx, hash: *h}
	n.txs[*h] = rec
	n.pending = append(n.pending, rec)
	acct.queued++
	n.invokes++
	return h, nil
}

// SetOutage makes the endpoint answer every request with 503 (true) or serve again (false).
func (n *Node) SetOutage(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.outage = down
}

// RevertNext makes the next k executed transactions revert.
func (n *Node) RevertNext(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.revertN += k
}

// BumpNonce spends address's next nonce, as another transaction from the same account would:
// the relayer's next nonce then clashes.
func (n *Node) BumpNonce(address felt.Felt) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, ok := n.accounts[address]
	if !ok {
		return errors.New("localstark: no such account")
	}
	a.nonce++
	return nil
}

// SetGasPrice changes the L2 gas price; raising it makes bounds estimated before underpriced.
func (n *Node) SetGasPrice(p uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gasPrice = p
}

// Stats is what tests read back.
type Stats struct {
	Block      uint64
	Invokes    int
	Accepted   int
	Duplicates int
	LastNonce  uint64
}

// Stats reports the endpoint's counters and the registry's last nonce.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return Stats{Block: n.block, Invokes: n.invokes, Accepted: n.accepted, Duplicates: n.duplicate, LastNonce: n.registry.LastNonce()}
}

// Registry returns a copy of the registry's state.
func (n *Node) Registry() *checkpoint.Registry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.registry.Clone()
}

// Serve answers JSON-RPC on ln and closes blocks until ctx ends or the server fails; it returns
// when both have stopped. It is how the devnet runs the endpoint.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	h, err := n.Handler()
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	blocks := make(chan struct{})
	go func() { defer close(blocks); _ = n.Run(runCtx) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-runCtx.Done():
		err = nil
	case err = <-served:
	}
	stop()
	<-blocks
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("localstark: serve: %w", err)
	}
	return nil
}
