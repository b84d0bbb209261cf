// Package sequencer hands out one account's nonces to everything in a process that signs with
// the account's key: the HTTP API, the provider agent, the verifier, the CLI's sends through
// the node and the relayer. Two senders that each kept their own counter would sign two
// transactions with the same nonce; the chain takes one and refuses the other for ever after,
// which is how a provider that is also a client used to miss its deadlines and be slashed.
//
// A Sequencer signs and broadcasts under one lock, so transactions reach the mempool in nonce
// order. It recovers from the three ways its counter can go wrong: a nonce refused as already
// used (another signer of the key got there first) or as ahead (a transaction below it left
// the mempool) resynchronises from the chain and signs again; a transaction whose nonce the
// chain used for another one, or that the mempool dropped behind a gap no one will fill, is
// signed again with a fresh nonce, in the order its sender asked.
package sequencer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

// Chain is what a Sequencer needs of the chain.
type Chain interface {
	// ChainID names the chain transactions are signed for.
	ChainID(ctx context.Context) (string, error)
	// MinFee is the fee each transaction pays.
	MinFee(ctx context.Context) (*uint256.Int, error)
	// Nonce is a's next nonce in the last committed state.
	Nonce(ctx context.Context, a contracts.Address) (uint64, error)
	// Broadcast runs a signed transaction through the mempool's check. A refusal by the
	// application is a *contracts.Error with its code; any other error means the transaction
	// may or may not be in the mempool (e.g. it is already there).
	Broadcast(ctx context.Context, raw []byte) (hash []byte, err error)
	// Lookup is the committed transaction with hash, or nil, nil while it is not committed.
	Lookup(ctx context.Context, hash []byte) (*Result, error)
}

// Result is a committed transaction. A non-zero Code is a transaction that committed and
// failed: it used its nonce all the same.
type Result struct {
	Hash   []byte
	Nonce  uint64
	Height int64
	Code   uint32
	Log    string
}

// Err is the failure of a committed transaction as a protocol error, or nil.
func (r *Result) Err() error {
	if r.Code == 0 {
		return nil
	}
	code := contracts.Code(r.Code)
	msg := r.Log
	if p := code.String() + ": "; len(msg) >= len(p) && msg[:len(p)] == p {
		msg = msg[len(p):]
	}
	return &contracts.Error{Code: code, Msg: msg}
}

// Options tune a Sequencer; the zero value suits a node.
type Options struct {
	// Poll is how often a send looks for its commit (default 100ms).
	Poll time.Duration
	// Stall is how long the committed nonce may stand still below a pending transaction
	// before the transaction is broadcast again, in case the mempool dropped it (default 5s).
	Stall  time.Duration
	Logger *slog.Logger
}

// Sequencer assigns the nonces of one account. It is safe for concurrent use.
type Sequencer struct {
	chain Chain
	priv  ed25519.PrivateKey
	addr  contracts.Address
	poll  time.Duration
	stall time.Duration
	log   *slog.Logger

	mu sync.Mutex
	// next is the nonce the next transaction is signed with; valid while synced.
	next   uint64
	synced bool
	// pending holds the nonces of transactions broadcast and not yet seen committed.
	pending map[uint64]bool
}

