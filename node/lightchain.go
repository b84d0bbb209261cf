package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
)

// LightChain is the market agents' view of the chain from a light peer, bound to one account
// key. Every state read it answers is verified: heights are light-client-verified headers, job,
// provider and staker records carry ICS23 proofs against them. What full peers say without a
// proof is used only as a hint: the event stream (the agents catch up by verified query after
// every subscription), the list of a provider's jobs (each one is re-read with a proof) and the
// outcome code of a committed tx.
type LightChain struct {
	lp  *LightPeer
	key *Key
	// nonceMu guards the nonces handed to concurrent sends. The first send after a quiet spell
	// signs with the verified nonce; sends that start while others are still waiting for their
	// commits take the following nonces, so a provider answering several jobs at once gets
	// them into the same block instead of one block each.
	nonceMu   sync.Mutex
	nextNonce uint64
	pending   int // sends signed and not yet returned
	// next rotates the full peer the event subscription is opened on.
	mu   sync.Mutex
	next int
}

var _ market.Chain = (*LightChain)(nil)

// NewLightChain returns a Chain over lp that signs with key.
func NewLightChain(lp *LightPeer, key *Key) *LightChain { return &LightChain{lp: lp, key: key} }

// Address is the signing account.
func (lc *LightChain) Address() contracts.Address { return lc.key.Address }

// Height is the height of the latest verified state: the latest verified header's, less one
// (header H carries the app hash of the state after block H-1).
func (lc *LightChain) Height(ctx context.Context) (int64, error) {
	h, err := lc.lp.LatestVerifiedHeader(ctx)
	if err != nil {
		return 0, err
	}
	return h.Height - 1, nil
}

// Job reads a job with a proof; nil, nil when it is proven absent.
func (lc *LightChain) Job(ctx context.Context, id uint64) (*contracts.Job, error) {
	res, _, err := lc.lp.VerifiedQuery(ctx, consensus.QueryJob+strconv.FormatUint(id, 10), contracts.JobKey(id))
	if err != nil {
		return nil, err
	}
	if res.Value == nil {
		return nil, nil
	}
	j, err := contracts.DecodeJob(res.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: job %d record: %w", ErrUnverified, id, err)
	}
	return j, nil
}

// Provider reads a provider record with a proof; nil, nil when it is proven absent.
func (lc *LightChain) Provider(ctx context.Context, a contracts.Address) (*contracts.Provider, error) {
	res, _, err := lc.lp.VerifiedQuery(ctx, consensus.QueryProvider+a.String(), contracts.ProviderKey(a))
	if err != nil {
		return nil, err
	}
	if res.Value == nil {
		return nil, nil
	}
	p, err := contracts.DecodeProvider(res.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: provider %s record: %w", ErrUnverified, a, err)
	}
	return p, nil
}

// Staker reads a staker record with a proof; nil, nil when it is proven absent.
func (lc *LightChain) Staker(ctx context.Context, a contracts.Address) (*contracts.Staker, error) {
	res, _, err := lc.lp.VerifiedQuery(ctx, StakerPathFor(a), contracts.StakerKey(a))
	if err != nil {
		return nil, err
	}
	if res.Value == nil {
		return nil, nil
	}
	s, err := contracts.DecodeStaker(res.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: staker %s record: %w", ErrUnverified, a, err)
	}
	return s, nil
}

