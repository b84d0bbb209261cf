package consensus

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/api/cometbft/types/v1"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ciro-network/ciro-node/contracts"
)

// AppVersion is the application's protocol version, reported in Info.
const AppVersion uint64 = 1

// Options configure an App. Zero values are usable defaults except Store.
type Options struct {
	// Store holds the state. Required.
	Store StateStore
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// SigCacheSize bounds the cache of transactions whose signature CheckTx verified, so that
	// FinalizeBlock does not verify them again. Zero means 100,000.
	SigCacheSize int
	// CheckInvariants checks the supply invariant after every block and fails the block if it
	// breaks. It reads all state: on for tests and devnets, off in production.
	CheckInvariants bool
	// OnBlock, if set, is called after each Commit with the height, the app hash and the result
	// code of each of the block's transactions. The node uses
	// it for metrics and events; it must not call back into the App.
	OnBlock func(height int64, appHash []byte, txCodes []uint32)
	// BeaconKey is this validator's secret for the randomness beacon (voteext.go): its beacon
	// secret for each height is derived from it, so a restarted node reveals what it
	// committed to. Keep it secret. Without it the node's vote extensions carry no beacon
	// share.
	BeaconKey []byte
}

// App is the Ciro ABCI 2.0 application. CometBFT calls it from several connections at once; a
// mutex makes each call atomic with respect to the others (CheckTx holds it for admission only).
type App struct {
	abci.BaseApplication

	mu      sync.Mutex
	opts    Options
	log     *slog.Logger
	store   StateStore
	chainID string

	// check is the mempool's view: committed state plus admitted transactions.
	check *contracts.Cache
	// sigOK remembers transactions whose signature verified, by hash.
	sigOK *lru.Cache[[32]byte, struct{}]
	// params memoises the decoding of the parameters record.
	params contracts.ParamsCache

	// pending is the block FinalizeBlock executed and Commit has not yet saved.
	pendingHeight int64
	pendingCodes  []uint32
}

// NewApp returns an application over opts.Store, resuming from its last committed version.
func NewApp(opts Options) (*App, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("consensus: Options.Store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SigCacheSize <= 0 {
		opts.SigCacheSize = 100_000
	}
	cache, err := lru.New[[32]byte, struct{}](opts.SigCacheSize)
	if err != nil {
		return nil, fmt.Errorf("consensus: signature cache: %w", err)
	}
	a := &App{opts: opts, log: opts.Logger, store: opts.Store, sigOK: cache}
	a.resetCheckState()
	if id, err := a.store.GetAt(chainIDKey, 0); err == nil && id != nil {
		a.chainID = string(id)
	}
	return a, nil
}

// chainIDKey keeps the chain id in state, so a restarted node knows it before InitChain.
var chainIDKey = []byte{0xff, 'c', 'h', 'a', 'i', 'n'}

func (a *App) resetCheckState() {
	a.check = contracts.NewCache(committedView{store: a.store})
}

// Info reports the last committed height and app hash, from which CometBFT replays.
func (a *App) Info(_ context.Context, _ *abci.InfoRequest) (*abci.InfoResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := &abci.InfoResponse{
		Data:            "ciro",
		Version:         "1",
		AppVersion:      AppVersion,
		LastBlockHeight: a.store.Version(),
	}
	if resp.LastBlockHeight > 0 {
		resp.LastBlockAppHash = a.store.LastHash()
	}
	return resp, nil
}

