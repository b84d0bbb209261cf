package p2p

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProviderEntry is one live provider of the peer table.
type ProviderEntry struct {
	Peer     peer.ID
	Advert   wire.ProviderAdvert
	Seq      uint64
	Sent     time.Time // the advert's own timestamp
	LastSeen time.Time // when this host accepted it
}

// peerTable keeps the newest advert of each provider; an entry expires after ttl without one.
type peerTable struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[peer.ID]ProviderEntry
}

func newPeerTable(ttl time.Duration) *peerTable {
	return &peerTable{ttl: ttl, m: map[peer.ID]ProviderEntry{}}
}

// fresh reports whether seq is newer than what the table holds for p.
func (t *peerTable) fresh(p peer.ID, seq uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[p]
	return !ok || seq > e.Seq
}

func (t *peerTable) put(e ProviderEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[e.Peer]; ok && old.Seq >= e.Seq {
		return
	}
	t.m[e.Peer] = e
}

func (t *peerTable) expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for p, e := range t.m {
		if now.Sub(e.LastSeen) > t.ttl {
			delete(t.m, p)
			n++
		}
	}
	return n
}

func (t *peerTable) list(now time.Time) []ProviderEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ProviderEntry, 0, len(t.m))
	for _, e := range t.m {
		if now.Sub(e.LastSeen) <= t.ttl {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

func (n *Host) validateAdvert(from peer.ID, e *wire.Envelope) pubsub.ValidationResult {
	a, err := wire.DecodeAdvert(e.Payload)
	if err != nil {
		return pubsub.ValidationReject
	}
	if !n.table.fresh(from, e.Seq) {
		return pubsub.ValidationIgnore // an older or repeated advert: not an offence
	}
	if n.opts.AdvertCheck != nil {
		if err := n.opts.AdvertCheck(from, a); err != nil {
			return pubsub.ValidationReject
		}
	}
	return pubsub.ValidationAccept
}

func (n *Host) handleAdvert(_ context.Context, from peer.ID, e *wire.Envelope) {
	a, err := wire.DecodeAdvert(e.Payload)
	if err != nil {
		return
	}
	n.table.put(ProviderEntry{Peer: from, Advert: *a, Seq: e.Seq, Sent: e.Time, LastSeen: time.Now()})
}

// Providers returns the live provider table: one entry per provider whose last advert arrived
// within AdvertMissed·AdvertInterval, sorted by peer ID.
func (n *Host) Providers() []ProviderEntry { return n.table.list(time.Now()) }

func (n *Host) tableJanitor(ctx context.Context) {
	t := time.NewTicker(n.opts.AdvertInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if k := n.table.expire(now); k > 0 {
				n.log.Debug("provider adverts expired", "count", k)
			}
		}
	}
}

// PublishAdvert publishes one provider advert.
func (n *Host) PublishAdvert(ctx context.Context, a *wire.ProviderAdvert, po PublishOptions) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	b, err := jsonMarshal(a)
	if err != nil {
		return err
	}
	return n.publish(ctx, TopicProviders, b, po)
}

// StartAdvertising publishes the advert that current returns now and then every AdvertInterval,
// until the host closes. current is called each time, so load and prices stay fresh. Call it
// once per host.
func (n *Host) StartAdvertising(current func() wire.ProviderAdvert) {
	n.go_(func(ctx context.Context) {
		t := time.NewTicker(n.opts.AdvertInterval)
		defer t.Stop()
		for {
			a := current()
			pctx, cancel := context.WithTimeout(ctx, n.opts.AdvertInterval)
			if err := n.PublishAdvert(pctx, &a, PublishOptions{}); err != nil && ctx.Err() == nil {
				n.log.Warn("provider advert not published", "err", err)
			}
			cancel()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrPublish, err)
	}
	return b, nil
}
