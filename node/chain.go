package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/sequencer"
)

// ChainClient is the market agents' view of the chain, over a node's CometBFT RPC (in process
// for the node's own agents, HTTP for a separate client). It signs with one account key through
// that key's sequencer, which every sender of the key in the process shares.
type ChainClient struct {
	c *Client
	// seq signs and sends; nil for a read-only client.
	seq *sequencer.Sequencer
	// subscriber names this client's event subscriptions; CometBFT keys them by it.
	subscriber string
}

var _ market.Chain = (*ChainClient)(nil)

// NewChainClient returns a Chain for the market agents that signs with key, with a sequencer
// of its own; nil key makes a read-only client. A process with several senders of one key
// shares one sequencer instead (SequencedChainClient).
func NewChainClient(c *Client, key *Key, subscriber string) *ChainClient {
	cc := &ChainClient{c: c, subscriber: subscriber}
	if key != nil {
		cc.seq = NewSequencer(c, key)
	}
	return cc
}

// SequencedChainClient returns a Chain that sends through seq, shared with the key's other
// senders.
func SequencedChainClient(c *Client, seq *sequencer.Sequencer, subscriber string) *ChainClient {
	return &ChainClient{c: c, seq: seq, subscriber: subscriber}
}

// NewSequencer returns a sequencer for key's account over c.
func NewSequencer(c *Client, key *Key) *sequencer.Sequencer {
	return sequencer.New(seqChain{c}, key.Private, sequencer.Options{})
}

// Address is the signing account.
func (cc *ChainClient) Address() contracts.Address { return cc.seq.Address() }

// Height is the latest committed height.
func (cc *ChainClient) Height(ctx context.Context) (int64, error) { return cc.c.Height(ctx) }