// InitChain writes the genesis state from app_state and returns the initial validator set.
func (a *App) InitChain(_ context.Context, req *abci.InitChainRequest) (*abci.InitChainResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, err := contracts.ParseGenesis(req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	a.chainID = req.ChainId
	if err := a.store.Set(chainIDKey, []byte(req.ChainId)); err != nil {
		return nil, err
	}
	updates, err := contracts.NewMachine(a.store).InitGenesis(req.ChainId, g)
	if err != nil {
		return nil, fmt.Errorf("consensus: genesis: %w", err)
	}
	a.log.Info("genesis written", "chain_id", req.ChainId, "validators", len(updates))
	return &abci.InitChainResponse{Validators: toABCIUpdates(updates), AppHash: a.store.WorkingHash()}, nil
}

// verifyOnce checks a transaction's signature unless this node already did.
func (a *App) verifyOnce(raw []byte, tx *contracts.Tx) error {
	h := contracts.TxHash(raw)
	if _, ok := a.sigOK.Get(h); ok {
		return nil
	}
	if err := tx.VerifySignature(); err != nil {
		return err
	}
	a.sigOK.Add(h, struct{}{})
	return nil
}

// CheckTx admits a transaction to the mempool or rejects it with a stable code. A rejected
// transaction changes nothing. Decoding and the signature check read no state, so they run
// before the lock: with a connection-synchronised ABCI client (one mutex per connection, as
// node.go creates it) they overlap FinalizeBlock and Commit on the consensus connection, and
// only admission against the check state waits for them.
func (a *App) CheckTx(_ context.Context, req *abci.CheckTxRequest) (*abci.CheckTxResponse, error) {
	tx, err := contracts.DecodeTx(req.Tx)
	if err == nil {
		err = a.verifyOnce(req.Tx, tx)
	}
	if err == nil {
		a.mu.Lock()
		err = a.admit(tx)
		a.mu.Unlock()
	}
	if err != nil {
		if contracts.IsInternal(err) {
			a.log.Error("check tx failed", "err", err)
		}
		code := contracts.CodeOf(err)
		return &abci.CheckTxResponse{Code: uint32(code), Codespace: contracts.Codespace, Log: err.Error()}, nil
	}
	return &abci.CheckTxResponse{Code: 0}, nil
}

// admit runs a decoded, signature-checked transaction's admission on a scratch buffer over the
// check state, so that a rejection leaves no trace. a.mu must be held.
func (a *App) admit(tx *contracts.Tx) error {
	if a.store.Version() == 0 {
		// The check state is the last committed state, and genesis is committed with block 1.
		return contracts.Errorf(contracts.CodeTooEarly, "the chain has not committed its first block yet; send the transaction again once it has")
	}
	scratch := contracts.NewCache(a.check)
	if err := contracts.NewMachine(scratch).WithParamsCache(&a.params).CheckTx(a.chainID, tx); err != nil {
		return err
	}
	return scratch.Write()
}

// PrepareProposal builds the block from the mempool's transactions in the mempool's order, except
// that each sender's transactions are put in nonce order and cut at the first nonce that does
// not follow on from the sender's account, and transactions ProcessProposal would refuse are
// left out. CometBFT's mempool can list one sender's
// transactions out of nonce order: the CheckTx responses for transactions gossiped by different
// peers are added to its list concurrently, after the application has answered. A
// transaction executed ahead of its nonce fails in the block, and every mempool then drops it
// and, on recheck, all of the sender's later ones. Transactions that do not decode or do not
// fit are dropped. FinalizeBlock still judges every transaction on its own.
func (a *App) PrepareProposal(_ context.Context, req *abci.PrepareProposalRequest) (*abci.PrepareProposalResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	decoded := make([]*contracts.Tx, len(req.Txs))
	bySender := map[contracts.Address][]int{} // a sender's positions in req.Txs, ascending
	for i, raw := range req.Txs {
		tx, err := a.checkStateless(a.chainID, raw)
		if err != nil {
			continue // ProcessProposal would reject the whole block for it
		}
		decoded[i] = tx
		bySender[tx.Sender()] = append(bySender[tx.Sender()], i)
	}
	// Each sender's positions, in order, receive its transactions in nonce order from the
	// account's next nonce, as far as they run without a gap. The working tree is the state the
	// block will execute on: the last commit (and, before block 1, the genesis state).
	placed := make([][]byte, len(req.Txs))
	for sender, positions := range bySender {
		acc, err := contracts.GetAccount(a.store, sender)
		if err != nil {
			return nil, fmt.Errorf("consensus: prepare proposal: %w", err)
		}
		byNonce := slices.Clone(positions)
		slices.SortStableFunc(byNonce, func(i, j int) int { return cmp.Compare(decoded[i].Nonce, decoded[j].Nonce) })
		next, k := acc.Nonce, 0
		for _, i := range byNonce {
			if decoded[i].Nonce < next {
				continue // used already, or a second transaction with the same nonce
			}
			if decoded[i].Nonce > next {
				break
			}
			placed[positions[k]] = req.Txs[i]
			k++
			next++
		}
	}
	var txs [][]byte
	var size int64
	if ext := buildExtTx(req.LocalLastCommit, req.Height); ext != nil && int64(len(ext)) <= req.MaxTxBytes {
		txs, size = append(txs, ext), int64(len(ext))
	}
	for _, raw := range placed {
		if raw == nil {
			continue
		}
		if size+int64(len(raw)) > req.MaxTxBytes {
			break
		}
		size += int64(len(raw))
		txs = append(txs, raw)
	}
	return &abci.PrepareProposalResponse{Txs: txs}, nil
}

// ProcessProposal rejects a proposal that holds a transaction FinalizeBlock would refuse
// before charging anyone: one that does not decode, fails its stateless checks, is signed for
// another chain or carries a bad signature. Such a transaction costs nobody a fee, so a
// proposer could otherwise fill its block with them for free, to change the block's hash or to
// crowd out others. Every check reads only the proposal, so every honest validator decides
// alike. Transactions that fail on state (nonce, funds) are still judged in FinalizeBlock,
// where they pay their fee.
func (a *App) ProcessProposal(_ context.Context, req *abci.ProcessProposalRequest) (*abci.ProcessProposalResponse, error) {
	chainID := a.chainIDLocked()
	for i, raw := range req.Txs {
		if i == 0 && isExtTx(raw) {
			reader, err := a.store.ReaderAt(0)
			if err == nil {
				_, err = a.checkExtTx(chainID, req.Height, raw, readerView{reader})
			}
			if err != nil {
				a.log.Warn("proposal rejected", "height", req.Height, "tx", i, "err", err)
				return &abci.ProcessProposalResponse{Status: abci.PROCESS_PROPOSAL_STATUS_REJECT}, nil
			}
			continue
		}
		if _, err := a.checkStateless(chainID, raw); err != nil {
			a.log.Warn("proposal rejected", "height", req.Height, "tx", i, "err", err)
			return &abci.ProcessProposalResponse{Status: abci.PROCESS_PROPOSAL_STATUS_REJECT}, nil
		}
	}
	return &abci.ProcessProposalResponse{Status: abci.PROCESS_PROPOSAL_STATUS_ACCEPT}, nil
}

func (a *App) chainIDLocked() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.chainID
}

