package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/node/api"
)

// startAPI serves the HTTP API and the node's metrics on cfg.API.Listen.
func (n *Node) startAPI() error {
	token, err := LoadOrCreateAPIToken(n.opts.Home)
	if err != nil {
		return err
	}
	srv := api.New(api.Options{
		Backend:  n.newBackend(),
		Token:    token,
		Registry: n.registry,
		Metrics:  n.metrics,
		Logger:   n.log.With("module", "api"),
	})
	n.goTask(func(ctx context.Context) {
		if err := srv.Serve(ctx, n.opts.Config.API.Listen); err != nil && ctx.Err() == nil {
			n.log.Error("HTTP API stopped", "err", err)
		}
	})
	n.goTask(n.collectMetrics)
	n.goTask(n.watchChainMetrics)
	n.log.Info("HTTP API listening", "addr", n.opts.Config.API.Listen, "token_file", APITokenPath(n.opts.Home))
	return nil
}

// newMetrics makes the node's own registry: several nodes can share a process.
func newMetrics() (*prometheus.Registry, *api.Metrics, error) {
	reg := prometheus.NewRegistry()
	m, err := api.NewMetrics(reg)
	return reg, m, err
}

// collectMetrics samples gauges every few seconds: mempool, peers, DHT and earnings.
func (n *Node) collectMetrics(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var provider *ChainClient
	if key, err := LoadKey(n.opts.Home, ValidatorKeyName); err == nil && n.opts.Config.Provider.Enabled {
		provider = n.chainClient(key, "metrics")
	}
	var sentSoFar, receivedSoFar int64
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n.metrics.SetMempoolSize(n.cmt.Mempool().Size())
		out, in, _ := n.cmt.Switch().NumPeers()
		n.metrics.SetPeers(api.NetworkCometBFT, out+in)
		if n.host != nil {
			st := n.host.Status()
			n.metrics.SetPeers(api.NetworkLibp2p, st.Peers)
			n.metrics.SetDHTSize(st.DHTRouting)
		}
		ticks++
		if n.content != nil && ticks%5 == 0 {
			// Stat walks the blockstore, so bitswap's counters are read every ten seconds or so.
			if st, err := n.content.Stat(ctx); err == nil {
				n.metrics.BitswapSent(int64(st.DataSent) - sentSoFar)
				n.metrics.BitswapReceived(int64(st.DataReceived) - receivedSoFar)
				sentSoFar, receivedSoFar = int64(st.DataSent), int64(st.DataReceived)
			}
		}
		if provider != nil {
			if p, err := provider.Provider(ctx, provider.Address()); err == nil && p != nil {
				n.metrics.SetProviderEarnings(p.Earnings)
			}
		}
	}
}
