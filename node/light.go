package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/p2p"
	"github.com/ciro-network/ciro-node/storage/content"
)

// ErrUnverified is wrapped by every error of a light peer read whose answer did not check out
// against a verified header: a bad proof, a value that is not the one proven, a record for
// another key, or an answer for another height.
var ErrUnverified = errors.New("light peer: state does not verify against the verified header")

// LightOptions configure a LightPeer.
type LightOptions struct {
	// Home holds config/genesis.json, config/p2p_key and data/content.
	Home string
	// Config is the loaded configuration: [p2p], [storage] and [light] are used.
	Config Config
	// Logger receives the peer's logs; nil discards them.
	Logger *slog.Logger
	// Genesis, when set, is used instead of HOME/config/genesis.json.
	Genesis *cmttypes.GenesisDoc
	// Identity, when set, is used instead of HOME/config/p2p_key.
	Identity crypto.PrivKey
}

// LightPeer is a peer without CometBFT or state: it joins the libp2p mesh (DHT client,
// GossipSub, bitswap), submits transactions on the tx topic and reads state from full peers,
// checking every answer against headers verified by CometBFT's light client. It is safe for
// concurrent use.
type LightPeer struct {
	opts    LightOptions
	log     *slog.Logger
	genesis *cmttypes.GenesisDoc
	host    *p2p.Host
	content *content.Store

	// mu guards the light client and the query clients, made on first use.
	mu      sync.Mutex
	lc      *light.Client
	queries []*rpchttp.HTTP
	// verifyMu serialises the light client's verification calls (Update is not documented
	// as safe for concurrent use, and the provider agent reads from many goroutines).
	verifyMu sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	tasks  sync.WaitGroup

	stopOnce sync.Once
	stopErr  error
}

// NewLightPeer starts a light peer: it joins the mesh and opens the content store. The light
// client starts on the first verified read, once full peers' RPC addresses are known.
func NewLightPeer(opts LightOptions) (*LightPeer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Home == "" {
		return nil, fmt.Errorf("light peer: a home directory is required")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	gen := opts.Genesis
	if gen == nil {
		var err error
		path := CometConfig(opts.Home, opts.Config).GenesisFile()
		if gen, err = cmttypes.GenesisDocFromFile(path); err != nil {
			return nil, fmt.Errorf("light peer: genesis %s (copy the chain's genesis.json there): %w", path, err)
		}
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("light peer: genesis: %w", err)
	}
	lp := &LightPeer{opts: opts, log: opts.Logger, genesis: gen}
	lp.ctx, lp.cancel = context.WithCancel(context.Background())
	cfg := opts.Config
	startCtx, cancel := context.WithTimeout(lp.ctx, 30*time.Second)
	defer cancel()
	host, err := p2p.New(startCtx, p2p.Options{
		Role:         p2p.RoleLight,
		IdentityPath: P2PKeyPath(opts.Home),
		Identity:     opts.Identity,
		ListenAddrs:  cfg.P2P.Listen,
		Bootstrap:    cfg.P2P.Bootstrap,
		EnableMDNS:   cfg.P2P.MDNS,
		Network:      gen.ChainID,
		Logger:       lp.log.With("module", "p2p"),
	})
	if err != nil {
		lp.cancel()
		return nil, fmt.Errorf("light peer: p2p: %w", err)
	}
	lp.host = host
	lp.content, err = content.Open(lp.ctx, content.Options{
		Dir:            ContentPath(opts.Home),
		Host:           host.Libp2p(),
		Routing:        host.Routing(),
		Logger:         lp.log.With("module", "content"),
		MaxImportBytes: cfg.Storage.MaxImportMiB << 20,
		MaxFetchBytes:  cfg.Storage.MaxFetchMiB << 20,
		FetchTimeout:   cfg.Storage.FetchTimeout.Duration,
	})
	if err != nil {
		lp.Stop()
		return nil, fmt.Errorf("light peer: content: %w", err)
	}
	lp.goTask(lp.keepJoined)
	lp.log.Info("light peer started", "peer_id", host.ID(), "chain_id", gen.ChainID)
	return lp, nil
}

// keepJoined dials the bootstrap peers again whenever the peer has no connection left: at
// start-up they may not be listening yet, and a light peer with no peer cannot gossip txs.
func (lp *LightPeer) keepJoined(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if lp.host.Status().Peers > 0 {
			continue
		}
		if err := lp.host.Bootstrap(ctx); err != nil && ctx.Err() == nil {
			lp.log.Debug("bootstrap peers not reached; retrying", "err", err)
		} else if ctx.Err() == nil {
			lp.log.Info("joined the mesh through the bootstrap peers")
		}
	}
}