// checkStateless runs the checks of a transaction that read no state: decoding, the message's
// own validation, the chain id and the signature.
func (a *App) checkStateless(chainID string, raw []byte) (*contracts.Tx, error) {
	tx, err := contracts.DecodeTx(raw)
	if err != nil {
		return nil, err
	}
	if err := tx.Msg.ValidateBasic(); err != nil {
		return nil, err
	}
	if tx.ChainID != chainID {
		return nil, contracts.Errorf(contracts.CodeWrongChain, "the transaction is for chain %q, this is %q", tx.ChainID, chainID)
	}
	return tx, a.verifyOnce(raw, tx)
}

// FinalizeBlock executes a decided block on the working tree and returns the app hash. It
// persists nothing: Commit does.
func (a *App) FinalizeBlock(_ context.Context, req *abci.FinalizeBlockRequest) (*abci.FinalizeBlockResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The working tree holds the last commit plus, before block 1, the genesis state InitChain
	// wrote; a crash before Commit loses both and CometBFT replays from Info's height.
	block := toBlock(a.chainID, req)
	blockCache := contracts.NewCache(a.store)
	machine := contracts.NewMachine(blockCache).WithParamsCache(&a.params)

	resp := &abci.FinalizeBlockResponse{TxResults: make([]*abci.ExecTxResult, len(req.Txs))}
	events, err := machine.BeginBlock(block)
	if err != nil {
		return nil, fmt.Errorf("consensus: begin block %d: %w", req.Height, err)
	}
	resp.Events = append(resp.Events, toABCIEvents(events)...)
	for i, raw := range req.Txs {
		if i == 0 && isExtTx(raw) {
			r, err := a.applyExtTx(machine, blockCache, block, raw)
			if err != nil {
				return nil, fmt.Errorf("consensus: block %d: vote extensions: %w", req.Height, err)
			}
			resp.TxResults[i] = r
			continue
		}
		resp.TxResults[i] = a.deliverTx(machine, block, raw)
		if resp.TxResults[i].Code == uint32(contracts.CodeInternal) {
			return nil, fmt.Errorf("consensus: block %d tx %d: %s", req.Height, i, resp.TxResults[i].Log)
		}
	}
	updates, events, err := machine.EndBlock(block)
	if err != nil {
		return nil, fmt.Errorf("consensus: end block %d: %w", req.Height, err)
	}
	resp.Events = append(resp.Events, toABCIEvents(events)...)
	resp.ValidatorUpdates = toABCIUpdates(updates)
	if err := blockCache.Write(); err != nil {
		return nil, fmt.Errorf("consensus: block %d: %w", req.Height, err)
	}
	if a.opts.CheckInvariants {
		if _, err := contracts.CheckSupply(a.store); err != nil {
			return nil, fmt.Errorf("consensus: block %d: %w", req.Height, err)
		}
	}
	resp.AppHash = a.store.WorkingHash()
	a.pendingHeight = req.Height
	a.pendingCodes = make([]uint32, len(resp.TxResults))
	for i, r := range resp.TxResults {
		a.pendingCodes[i] = r.Code
	}
	return resp, nil
}

