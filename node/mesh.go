package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	cmtp2p "github.com/cometbft/cometbft/p2p"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/p2p"
	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/ciro-network/ciro-node/storage/content"
)

// P2PKeyPath is where a home keeps its libp2p identity (mode 0600).
func P2PKeyPath(home string) string { return filepath.Join(home, "config", "p2p_key") }

// ContentPath is where a home keeps IPFS blocks.
func ContentPath(home string) string { return filepath.Join(home, "data", "content") }

// checkGossipedTx is the cheap check a full peer runs on a tx from the gossip topic before
// handing it to CometBFT: it decodes and verifies the signature, and reads no state.
func checkGossipedTx(raw []byte) error {
	tx, err := contracts.DecodeTx(raw)
	if err != nil {
		return err
	}
	return tx.VerifySignature()
}

// startMesh joins the libp2p mesh, opens the content store on it and, for a full peer,
// publishes the CometBFT address in the DHT and dials consensus peers found there.
func (n *Node) startMesh(ctx context.Context) error {
	cfg := n.opts.Config
	local := n.localRPC()
	host, err := p2p.New(ctx, p2p.Options{
		Role:         p2p.RoleFull,
		IdentityPath: P2PKeyPath(n.opts.Home),
		ListenAddrs:  cfg.P2P.Listen,
		Bootstrap:    cfg.P2P.Bootstrap,
		EnableMDNS:   cfg.P2P.MDNS,
		Network:      n.cmt.GenesisDoc().ChainID,
		Logger:       n.log.With("module", "p2p"),
		TxCheck:      checkGossipedTx,
		OnValidated:  n.metrics.GossipMessage,
		TxSink: func(ctx context.Context, tx []byte) error {
			res, err := local.BroadcastTxSync(ctx, tx)
			if err != nil {
				return err
			}
			if res.Code != 0 {
				return fmt.Errorf("mempool refused relayed tx: %s", res.Log)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("p2p: %w", err)
	}
	n.host = host
	n.content, err = content.Open(ctx, content.Options{
		Dir:            ContentPath(n.opts.Home),
		Host:           host.Libp2p(),
		Routing:        host.Routing(),
		Logger:         n.log.With("module", "content"),
		MaxImportBytes: cfg.Storage.MaxImportMiB << 20,
		MaxFetchBytes:  cfg.Storage.MaxFetchMiB << 20,
		FetchTimeout:   cfg.Storage.FetchTimeout.Duration,
	})
	if err != nil {
		return fmt.Errorf("content: %w", err)
	}
	n.goTask(func(ctx context.Context) { n.consensusDiscovery(ctx) })
	return nil
}

// consensusDiscovery keeps this node's CometBFT addresses (p2p and RPC) published in the DHT and, while the
// node has few consensus peers, dials the ones published by others. A node given one libp2p
// bootstrap address and no persistent peers finds the chain this way.
func (n *Node) consensusDiscovery(ctx context.Context) {
	// The record carries the RPC address too, which light peers read headers and proven state
	// from (docs/light-peer.md).
	rec := wire.ConsensusRecord{NodeID: n.NodeID(), Addr: trimTCP(n.opts.Config.Chain.P2PListen),
		RPC: trimTCP(n.opts.Config.Chain.RPCListen)}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	published := time.Time{}
	for {
		if err := n.host.Bootstrap(ctx); err != nil && ctx.Err() == nil {
			n.log.Debug("dht bootstrap", "err", err)
		}
		if time.Since(published) > time.Minute {
			if err := n.host.PublishConsensusRecord(ctx, rec); err == nil {
				published = time.Now()
			} else if ctx.Err() == nil {
				n.log.Debug("publish consensus address", "err", err)
			}
		}
		if out, in, _ := n.cmt.Switch().NumPeers(); out+in < 3 {
			peers, err := n.host.FindConsensusPeers(ctx, 16)
			if err == nil {
				var dial []string
				for _, p := range peers {
					if p.NodeID != n.NodeID() && !n.cmt.Switch().Peers().Has(cmtID(p.NodeID)) {
						dial = append(dial, p.NodeID+"@"+p.Addr)
					}
				}
				if len(dial) > 0 {
					n.log.Info("dialing consensus peers found in the DHT", "peers", len(dial))
					_ = n.cmt.Switch().DialPeersAsync(dial)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func cmtID(s string) cmtp2p.ID { return cmtp2p.ID(s) }