// goTask runs f under the peer's context; Stop waits for it.
func (lp *LightPeer) goTask(f func(ctx context.Context)) {
	lp.tasks.Add(1)
	go func() {
		defer lp.tasks.Done()
		f(lp.ctx)
	}()
}

// Stop closes the content store and leaves the mesh. It is safe to call more than once.
func (lp *LightPeer) Stop() error {
	lp.stopOnce.Do(func() {
		lp.cancel()
		lp.tasks.Wait()
		var errs []error
		if lp.content != nil {
			if err := lp.content.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close content: %w", err))
			}
		}
		if lp.host != nil {
			if err := lp.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close p2p: %w", err))
			}
		}
		lp.stopErr = errors.Join(errs...)
	})
	return lp.stopErr
}

// Host is the peer's libp2p host.
func (lp *LightPeer) Host() *p2p.Host { return lp.host }

// Content is the peer's content store (bitswap over the mesh).
func (lp *LightPeer) Content() *content.Store { return lp.content }

// ChainID is the chain the peer follows, from its genesis.
func (lp *LightPeer) ChainID() string { return lp.genesis.ChainID }

// SubmitTx checks a signed transaction's encoding and signature and publishes it on the tx
// topic, where full peers relay it into their mempools. It returns the tx hash; a mempool
// rejection is not reported back, so follow the outcome with verified reads (WaitNonce).
func (lp *LightPeer) SubmitTx(ctx context.Context, raw []byte) ([]byte, error) {
	if err := checkGossipedTx(raw); err != nil {
		return nil, fmt.Errorf("light peer: tx: %w", err)
	}
	if err := lp.host.PublishTx(ctx, raw, p2p.PublishOptions{MinPeers: 1}); err != nil {
		return nil, fmt.Errorf("light peer: publish tx: %w", err)
	}
	h := contracts.TxHash(raw)
	return h[:], nil
}

// Send signs msg from key with its verified nonce and the verified minimum fee, submits it on
// the tx topic and waits until the verified nonce moves past it, publishing it again every few
// seconds meanwhile. It returns the sender's verified account after the tx and its height. A
// tx that commits but fails also moves the nonce: check the effect with verified reads.
func (lp *LightPeer) Send(ctx context.Context, key *Key, msg contracts.Msg) (*contracts.Account, int64, error) {
	acc, _, err := lp.VerifiedAccount(ctx, key.Address)
	if err != nil {
		return nil, 0, err
	}
	params, _, err := lp.VerifiedParams(ctx)
	if err != nil {
		return nil, 0, err
	}
	tx := &contracts.Tx{ChainID: lp.ChainID(), Nonce: acc.Nonce, Fee: params.MinTxFee, Msg: msg}
	tx.Sign(key.Private)
	return lp.sendSigned(ctx, key.Address, tx)
}