// applyExtTx records the beacon shares of the block's extension tx. One that fails its checks
// (ProcessProposal rejected it, but more than 2/3 decided the block anyway) changes nothing.
func (a *App) applyExtTx(machine *contracts.Machine, kv contracts.KV, block *contracts.Block, raw []byte) (*abci.ExecTxResult, error) {
	shares, err := a.checkExtTx(a.chainID, block.Height, raw, kv)
	if err != nil {
		return &abci.ExecTxResult{Code: uint32(contracts.CodeMalformed), Codespace: contracts.Codespace, Log: err.Error()}, nil
	}
	events, err := machine.ApplyBeacon(block, block.Height-1, shares)
	if err != nil {
		return nil, err
	}
	return &abci.ExecTxResult{Code: 0, Events: toABCIEvents(events)}, nil
}

func (a *App) deliverTx(machine *contracts.Machine, block *contracts.Block, raw []byte) *abci.ExecTxResult {
	fail := func(err error) *abci.ExecTxResult {
		return &abci.ExecTxResult{Code: uint32(contracts.CodeOf(err)), Codespace: contracts.Codespace, Log: err.Error()}
	}
	tx, err := contracts.DecodeTx(raw)
	if err != nil {
		return fail(err)
	}
	if err := a.verifyOnce(raw, tx); err != nil {
		return fail(err)
	}
	events, err := machine.DeliverTx(block, tx)
	if err != nil {
		r := fail(err)
		r.Events = toABCIEvents(events)
		return r
	}
	txEvent := abci.Event{Type: "tx", Attributes: []abci.EventAttribute{
		{Key: "sender", Value: tx.Sender().String(), Index: true},
		{Key: "type", Value: tx.Msg.Type().String(), Index: true},
	}}
	return &abci.ExecTxResult{Code: 0, Events: append([]abci.Event{txEvent}, toABCIEvents(events)...)}
}

// Commit saves the executed block as a new version and resets the mempool's check state.
func (a *App) Commit(context.Context, *abci.CommitRequest) (*abci.CommitResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	hash, version, err := a.store.Commit()
	if err != nil {
		return nil, fmt.Errorf("consensus: commit: %w", err)
	}
	if a.pendingHeight != 0 && version != a.pendingHeight {
		return nil, fmt.Errorf("consensus: committed version %d for block %d", version, a.pendingHeight)
	}
	a.resetCheckState()
	a.log.Debug("committed", "height", version, "app_hash", hex.EncodeToString(hash), "txs", len(a.pendingCodes))
	if a.opts.OnBlock != nil {
		a.opts.OnBlock(version, hash, a.pendingCodes)
	}
	a.pendingHeight, a.pendingCodes = 0, nil
	return &abci.CommitResponse{}, nil
}

func toBlock(chainID string, req *abci.FinalizeBlockRequest) *contracts.Block {
	b := &contracts.Block{ChainID: chainID, Height: req.Height, Time: uint64(req.Time.Unix()), Seed: req.Hash}
	for _, v := range req.DecidedLastCommit.Votes {
		b.Votes = append(b.Votes, contracts.Vote{
			ConsAddress: v.Validator.Address,
			Power:       v.Validator.Power,
			Signed:      v.BlockIdFlag == cmtproto.BlockIDFlagCommit,
		})
	}
	for _, m := range req.Misbehavior {
		kind := contracts.DuplicateVote
		if m.Type == abci.MISBEHAVIOR_TYPE_LIGHT_CLIENT_ATTACK {
			kind = contracts.LightClientAttack
		}
		b.Misbehavior = append(b.Misbehavior, contracts.Misbehavior{Kind: kind, ConsAddress: m.Validator.Address, Height: m.Height,
			Power: m.Validator.Power, TotalPower: m.TotalVotingPower})
	}
	return b
}

func toABCIUpdates(updates []contracts.ValidatorUpdate) []abci.ValidatorUpdate {
	out := make([]abci.ValidatorUpdate, len(updates))
	for i, u := range updates {
		out[i] = abci.ValidatorUpdate{Power: u.Power, PubKeyBytes: u.PubKey, PubKeyType: "ed25519"}
	}
	return out
}

func toABCIEvents(events []contracts.Event) []abci.Event {
	out := make([]abci.Event, len(events))
	for i, e := range events {
		attrs := make([]abci.EventAttribute, len(e.Attrs))
		for j, kv := range e.Attrs {
			attrs[j] = abci.EventAttribute{Key: kv.Key, Value: kv.Value, Index: true}
		}
		out[i] = abci.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}
