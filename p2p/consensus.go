package p2p

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// consensusNamespace is the DHT record namespace of CometBFT addresses: the record of peer P is
// stored under /ciro-comet/<P's binary peer id>, and only P can sign it.
const consensusNamespace = "ciro-comet"

// consensusRendezvous is the string whose CID full peers provide, so that others can list them
// (the DHT cannot enumerate keys).
const consensusRendezvous = "ciro/comet-addr/1"

// ConsensusRendezvousCID is the CID full peers provide to say "I publish a consensus record".
func ConsensusRendezvousCID() cid.Cid {
	h, _ := mh.Sum([]byte(consensusRendezvous), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// ConsensusKey is the DHT key of p's consensus record.
func ConsensusKey(p peer.ID) string { return "/" + consensusNamespace + "/" + string(p) }

// ConsensusPeer is a full peer's CometBFT address found through the DHT.
type ConsensusPeer struct {
	Peer   peer.ID
	NodeID string // CometBFT node id (hex)
	Addr   string // host:port
	// RPC is the peer's CometBFT RPC address (host:port), empty if it published none.
	RPC     string
	Seq     uint64
	Updated time.Time
}

// String is the CometBFT persistent-peer form, id@host:port.
func (c ConsensusPeer) String() string { return c.NodeID + "@" + c.Addr }

type consensusState struct {
	mu      sync.Mutex
	record  []byte // the sealed record this host republishes
	started bool
}

// consensusValidator checks DHT records of the consensus namespace: a valid envelope of kind
// consensus-addr, signed by the peer the key names, with a valid payload. Select prefers the
// highest sequence.
type consensusValidator struct{}

func (consensusValidator) Validate(key string, value []byte) error {
	_, err := openConsensusRecord(key, value)
	return err
}

func (consensusValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, v := range values {
		e, err := openConsensusRecord(key, v)
		if err != nil {
			continue
		}
		if best < 0 || e.Seq > bestSeq {
			best, bestSeq = i, e.Seq
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no valid record among %d", ErrConsensusRecord, len(values))
	}
	return best, nil
}

func openConsensusRecord(key string, value []byte) (*wire.Envelope, error) {
	prefix := "/" + consensusNamespace + "/"
	if !strings.HasPrefix(key, prefix) {
		return nil, fmt.Errorf("%w: key outside namespace", ErrConsensusRecord)
	}
	p, err := peer.IDFromBytes([]byte(key[len(prefix):]))
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrConsensusRecord, err)
	}
	e, err := wire.Open(value, wire.MaxConsensusSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConsensusRecord, err)
	}
	if e.Kind != wire.KindConsensusAddr {
		return nil, fmt.Errorf("%w: %w", ErrConsensusRecord, wire.ErrWrongKind)
	}
	signer, err := e.Signer()
	if err != nil || signer != p {
		return nil, fmt.Errorf("%w: signed by %s, key names %s", ErrConsensusRecord, signer, p)
	}
	if e.Time.After(time.Now().Add(maxClockSkew)) {
		return nil, fmt.Errorf("%w: timestamp in the future", ErrConsensusRecord)
	}
	if _, err := wire.DecodeConsensusRecord(e.Payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConsensusRecord, err)
	}
	return e, nil
}

// PublishConsensusAddr publishes this full peer's CometBFT node id and p2p address (host:port)
// in the DHT, signed with the libp2p identity, and provides the rendezvous CID so that others
// find it. The host republishes it every ConsensusRepublish until it closes; calling again
// replaces it. PublishConsensusRecord also publishes the RPC address light peers read from.
func (n *Host) PublishConsensusAddr(ctx context.Context, nodeID, addr string) error {
	return n.PublishConsensusRecord(ctx, wire.ConsensusRecord{NodeID: nodeID, Addr: addr})
}

// PublishConsensusRecord is PublishConsensusAddr with the whole record: the CometBFT node id,
// the p2p address and, optionally, the CometBFT RPC address (host:port) light peers use.
func (n *Host) PublishConsensusRecord(ctx context.Context, rec wire.ConsensusRecord) error {
	if n.opts.Role != RoleFull {
		return ErrNotFullPeer
	}
	if err := rec.Validate(); err != nil {
		return userError("P2P_BAD_CONSENSUS_ADDR", "the CometBFT node id or address is malformed", err)
	}
	payload, err := jsonMarshal(rec)
	if err != nil {
		return err
	}
	sealed, err := wire.Seal(n.key, wire.KindConsensusAddr, n.nextSeq(), time.Now(), payload)
	if err != nil {
		return fmt.Errorf("p2p: seal consensus record: %w", err)
	}
	cs := n.consensus
	cs.mu.Lock()
	cs.record = sealed
	start := !cs.started
	cs.started = true
	cs.mu.Unlock()
	if err := n.putConsensus(ctx, sealed); err != nil {
		return err
	}
	if start {
		n.go_(n.republishConsensus)
	}
	return nil
}

func (n *Host) putConsensus(ctx context.Context, sealed []byte) error {
	if err := n.dht.PutValue(ctx, ConsensusKey(n.h.ID()), sealed); err != nil {
		return fmt.Errorf("p2p: put consensus record: %w", err)
	}
	if err := n.dht.Provide(ctx, ConsensusRendezvousCID(), true); err != nil {
		return fmt.Errorf("p2p: provide consensus rendezvous: %w", err)
	}
	return nil
}

func (n *Host) republishConsensus(ctx context.Context) {
	t := time.NewTicker(n.opts.ConsensusRepublish)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.consensus.mu.Lock()
		rec := n.consensus.record
		n.consensus.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := n.putConsensus(pctx, rec); err != nil && ctx.Err() == nil {
			n.log.Warn("consensus record not republished", "err", err)
		}
		cancel()
	}
}

// FindConsensusPeers finds up to max full peers (other than this one) that published their
// CometBFT address, through the DHT: providers of the rendezvous CID, then each one's signed
// record. Records that fail validation are skipped.
func (n *Host) FindConsensusPeers(ctx context.Context, max int) ([]ConsensusPeer, error) {
	if max <= 0 {
		max = 64
	}
	// Ask for one more than max, since this host may be among the providers.
	provs := n.dht.FindProvidersAsync(ctx, ConsensusRendezvousCID(), max+1)
	var ids []peer.ID
	for ai := range provs { // drained to the end: the channel closes when the query does
		if ai.ID != n.h.ID() && len(ids) < max {
			ids = append(ids, ai.ID)
		}
	}
	var (
		mu   sync.Mutex
		out  []ConsensusPeer
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := n.dht.GetValue(ctx, ConsensusKey(p), dht.Quorum(1))
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
				mu.Unlock()
				return
			}
			e, err := openConsensusRecord(ConsensusKey(p), v)
			if err != nil {
				return
			}
			rec, _ := wire.DecodeConsensusRecord(e.Payload)
			mu.Lock()
			out = append(out, ConsensusPeer{Peer: p, NodeID: rec.NodeID, Addr: rec.Addr, RPC: rec.RPC, Seq: e.Seq, Updated: e.Time})
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(out) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, userError("P2P_NO_CONSENSUS_PEERS", "no consensus peer was found before the deadline", errors.Join(ErrNoPeers, err))
		}
		return nil, userError("P2P_NO_CONSENSUS_PEERS", "no consensus peer is published in the DHT", errors.Join(ErrNoPeers, errors.Join(errs...)))
	}
	return out, nil
}