// ProviderJobs lists a provider's assignments on unsettled jobs. The list comes from a full
// peer's index, which has no proof: it is a hint only. Each job in it is read again with a
// proof and kept when the verified record is unsettled and assigns slot to p; a job that does
// not verify is dropped (the agent finds it again on a later catch-up or event).
func (lc *LightChain) ProviderJobs(ctx context.Context, p contracts.Address) ([]contracts.ProviderJob, error) {
	hint, err := lc.providerJobsHint(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]contracts.ProviderJob, 0, len(hint))
	for _, pj := range hint {
		if pj.Job == nil {
			continue
		}
		j, err := lc.Job(ctx, pj.Job.ID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lc.lp.log.Warn("a job of the provider index does not verify; dropped", "job", pj.Job.ID, "err", err)
			continue
		}
		if j == nil || pj.Slot < 0 || pj.Slot >= len(j.Assignments) || j.Assignments[pj.Slot].Provider != p || j.Status.Final() {
			continue
		}
		out = append(out, contracts.ProviderJob{Job: j, Slot: pj.Slot})
	}
	return out, nil
}

// providerJobsHint asks the full peers in turn for their unproven provider-job index.
func (lc *LightChain) providerJobsHint(ctx context.Context, p contracts.Address) ([]contracts.ProviderJob, error) {
	queries, err := lc.lp.queryClients(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, q := range queries {
		c := &Client{RPC: q}
		list, err := QueryAll[contracts.ProviderJob](ctx, c, consensus.QueryProvJobs+p.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.Remote(), err))
			continue
		}
		return list, nil
	}
	return nil, fmt.Errorf("light chain: provider jobs of %s: %w", p, errors.Join(errs...))
}

// Send signs msg with the next nonce and the verified minimum fee, relays it over the mesh and
// waits until the verified nonce moves past it; several sends may be in flight at once. The
// light peer cannot prove a tx's outcome code, so a full peer's tx index is asked for it as a
// hint: a failure found there comes back as the *contracts.Error the agents expect; when no
// full peer knows the tx, the send counts as a success. The result carries no tx events.
func (lc *LightChain) Send(ctx context.Context, msg contracts.Msg) (market.TxResult, error) {
	tx, err := lc.signNext(ctx, msg)
	if err != nil {
		return market.TxResult{}, err
	}
	_, height, err := lc.lp.sendSigned(ctx, lc.key.Address, tx)
	lc.nonceMu.Lock()
	lc.pending--
	lc.nonceMu.Unlock()
	if err != nil {
		return market.TxResult{}, err
	}
	hash := contracts.TxHash(tx.Encode())
	if res := lc.txOutcomeHint(ctx, hash[:]); res != nil {
		if err := res.Err(); err != nil {
			return market.TxResult{Height: res.Height}, err
		}
		height = res.Height
	}
	return market.TxResult{Height: height}, nil
}

// signNext signs msg with the next nonce and counts the send as pending. With no other send
// pending the nonce is read from verified state: every earlier tx has committed or been given
// up by then, so a nonce left unused by a failed send is taken again.
func (lc *LightChain) signNext(ctx context.Context, msg contracts.Msg) (*contracts.Tx, error) {
	lc.nonceMu.Lock()
	defer lc.nonceMu.Unlock()
	if lc.pending == 0 {
		acc, _, err := lc.lp.VerifiedAccount(ctx, lc.key.Address)
		if err != nil {
			return nil, err
		}
		lc.nextNonce = acc.Nonce
	}
	params, _, err := lc.lp.VerifiedParams(ctx)
	if err != nil {
		return nil, err
	}
	tx := &contracts.Tx{ChainID: lc.lp.ChainID(), Nonce: lc.nextNonce, Fee: params.MinTxFee, Msg: msg}
	tx.Sign(lc.key.Private)
	lc.nextNonce++
	lc.pending++
	return tx, nil
}

// txOutcomeHint asks the full peers' tx indexes for a committed tx's result; nil when none
// answers within a few seconds.
func (lc *LightChain) txOutcomeHint(ctx context.Context, hash []byte) *TxResult {
	queries, err := lc.lp.queryClients(ctx)
	if err != nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, q := range queries {
		if res, err := (&Client{RPC: q}).WaitTx(wctx, hash); err == nil {
			return res
		}
	}
	return nil
}

