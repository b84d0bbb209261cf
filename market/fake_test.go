package market

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

const fakeChainID = "ciro-market-test"

// fakeChain is a one-node chain for tests: a real contracts.Machine over a MemStore, blocks
// made on a timer (BeginBlock, the queued txs through the wire encoding, EndBlock), and the
// machine's events fanned out to subscribers. Views bound to keys implement Chain.
type fakeChain struct {
	t        testing.TB
	mu       sync.Mutex
	kv       *contracts.MemStore
	m        *contracts.Machine
	height   int64
	time     uint64
	mempool  []*pendingTx
	subs     map[*fakeSub]struct{}
	refuse   atomic.Bool // Events fails while set
	muted    atomic.Bool // events are not delivered (a silent loss) while set
	txs      []deliveredTx
	interval time.Duration
	stop     context.CancelFunc
	done     chan struct{}
}

type pendingTx struct {
	key  ed25519.PrivateKey
	msg  contracts.Msg
	done chan txOutcome
}

type txOutcome struct {
	res TxResult
	err error
}

type deliveredTx struct {
	sender contracts.Address
	msg    contracts.Msg
	err    error
	height int64
}

type fakeSub struct {
	ch     chan Event
	closed bool
}

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("ciro-market-test/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func addrOf(k ed25519.PrivateKey) contracts.Address {
	return contracts.AddressOf(k.Public().(ed25519.PublicKey))
}

// testParams shorten the challenge window and keep fees small.
func testParams() contracts.Params {
	p := contracts.DefaultParams()
	p.MinTxFee = uint256.NewInt(1000)
	p.MinValidatorStake = contracts.CIRO(100)
	p.ChallengeWindowBlocks = 150 // 1.5 s at 10 ms blocks: room for a re-execution under -race
	p.ChallengeWindowMaxBlocks = 150
	p.RevealWindowBlocks = 300 // 3 s: several of the agent's reads of a job waiting to reveal
	p.DisputeWindowBlocks = 1000
	return p
}

// newFakeChain starts a chain whose genesis stakes each provider (1,000 CIRO, provider role),
// funds each client (10,000 CIRO) and stakes each validator (1,000 CIRO with a consensus key).
func newFakeChain(t testing.TB, interval time.Duration, providers, clients, validators []string) *fakeChain {
	t.Helper()
	return newFakeChainParams(t, interval, testParams(), providers, clients, validators)
}

// newFakeChainParams is newFakeChain with the given protocol parameters.
func newFakeChainParams(t testing.TB, interval time.Duration, params contracts.Params, providers, clients, validators []string) *fakeChain {
	t.Helper()
	g := &contracts.Genesis{Params: params}
	for _, n := range validators {
		cons := sha256.Sum256([]byte("cons/" + n))
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{Address: addrOf(testKey(n)), Roles: contracts.RoleValidator,
			ConsPubKey: ed25519.NewKeyFromSeed(cons[:]).Public().(ed25519.PublicKey), Moniker: n, Stake: contracts.CIRO(1000)})
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: addrOf(testKey(n)), Balance: contracts.CIRO(10)})
	}
	for _, n := range providers {
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{Address: addrOf(testKey(n)), Roles: contracts.RoleProvider, Moniker: n, Stake: contracts.CIRO(1000)})
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: addrOf(testKey(n)), Balance: contracts.CIRO(10)})
	}
	for _, n := range clients {
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: addrOf(testKey(n)), Balance: contracts.CIRO(10_000)})
	}
	c := &fakeChain{t: t, kv: contracts.NewMemStore(), height: 1, time: 1_000_000, subs: map[*fakeSub]struct{}{},
		interval: interval, done: make(chan struct{})}
	c.m = contracts.NewMachine(c.kv)
	if _, err := c.m.InitGenesis(fakeChainID, g); err != nil {
		t.Fatalf("InitGenesis: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go c.produce(ctx)
	t.Cleanup(c.close)
	return c
}

func (c *fakeChain) close() {
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		c.closeSub(s)
	}
	for _, p := range c.mempool {
		p.done <- txOutcome{err: errors.New("fake chain stopped")}
	}
	c.mempool = nil
}

func (c *fakeChain) produce(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.block()
		}
	}
}

