package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
)

// ChainClient is the market agents' view of the chain, over a node's CometBFT RPC (in process
// for the node's own agents, HTTP for a separate client). It signs with one account key and
// keeps that account's nonces in order across concurrent senders.
type ChainClient struct {
	c   *Client
	key *Key
	// subscriber names this client's event subscriptions; CometBFT keys them by it.
	subscriber string

	mu        sync.Mutex
	nextNonce uint64
	haveNonce bool
}

var _ market.Chain = (*ChainClient)(nil)

// NewChainClient returns a Chain for the market agents that signs with key.
func NewChainClient(c *Client, key *Key, subscriber string) *ChainClient {
	return &ChainClient{c: c, key: key, subscriber: subscriber}
}

// Address is the signing account.
func (cc *ChainClient) Address() contracts.Address { return cc.key.Address }

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
	var list []contracts.ProviderJob
	err := cc.c.Query(ctx, consensus.QueryProvJobs+p.String(), &list)
	return list, err
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

// Send signs msg, broadcasts it and waits for it to commit, returning the tx's events. Nonces
// are assigned under a lock so that concurrent senders of one account never collide; a nonce
// refused as stale or ahead resynchronises from the chain and is tried once more.
func (cc *ChainClient) Send(ctx context.Context, msg contracts.Msg) (market.TxResult, error) {
	res, err := cc.send(ctx, msg)
	if err != nil {
		return market.TxResult{}, err
	}
	if err := res.Err(); err != nil {
		return market.TxResult{Height: res.Height}, err
	}
	raw, err := cc.c.RPC.Tx(ctx, hexBytes(res.Hash), false)
	if err != nil {
		return market.TxResult{Height: res.Height}, fmt.Errorf("read committed tx %s: %w", res.Hash, err)
	}
	return market.TxResult{Height: res.Height, Events: toMarketEvents(res.Height, raw.TxResult.Events)}, nil
}

func (cc *ChainClient) send(ctx context.Context, msg contracts.Msg) (*TxResult, error) {
	var hash []byte
	for attempt := 0; ; attempt++ {
		h, err := cc.broadcast(ctx, msg)
		if err == nil {
			hash = h
			break
		}
		if attempt == 0 && (IsCode(err, contracts.CodeReplayedNonce) || IsCode(err, contracts.CodeOutOfOrderNonce)) {
			cc.mu.Lock()
			cc.haveNonce = false
			cc.mu.Unlock()
			continue
		}
		return nil, err
	}
	return cc.c.WaitTx(ctx, hash)
}

func (cc *ChainClient) broadcast(ctx context.Context, msg contracts.Msg) ([]byte, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.haveNonce {
		acc, err := cc.c.Account(ctx, cc.key.Address)
		if err != nil {
			return nil, err
		}
		cc.nextNonce, cc.haveNonce = acc.Nonce, true
	}
	chainID, err := cc.c.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	params, err := cc.c.Params(ctx)
	if err != nil {
		return nil, err
	}
	tx := &contracts.Tx{ChainID: chainID, Nonce: cc.nextNonce, Fee: params.MinTxFee, Msg: msg}
	tx.Sign(cc.key.Private)
	hash, err := cc.c.Broadcast(ctx, tx.Encode())
	if err != nil {
		return nil, err
	}
	cc.nextNonce++
	return hash, nil
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

func hexBytes(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}