// sendSigned submits a signed tx from sender on the tx topic and waits until sender's verified
// nonce moves past it, publishing it again every few seconds meanwhile: a full peer may have
// dropped it, or refused it for arriving before a tx with a lower nonce. It gives up with
// ErrTxStalled when the sender's verified nonce has not moved for txStallLimit, the sign of a
// tx that will never commit (a lower nonce that was never sent, or funds too low for the fee).
func (lp *LightPeer) sendSigned(ctx context.Context, sender contracts.Address, tx *contracts.Tx) (*contracts.Account, int64, error) {
	raw := tx.Encode()
	lastNonce, lastMove := uint64(0), time.Now()
	for {
		if _, err := lp.SubmitTx(ctx, raw); err != nil {
			return nil, 0, err
		}
		wctx, cancel := context.WithTimeout(ctx, txRepublishInterval)
		seen := lastNonce
		after, height, err := lp.waitNonce(wctx, sender, tx.Nonce+1, &seen)
		cancel()
		if err == nil {
			return after, height, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrUnverified) {
			return nil, 0, fmt.Errorf("light peer: tx with nonce %d not committed: %w", tx.Nonce, errors.Join(err, ctx.Err()))
		}
		if seen != lastNonce {
			lastNonce, lastMove = seen, time.Now()
		}
		if time.Since(lastMove) > txStallLimit {
			return nil, 0, fmt.Errorf("%w: nonce %d of %s, the account's verified nonce stayed at %d for %s",
				ErrTxStalled, tx.Nonce, sender, lastNonce, txStallLimit)
		}
		lp.log.Debug("republishing tx", "nonce", tx.Nonce, "err", err)
	}
}

// ErrTxStalled is returned by a light peer's send whose tx made no progress towards commit.
var ErrTxStalled = errors.New("light peer: the transaction is not being committed; check the account's balance and pending transactions, then send it again")

const (
	// txRepublishInterval is how long a light peer waits for a tx's commit before publishing it
	// again.
	txRepublishInterval = 3 * time.Second
	// txStallLimit is how long the sender's nonce may stand still before a send gives up.
	txStallLimit = time.Minute
)

// WaitNonce polls verified reads until addr's nonce is at least nonce (every tx below it
// committed) and returns the account and the height it was read at.
func (lp *LightPeer) WaitNonce(ctx context.Context, addr contracts.Address, nonce uint64) (*contracts.Account, int64, error) {
	return lp.waitNonce(ctx, addr, nonce, nil)
}

// waitNonce is WaitNonce; when seen is set, it also keeps there the last nonce it read.
func (lp *LightPeer) waitNonce(ctx context.Context, addr contracts.Address, nonce uint64, seen *uint64) (*contracts.Account, int64, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		acc, h, err := lp.VerifiedAccount(ctx, addr)
		if err == nil && seen != nil {
			*seen = acc.Nonce
		}
		if err == nil && acc.Nonce >= nonce {
			return acc, h, nil
		}
		if err != nil {
			last = err
			if errors.Is(err, ErrUnverified) {
				return nil, 0, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("light peer: nonce %d of %s not reached: %w", nonce, addr, errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}

// VerifiedAccount reads addr's account from full peers and checks it: the light client
// verifies the latest header H, and the account's ICS23 proof at height H-1 must verify
// against H's app hash. An absent account (proven absent) is a zero balance and nonce. It
// returns the height the state is read at.
func (lp *LightPeer) VerifiedAccount(ctx context.Context, addr contracts.Address) (*contracts.Account, int64, error) {
	res, h, err := lp.VerifiedQuery(ctx, consensus.QueryAccount+addr.String(), contracts.AccountKey(addr))
	if err != nil {
		return nil, 0, err
	}
	if res.Value == nil {
		return &contracts.Account{Balance: contracts.CIRO(0)}, h, nil
	}
	acc, err := contracts.DecodeAccount(res.Value)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: account record: %w", ErrUnverified, err)
	}
	return acc, h, nil
}

// VerifiedParams reads the protocol parameters with a proof, as VerifiedAccount does.
func (lp *LightPeer) VerifiedParams(ctx context.Context) (*contracts.Params, int64, error) {
	res, h, err := lp.VerifiedQuery(ctx, consensus.QueryParams, contracts.ParamsKey())
	if err != nil {
		return nil, 0, err
	}
	var p contracts.Params
	if res.Value == nil {
		return nil, 0, fmt.Errorf("%w: parameters proven absent", ErrUnverified)
	}
	if err := json.Unmarshal(res.Value, &p); err != nil {
		return nil, 0, fmt.Errorf("%w: parameters record: %w", ErrUnverified, err)
	}
	return &p, h, nil
}

// VerifiedQuery runs a proven ABCI query for the state record under key and returns the
// response once its proof verified, with the height of the state. It asks each known full
// peer in turn until one answers with a valid proof; the errors of all of them come back
// otherwise.
func (lp *LightPeer) VerifiedQuery(ctx context.Context, path string, key []byte) (*abci.QueryResponse, int64, error) {
	header, err := lp.LatestVerifiedHeader(ctx)
	if err != nil {
		return nil, 0, err
	}
	height := header.Height - 1
	lp.mu.Lock()
	queries := lp.queries
	lp.mu.Unlock()
	var errs []error
	for _, q := range queries {
		res, err := q.ABCIQueryWithOptions(ctx, path, nil, rpcclient.ABCIQueryOptions{Height: height, Prove: true})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.Remote(), err))
			continue
		}
		r := &res.Response
		if r.Code != 0 {
			errs = append(errs, fmt.Errorf("%s: query %s: code %d: %s", q.Remote(), path, r.Code, r.Log))
			continue
		}
		if err := VerifyProvenRecord(header, key, r); err != nil {
			lp.log.Warn("full peer answered state that does not verify", "rpc", q.Remote(), "path", path, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", q.Remote(), err))
			continue
		}
		return r, height, nil
	}
	return nil, 0, fmt.Errorf("light peer: query %s at height %d: %w", path, height, errors.Join(errs...))
}