// Events subscribes to block and tx events on one full peer's RPC websocket, rotating to the
// next peer on each call. The events are unproven hints: the agents act on verified reads.
func (lc *LightChain) Events(ctx context.Context) (<-chan market.Event, error) {
	addrs, err := lc.lp.fullPeerRPCs(ctx)
	if err != nil {
		return nil, err
	}
	lc.mu.Lock()
	addr := addrs[lc.next%len(addrs)]
	lc.next++
	lc.mu.Unlock()
	ws, err := rpchttp.New(addr)
	if err != nil {
		return nil, fmt.Errorf("light chain: event client %s: %w", addr, err)
	}
	if err := ws.Start(); err != nil {
		return nil, fmt.Errorf("light chain: start event client %s: %w", addr, err)
	}
	sub := fmt.Sprintf("light-%s-%d", lc.key.Address, time.Now().UnixNano())
	stop := func() {
		_ = ws.UnsubscribeAll(context.Background(), sub)
		_ = ws.Stop()
	}
	events, err := subscribeEvents(ctx, ws, sub, stop)
	if err != nil {
		return nil, fmt.Errorf("light chain: events on %s: %w", addr, err)
	}
	return events, nil
}

// queryClients are the full peers' RPC clients the verified reads use, starting the light
// client first if needed.
func (lp *LightPeer) queryClients(ctx context.Context) ([]*rpchttp.HTTP, error) {
	if _, err := lp.client(ctx); err != nil {
		return nil, err
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.queries) == 0 {
		return nil, fmt.Errorf("light peer: no full peer RPC known")
	}
	return lp.queries, nil
}

// fullPeerRPCs are the full peers' RPC addresses the light client reads from.
func (lp *LightPeer) fullPeerRPCs(ctx context.Context) ([]string, error) {
	queries, err := lp.queryClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(queries))
	for i, q := range queries {
		out[i] = q.Remote()
	}
	return out, nil
}

// stakeOf reads an account's bonded tokens and roles for the provider's stake check.
func (lc *LightChain) stakeOf(ctx context.Context) (*uint256.Int, uint8, error) {
	s, err := lc.Staker(ctx, lc.key.Address)
	if err != nil || s == nil {
		return new(uint256.Int), 0, err
	}
	tokens := s.Tokens
	if tokens == nil {
		tokens = new(uint256.Int)
	}
	return tokens, s.Roles, nil
}

// startAgents starts the provider agent on the light peer when [provider] is enabled: it
// signs with the home's account key, bonds its stake and registers through the gossip relay,
// follows the chain by verified reads and advertises on the mesh. It runs as a peer task and
// stops with the peer. A light peer runs no verifier: [verifier] is ignored with a warning.
func (lp *LightPeer) startAgents() error {
	cfg := lp.opts.Config
	if cfg.Verifier.Enabled {
		lp.log.Warn("a light peer runs no verifier; [verifier] enabled is ignored")
	}
	if !cfg.Provider.Enabled {
		return nil
	}
	key, err := LoadKey(lp.opts.Home, ValidatorKeyName)
	if err != nil {
		return fmt.Errorf("light peer: the provider agent signs with the node's account key: %w", err)
	}
	env := &agentEnv{home: lp.opts.Home, cfg: cfg, log: lp.log, content: lp.content, host: lp.host}
	rep, err := env.providerHardware(lp.ctx)
	if err != nil {
		return fmt.Errorf("light peer: %w", err)
	}
	execs, err := env.executors(lp.ctx, dockerGPUIDs(rep))
	if err != nil {
		return fmt.Errorf("light peer: executors: %w", err)
	}
	chain := NewLightChain(lp, key)
	lp.goTask(func(ctx context.Context) {
		if err := env.runProvider(ctx, chain, execs, rep); err != nil && ctx.Err() == nil {
			lp.log.Error("provider agent stopped", "err", err)
		}
	})
	lp.log.Info("provider agent starting on the light peer", "account", key.Address)
	return nil
}