// block makes one block. Events go out before Send returns, as with CometBFT, where a tx's
// commit and its events arrive together.
func (c *fakeChain) block() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.height++
	c.time++
	seed := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(c.height)))
	b := &contracts.Block{ChainID: fakeChainID, Height: c.height, Time: c.time, Seed: seed[:]}
	var events []Event
	evs, err := c.m.BeginBlock(b)
	if err != nil {
		c.t.Errorf("BeginBlock: %v", err)
		return
	}
	for _, e := range evs {
		events = append(events, EventFrom(c.height, e))
	}
	pool := c.mempool
	c.mempool = nil
	outcomes := make([]txOutcome, len(pool))
	for i, p := range pool {
		acc, _ := contracts.GetAccount(c.kv, addrOf(p.key))
		tx := &contracts.Tx{ChainID: fakeChainID, Nonce: acc.Nonce, Fee: uint256.NewInt(1000), Msg: p.msg}
		tx.Sign(p.key)
		dec, err := contracts.DecodeTx(tx.Encode())
		if err == nil {
			err = dec.VerifySignature()
		}
		if err != nil {
			c.t.Errorf("tx does not survive the wire: %v", err)
			outcomes[i].err = err
			continue
		}
		evs, err := c.m.DeliverTx(b, dec)
		if contracts.IsInternal(err) {
			c.t.Errorf("DeliverTx: %v", err)
		}
		c.txs = append(c.txs, deliveredTx{sender: addrOf(p.key), msg: p.msg, err: err, height: c.height})
		if err != nil {
			outcomes[i].err = err
			continue
		}
		res := TxResult{Height: c.height}
		for _, e := range evs {
			ev := EventFrom(c.height, e)
			res.Events = append(res.Events, ev)
			events = append(events, ev)
		}
		outcomes[i].res = res
	}
	_, evs, err = c.m.EndBlock(b)
	if err != nil {
		c.t.Errorf("EndBlock: %v", err)
		return
	}
	for _, e := range evs {
		events = append(events, EventFrom(c.height, e))
	}
	if !c.muted.Load() {
		for s := range c.subs {
			for _, ev := range events {
				select {
				case s.ch <- ev:
				default: // a slow subscriber loses its subscription, as with CometBFT
					c.closeSub(s)
				}
				if s.closed {
					break
				}
			}
		}
	}
	for i, p := range pool {
		p.done <- outcomes[i]
	}
}

func (c *fakeChain) closeSub(s *fakeSub) {
	if !s.closed {
		s.closed = true
		close(s.ch)
		delete(c.subs, s)
	}
}

// dropSubscriptions closes every subscription, as a node restart or a websocket loss would.
func (c *fakeChain) dropSubscriptions() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		c.closeSub(s)
	}
}

// delivered lists the txs of a type a sender got into blocks (failed ones too).
func (c *fakeChain) delivered(sender contracts.Address, typ contracts.TxType) []deliveredTx {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []deliveredTx
	for _, d := range c.txs {
		if d.sender == sender && d.msg.Type() == typ {
			out = append(out, d)
		}
	}
	return out
}

func (c *fakeChain) view(name string) *fakeView { return &fakeView{c: c, key: testKey(name)} }

// read runs f on committed state.
func read[T any](c *fakeChain, f func(kv contracts.KV) (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f(c.kv)
}

type fakeView struct {
	c   *fakeChain
	key ed25519.PrivateKey
}

var _ Chain = (*fakeView)(nil)

func (v *fakeView) Address() contracts.Address { return addrOf(v.key) }

func (v *fakeView) Height(context.Context) (int64, error) {
	return read(v.c, func(contracts.KV) (int64, error) { return v.c.height, nil })
}

func (v *fakeView) Events(ctx context.Context) (<-chan Event, error) {
	if v.c.refuse.Load() {
		return nil, errors.New("fake chain: subscription refused")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &fakeSub{ch: make(chan Event, 4096)}
	v.c.mu.Lock()
	v.c.subs[s] = struct{}{}
	v.c.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-v.c.done:
		}
		v.c.mu.Lock()
		v.c.closeSub(s)
		v.c.mu.Unlock()
	}()
	return s.ch, nil
}

func (v *fakeView) Job(_ context.Context, id uint64) (*contracts.Job, error) {
	return read(v.c, func(kv contracts.KV) (*contracts.Job, error) { return contracts.GetJob(kv, id) })
}

func (v *fakeView) ProviderJobs(_ context.Context, a contracts.Address) ([]contracts.ProviderJob, error) {
	return read(v.c, func(kv contracts.KV) ([]contracts.ProviderJob, error) { return contracts.ListProviderJobs(kv, a) })
}

func (v *fakeView) Provider(_ context.Context, a contracts.Address) (*contracts.Provider, error) {
	return read(v.c, func(kv contracts.KV) (*contracts.Provider, error) { return contracts.GetProvider(kv, a) })
}

func (v *fakeView) Send(ctx context.Context, msg contracts.Msg) (TxResult, error) {
	if err := ctx.Err(); err != nil {
		return TxResult{}, err
	}
	if err := msg.ValidateBasic(); err != nil {
		return TxResult{}, err
	}
	p := &pendingTx{key: v.key, msg: msg, done: make(chan txOutcome, 1)}
	v.c.mu.Lock()
	v.c.mempool = append(v.c.mempool, p)
	v.c.mu.Unlock()
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return TxResult{}, fmt.Errorf("fake chain: waiting for commit: %w", ctx.Err())
	}
}