// VerifyProvenRecord checks a proven query response against a verified header: the response
// is for key at the height before the header's, and its ICS23 proof, value included, verifies
// against the header's app hash (the state after the previous block). Errors wrap
// ErrUnverified.
func VerifyProvenRecord(header *cmttypes.Header, key []byte, res *abci.QueryResponse) error {
	if res.Height != header.Height-1 {
		return fmt.Errorf("%w: answer for height %d, asked for %d", ErrUnverified, res.Height, header.Height-1)
	}
	if !bytes.Equal(res.Key, key) {
		return fmt.Errorf("%w: answer for key %X, asked for %X", ErrUnverified, res.Key, key)
	}
	if err := consensus.VerifyQueryProof(header.AppHash, res); err != nil {
		return fmt.Errorf("%w: %w", ErrUnverified, err)
	}
	return nil
}

// LatestVerifiedHeader asks the primary full peer for its latest header and verifies it with
// the light client (skipping verification from the last trusted header, cross-checked
// against the witnesses). It waits for the chain's second block if needed, since state at
// height H is proven by header H+1.
func (lp *LightPeer) LatestVerifiedHeader(ctx context.Context) (*cmttypes.Header, error) {
	lc, err := lp.client(ctx)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		lp.verifyMu.Lock()
		lb, err := lc.Update(ctx, time.Now())
		if err == nil && lb == nil {
			lb, err = lc.TrustedLightBlock(0)
		}
		lp.verifyMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("light client update: %w", err)
		}
		if lb.Height >= 2 {
			return lb.Header, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("light client: waiting for the second block: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// VerifiedHeader returns the header at height, verified by the light client.
func (lp *LightPeer) VerifiedHeader(ctx context.Context, height int64) (*cmttypes.Header, error) {
	lc, err := lp.client(ctx)
	if err != nil {
		return nil, err
	}
	lp.verifyMu.Lock()
	lb, err := lc.VerifyLightBlockAtHeight(ctx, height, time.Now())
	lp.verifyMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("light client: header %d: %w", height, err)
	}
	return lb.Header, nil
}

// cancelSafeProvider answers the light client with provider.ErrNoResponse for a request that
// ended because its context did. CometBFT's light client takes any error it does not list as
// benign, a wrapped context error included, for a sign of a faulty peer, and drops that witness
// (or primary): a caller's short deadline would strip the light peer of its full peers one
// cancelled read at a time. ErrNoResponse is on its benign list.
type cancelSafeProvider struct{ provider.Provider }

func (p cancelSafeProvider) String() string { return fmt.Sprint(p.Provider) }

func (p cancelSafeProvider) LightBlock(ctx context.Context, height int64) (*cmttypes.LightBlock, error) {
	lb, err := p.Provider.LightBlock(ctx, height)
	if err != nil && ctx.Err() != nil {
		return nil, provider.ErrNoResponse
	}
	return lb, err
}

// client returns the light client, starting it on first use: it finds full peers' RPC
// addresses ([light] rpc, else the DHT), establishes the root of trust and verifies it.
func (lp *LightPeer) client(ctx context.Context) (*light.Client, error) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.lc != nil {
		return lp.lc, nil
	}
	addrs, err := lp.rpcAddrs(ctx)
	if err != nil {
		return nil, err
	}
	chainID := lp.genesis.ChainID
	var provs []provider.Provider
	var queries []*rpchttp.HTTP
	for _, a := range addrs {
		p, err := lighthttp.New(chainID, a)
		if err != nil {
			return nil, fmt.Errorf("light peer: provider %s: %w", a, err)
		}
		q, err := rpchttp.New(a)
		if err != nil {
			return nil, fmt.Errorf("light peer: rpc client %s: %w", a, err)
		}
		provs = append(provs, cancelSafeProvider{p})
		queries = append(queries, q)
	}
	witnesses := provs[1:]
	if len(witnesses) == 0 {
		// CometBFT's light client needs a witness. With one full peer known, it witnesses
		// itself: headers are still checked against the validators' signatures, but no second
		// peer is there to expose a fork (docs/light-peer.md).
		p, err := lighthttp.New(chainID, addrs[0])
		if err != nil {
			return nil, fmt.Errorf("light peer: provider %s: %w", addrs[0], err)
		}
		witnesses = []provider.Provider{cancelSafeProvider{p}}
	}
	trust, err := lp.trustOptions(ctx, provs[0])
	if err != nil {
		return nil, err
	}
	lc, err := light.NewClient(ctx, chainID, trust, provs[0], witnesses,
		lightdb.New(dbm.NewMemDB(), "ciro-light"),
		light.Logger(cometLogger{l: lp.log.With("module", "light"), quietAfter: lp.ctx}),
		light.MaxRetryAttempts(3),
		light.MaxClockDrift(orDefault(lp.opts.Config.Light.MaxClockDrift.Duration, 10*time.Second)),
		light.MaxBlockLag(orDefault(lp.opts.Config.Light.MaxBlockLag.Duration, 10*time.Second)),
	)
	if err != nil {
		return nil, fmt.Errorf("light peer: light client: %w", err)
	}
	lp.lc, lp.queries = lc, queries
	lp.log.Info("light client started", "trusted_height", trust.Height, "trusted_hash", fmt.Sprintf("%X", trust.Hash),
		"primary", addrs[0], "full_peers", len(addrs))
	return lc, nil
}