// Job reads a job, or nil when there is none.
func (cc *ChainClient) Job(ctx context.Context, id uint64) (*contracts.Job, error) {
	var j contracts.Job
	err := cc.c.Query(ctx, consensus.QueryJob+strconv.FormatUint(id, 10), &j)
	if IsCode(err, contracts.CodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// ProviderJobs lists a provider's assignments on unsettled jobs.
func (cc *ChainClient) ProviderJobs(ctx context.Context, p contracts.Address) ([]contracts.ProviderJob, error) {
	return QueryAll[contracts.ProviderJob](ctx, cc.c, consensus.QueryProvJobs+p.String())
}

// Provider reads a provider record, or nil when there is none.
func (cc *ChainClient) Provider(ctx context.Context, a contracts.Address) (*contracts.Provider, error) {
	var p contracts.Provider
	err := cc.c.Query(ctx, consensus.QueryProvider+a.String(), &p)
	if IsCode(err, contracts.CodeNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Send signs msg through the key's sequencer, broadcasts it and waits for it to commit,
// returning the tx's events.
func (cc *ChainClient) Send(ctx context.Context, msg contracts.Msg) (market.TxResult, error) {
	res, err := cc.SendTx(ctx, msg)
	if err != nil {
		if res != nil {
			return market.TxResult{Height: res.Height}, err
		}
		return market.TxResult{}, err
	}
	raw, err := cc.c.RPC.Tx(ctx, res.hash, false)
	if err != nil {
		return market.TxResult{Height: res.Height}, fmt.Errorf("read committed tx %s: %w", res.Hash, err)
	}
	return market.TxResult{Height: res.Height, Events: toMarketEvents(res.Height, raw.TxResult.Events)}, nil
}

// SendTx is Send returning the committed tx's hash, height and outcome. A tx that commits and
// fails comes back with its result and its protocol error.
func (cc *ChainClient) SendTx(ctx context.Context, msg contracts.Msg) (*TxResult, error) {
	if cc.seq == nil {
		return nil, errors.New("this chain client has no signing key")
	}
	r, err := cc.seq.Send(ctx, msg)
	if err != nil {
		return nil, err
	}
	res := &TxResult{Hash: strings.ToUpper(hex.EncodeToString(r.Hash)), Height: r.Height, Code: r.Code, Log: r.Log, hash: r.Hash}
	return res, res.Err()
}

// seqChain is a sequencer's view of a node's CometBFT RPC.
type seqChain struct{ c *Client }

func (s seqChain) ChainID(ctx context.Context) (string, error) { return s.c.ChainID(ctx) }

func (s seqChain) MinFee(ctx context.Context) (*uint256.Int, error) {
	p, err := s.c.Params(ctx)
	if err != nil {
		return nil, err
	}
	return p.MinTxFee, nil
}

func (s seqChain) Nonce(ctx context.Context, a contracts.Address) (uint64, error) {
	acc, err := s.c.Account(ctx, a)
	if err != nil {
		return 0, err
	}
	return acc.Nonce, nil
}

func (s seqChain) Broadcast(ctx context.Context, raw []byte) ([]byte, error) {
	return s.c.Broadcast(ctx, raw)
}

func (s seqChain) Lookup(ctx context.Context, hash []byte) (*sequencer.Result, error) {
	res, err := s.c.RPC.Tx(ctx, hash, false)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, nil
		}
		return nil, err
	}
	return &sequencer.Result{Hash: res.Hash, Height: res.Height, Code: res.TxResult.Code, Log: res.TxResult.Log}, nil
}

// Events streams block and transaction events until ctx ends or the subscription is lost (the
// channel then closes and the agent resubscribes and catches up by query).
func (cc *ChainClient) Events(ctx context.Context) (<-chan market.Event, error) {
	if starter, ok := cc.c.RPC.(interface {
		IsRunning() bool
		Start() error
	}); ok && !starter.IsRunning() {
		if err := starter.Start(); err != nil {
			return nil, fmt.Errorf("start event client: %w", err)
		}
	}
	sub := fmt.Sprintf("%s-%d", cc.subscriber, time.Now().UnixNano())
	return subscribeEvents(ctx, cc.c.RPC, sub, func() {
		_ = cc.c.RPC.UnsubscribeAll(context.Background(), sub) // best effort on the way out
	})
}

// subscribeEvents subscribes sub to block and tx events on rpc and merges them into one
// channel. The channel's goroutine is owned by the subscription: it ends when ctx ends or the
// node drops either subscription, closes the channel and calls stop. stop is also called when
// subscribing fails.
func subscribeEvents(ctx context.Context, rpc rpcclient.EventsClient, sub string, stop func()) (<-chan market.Event, error) {
	blocks, err := rpc.Subscribe(ctx, sub, cmttypes.QueryForEvent(cmttypes.EventNewBlockEvents).String(), 1000)
	if err != nil {
		stop()
		return nil, fmt.Errorf("subscribe to block events: %w", err)
	}
	txs, err := rpc.Subscribe(ctx, sub, cmttypes.QueryForEvent(cmttypes.EventTx).String(), 1000)
	if err != nil {
		stop()
		return nil, fmt.Errorf("subscribe to tx events: %w", err)
	}
	out := make(chan market.Event, 256)
	go func() {
		defer close(out)
		defer stop()
		for {
			var evs []market.Event
			select {
			case <-ctx.Done():
				return
			case e, ok := <-blocks:
				if !ok {
					return
				}
				evs = fromResultEvent(e)
			case e, ok := <-txs:
				if !ok {
					return
				}
				evs = fromResultEvent(e)
			}
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func fromResultEvent(e ctypes.ResultEvent) []market.Event {
	switch d := e.Data.(type) {
	case cmttypes.EventDataNewBlockEvents:
		return toMarketEvents(d.Height, d.Events)
	case cmttypes.EventDataTx:
		return toMarketEvents(d.Height, d.Result.Events)
	}
	return nil
}

func toMarketEvents(height int64, events []abci.Event) []market.Event {
	out := make([]market.Event, 0, len(events))
	for _, e := range events {
		attrs := make(map[string]string, len(e.Attributes))
		for _, a := range e.Attributes {
			attrs[a.Key] = a.Value
		}
		out = append(out, market.Event{Height: height, Type: e.Type, Attrs: attrs})
	}
	return out
}