// New returns the sequencer of the account of priv. A process makes one per key and shares it.
func New(chain Chain, priv ed25519.PrivateKey, opts Options) *Sequencer {
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Stall <= 0 {
		opts.Stall = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sequencer{
		chain: chain, priv: priv, addr: contracts.AddressOf(priv.Public().(ed25519.PublicKey)),
		poll: opts.Poll, stall: opts.Stall, log: opts.Logger, pending: map[uint64]bool{},
	}
}

// Address is the account the sequencer signs for.
func (s *Sequencer) Address() contracts.Address { return s.addr }

// maxResubmits bounds how often one message is signed again after its transaction was lost.
const maxResubmits = 8

// maxNonceTries bounds the nonce refusals one broadcast absorbs while resynchronising.
const maxNonceTries = 64

// supersededLooks is how many polls in a row must find the nonce used and the transaction
// not committed before it counts as lost.
const supersededLooks = 20

// errLost is a transaction that will never commit: its nonce went to another transaction, or
// it sits behind a gap that no pending send of this process will fill.
var errLost = errors.New("transaction lost")

// Send signs msg with the account's next nonce, broadcasts it and waits until it commits. A
// refusal at broadcast (other than of the nonce) comes back as the chain's *contracts.Error and
// uses no nonce. A transaction that commits and fails comes back with its Result and no error;
// Result.Err reads its failure.
func (s *Sequencer) Send(ctx context.Context, msg contracts.Msg) (*Result, error) {
	for try := 0; ; try++ {
		raw, nonce, hash, err := s.submit(ctx, msg)
		if err != nil {
			return nil, err
		}
		res, err := s.wait(ctx, raw, nonce, hash)
		if errors.Is(err, errLost) && try < maxResubmits {
			s.log.Info("sending a lost transaction again with a fresh nonce", "nonce", nonce, "msg", msg.Type())
			continue
		}
		return res, err
	}
}

// submit signs msg with the next nonce and broadcasts it, under the lock so that transactions
// reach the mempool in nonce order.
func (s *Sequencer) submit(ctx context.Context, msg contracts.Msg) (raw []byte, nonce uint64, hash []byte, err error) {
	chainID, err := s.chain.ChainID(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	fee, err := s.chain.MinFee(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for try := 0; try < maxNonceTries; try++ {
		if !s.synced {
			n, err := s.chain.Nonce(ctx, s.addr)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("read the account's nonce: %w", err)
			}
			s.next, s.synced = n, true
		}
		tx := &contracts.Tx{ChainID: chainID, Nonce: s.next, Fee: fee, Msg: msg}
		tx.Sign(s.priv)
		raw = tx.Encode()
		hash, err = s.chain.Broadcast(ctx, raw)
		if err == nil {
			s.pending[tx.Nonce] = true
			s.next++
			return raw, tx.Nonce, hash, nil
		}
		switch contracts.CodeOf(err) {
		case contracts.CodeReplayedNonce:
			// Another signer of the key used the nonce, or a transaction of ours holds it in
			// the mempool while the counter was resynchronised below it.
			s.next = nextNonce(err, s.next+1)
		case contracts.CodeOutOfOrderNonce:
			// A transaction below this nonce left the mempool: take the nonce the chain
			// expects, and walk up from the committed one when it does not say.
			if n, ok := nonceHint(err); ok {
				s.next = n
			} else {
				s.synced = false
			}
		default:
			return nil, 0, nil, err
		}
		s.log.Debug("nonce refused; resynchronised", "refused", tx.Nonce, "next", s.next, "err", err)
	}
	return nil, 0, nil, fmt.Errorf("no nonce was accepted after %d tries: %w", maxNonceTries, err)
}

// wait polls until the transaction commits. It reports errLost when the chain used the nonce
// for another transaction, or when the mempool no longer holds the transaction, the chain
// expects a lower nonce and no pending send of this process holds one.
func (s *Sequencer) wait(ctx context.Context, raw []byte, nonce uint64, hash []byte) (*Result, error) {
	defer s.done(nonce)
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	var lastNonce uint64
	lastMove := time.Now()
	superseded := 0
	for {
		res, err := s.chain.Lookup(ctx, hash)
		if err == nil && res != nil {
			res.Nonce = nonce
			return res, nil
		}
		if c, nerr := s.chain.Nonce(ctx, s.addr); nerr == nil {
			if c > nonce && err == nil {
				// The nonce is used, and not by this transaction as far as the index knows.
				// The index trails the state by a moment, so it takes a run of looks.
				if superseded++; superseded >= supersededLooks {
					s.invalidate()
					return nil, errLost
				}
			} else {
				superseded = 0
			}
			if c != lastNonce {
				lastNonce, lastMove = c, time.Now()
			}
			if c <= nonce && time.Since(lastMove) >= s.stall {
				lastMove = time.Now()
				if s.rebroadcastLost(ctx, raw, nonce) {
					s.invalidate()
					return nil, errLost
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %X with nonce %d not committed: %w", hash, nonce, ctx.Err())
		case <-tick.C:
		}
	}
}

// rebroadcastLost broadcasts a stalled transaction again, in case the mempool dropped it, and
// reports whether it is lost: refused as ahead while no pending send of this process holds a
// lower nonce that would fill the gap.
func (s *Sequencer) rebroadcastLost(ctx context.Context, raw []byte, nonce uint64) bool {
	_, err := s.chain.Broadcast(ctx, raw)
	if contracts.CodeOf(err) != contracts.CodeOutOfOrderNonce {
		return false // back in the mempool, still there, or held by a transfer of the nonce
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := range s.pending {
		if n < nonce {
			return false
		}
	}
	return true
}

// done forgets a send's nonce once it committed or was given up.
func (s *Sequencer) done(nonce uint64) {
	s.mu.Lock()
	delete(s.pending, nonce)
	s.mu.Unlock()
}

// invalidate makes the next send read the account's nonce from the chain.
func (s *Sequencer) invalidate() {
	s.mu.Lock()
	s.synced = false
	s.mu.Unlock()
}

// nonceHintRE reads the account's next nonce from the chain's nonce refusals: "nonce 9 was
// already used; the account's next nonce is 10", "nonce 12 is ahead of the account's next
// nonce 10".
var nonceHintRE = regexp.MustCompile(`next nonce (?:is )?(\d+)`)

func nonceHint(err error) (uint64, bool) {
	var pe *contracts.Error
	if !errors.As(err, &pe) {
		return 0, false
	}
	m := nonceHintRE.FindStringSubmatch(pe.Msg)
	if m == nil {
		return 0, false
	}
	n, perr := strconv.ParseUint(m[1], 10, 64)
	return n, perr == nil
}

// nextNonce is the chain's next nonce from a replayed_nonce refusal, or at least floor.
func nextNonce(err error, floor uint64) uint64 {
	if n, ok := nonceHint(err); ok && n > floor {
		return n
	}
	return floor
}