// rpcAddrs are the configured full peers' RPC addresses, or those published in the DHT.
func (lp *LightPeer) rpcAddrs(ctx context.Context) ([]string, error) {
	if rpcs := lp.opts.Config.Light.RPC; len(rpcs) > 0 {
		out := make([]string, len(rpcs))
		for i, a := range rpcs {
			out[i] = "tcp://" + trimScheme(a)
		}
		return out, nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last error
	for {
		if err := lp.host.Bootstrap(ctx); err != nil {
			last = err
		}
		peers, err := lp.host.FindConsensusPeers(ctx, 16)
		if err != nil {
			last = err
		}
		var out []string
		for _, p := range peers {
			if p.RPC != "" {
				out = append(out, "tcp://"+p.RPC)
			}
		}
		if len(out) > 0 {
			lp.log.Info("full peers' RPC found in the DHT", "count", len(out))
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("light peer: no full peer RPC address in [light] rpc or the DHT: %w", errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}

// trustOptions is the root of trust: the configured header, or the chain's first block
// checked against the genesis validators.
func (lp *LightPeer) trustOptions(ctx context.Context, primary provider.Provider) (light.TrustOptions, error) {
	lc := lp.opts.Config.Light
	opts := light.TrustOptions{Period: lc.TrustPeriod.Duration}
	if lc.TrustHeight > 0 {
		hash, err := hex.DecodeString(lc.TrustHash)
		if err != nil {
			return opts, fmt.Errorf("light peer: trust_hash: %w", err)
		}
		opts.Height, opts.Hash = lc.TrustHeight, hash
		return opts, nil
	}
	lb, err := genesisLightBlock(ctx, lp.genesis, primary)
	if err != nil {
		return opts, err
	}
	if age := time.Since(lb.Time); age >= opts.Period {
		return opts, fmt.Errorf("light peer: the first block is %s old, beyond the trust period %s: set [light] trust_height and trust_hash to a recent header you trust",
			age.Round(time.Second), opts.Period)
	}
	opts.Height, opts.Hash = lb.Height, lb.Hash()
	return opts, nil
}

// genesisLightBlock fetches the chain's first block from p and checks it against the genesis
// file: same chain, signed by more than two thirds of the genesis validators' power, with that
// validator set.
func genesisLightBlock(ctx context.Context, gen *cmttypes.GenesisDoc, p provider.Provider) (*cmttypes.LightBlock, error) {
	vals := make([]*cmttypes.Validator, len(gen.Validators))
	for i, v := range gen.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	set := cmttypes.NewValidatorSet(vals)
	var lb *cmttypes.LightBlock
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var err error
		// The provider answers the first block once the second exists (its commit is in it).
		lb, err = p.LightBlock(ctx, gen.InitialHeight)
		if err == nil {
			break
		}
		if !errors.Is(err, provider.ErrHeightTooHigh) && !errors.Is(err, provider.ErrLightBlockNotFound) {
			return nil, fmt.Errorf("light peer: first block from %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("light peer: first block from %s: %w", p, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
	if err := lb.ValidateBasic(gen.ChainID); err != nil {
		return nil, fmt.Errorf("light peer: first block: %w", err)
	}
	if !bytes.Equal(lb.ValidatorsHash, set.Hash()) {
		return nil, fmt.Errorf("light peer: the first block's validators %X are not the genesis validators %X", lb.ValidatorsHash, set.Hash())
	}
	if err := set.VerifyCommitLight(gen.ChainID, lb.Commit.BlockID, lb.Height, lb.Commit); err != nil {
		return nil, fmt.Errorf("light peer: the first block is not signed by the genesis validators: %w", err)
	}
	return lb, nil
}

// followHeaders verifies the latest header every interval and logs the verified height: the
// loop a `start --light` process runs.
func (lp *LightPeer) followHeaders(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		h, err := lp.LatestVerifiedHeader(ctx)
		switch {
		case err == nil:
			lp.log.Info("verified header", "height", h.Height, "app_hash", fmt.Sprintf("%X", h.AppHash))
		case ctx.Err() == nil:
			lp.log.Warn("header not verified", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// RunLight starts a light peer and blocks until ctx is cancelled, logging the verified chain
// height as it goes and running the provider agent when [provider] is enabled, then stops it.
func RunLight(ctx context.Context, opts LightOptions) error {
	lp, err := NewLightPeer(opts)
	if err != nil {
		return err
	}
	lp.goTask(func(ctx context.Context) { lp.followHeaders(ctx, 5*time.Second) })
	if err := lp.startAgents(); err != nil {
		return errors.Join(err, lp.Stop())
	}
	<-ctx.Done()
	return lp.Stop()
}

// orDefault is d, or def when d is zero (a config written before the key existed).
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
