package node

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/ciro-network/ciro-node/node/api"
)

// healthReport is what the node's health is judged on, read at one moment.
type healthReport struct {
	Height     int64
	BlockTime  time.Time // the latest block's header time
	CatchingUp bool
	// StaleAfter is how long the chain may go without a block before the node is unhealthy;
	// zero turns the check off (a chain that makes blocks only for transactions).
	StaleAfter time.Duration
	StorageErr error
	// ProviderEnabled and ProviderRunning describe the provider agent.
	ProviderEnabled, ProviderRunning bool
}

// healthError is nil for a healthy report, or says every reason it is not.
func healthError(r healthReport, now time.Time) error {
	var reasons []string
	if r.CatchingUp {
		reasons = append(reasons, fmt.Sprintf("catching up (at height %d)", r.Height))
	}
	if age := now.Sub(r.BlockTime); r.StaleAfter > 0 && age > r.StaleAfter {
		reasons = append(reasons, fmt.Sprintf("height %d has not advanced for %s (more than %s)", r.Height, age.Round(time.Second), r.StaleAfter))
	}
	if r.StorageErr != nil {
		reasons = append(reasons, fmt.Sprintf("storage does not answer: %v", r.StorageErr))
	}
	if r.ProviderEnabled && !r.ProviderRunning {
		reasons = append(reasons, "the provider agent is not running")
	}
	if len(reasons) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", api.ErrUnavailable, joinReasons(reasons))
}

func joinReasons(rs []string) string {
	out := rs[0]
	for _, r := range rs[1:] {
		out += "; " + r
	}
	return out
}

// staleAfter is "a few block times": five rounds of propose and commit, and never under 10 s.
// Zero when the chain makes no empty blocks, since then a quiet chain is not a halted one.
func staleAfter(cfg Config) time.Duration {
	if !cfg.Chain.CreateEmptyBlocks {
		return 0
	}
	return max(5*(cfg.Chain.TimeoutPropose.Duration+cfg.Chain.TimeoutCommit.Duration), 10*time.Second)
}

// healthProbeCID names a block the content store is asked for: a read of its blockstore,
// whatever the answer.
var healthProbeCID = func() cid.Cid {
	h, err := multihash.Sum([]byte("ciro-node health probe"), multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}()

func (b *backend) Health(ctx context.Context) error {
	st, err := b.rpc.RPC.Status(ctx)
	if err != nil {
		return fmt.Errorf("%w: consensus does not answer: %v", api.ErrUnavailable, err)
	}
	r := healthReport{
		Height:          st.SyncInfo.LatestBlockHeight,
		BlockTime:       st.SyncInfo.LatestBlockTime,
		CatchingUp:      st.SyncInfo.CatchingUp,
		StaleAfter:      staleAfter(b.n.opts.Config),
		ProviderEnabled: b.n.opts.Config.Provider.Enabled,
		ProviderRunning: b.n.providerRunning.Load(),
	}
	if b.n.content == nil {
		r.StorageErr = fmt.Errorf("the content store is not open")
	} else {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, r.StorageErr = b.n.content.Has(sctx, healthProbeCID)
		cancel()
	}
	return healthError(r, time.Now())
}

func (b *backend) Ready(ctx context.Context) error {
	st, err := b.rpc.RPC.Status(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%w: consensus does not answer: %v", api.ErrUnavailable, err)
	case st.SyncInfo.CatchingUp:
		return fmt.Errorf("%w: catching up (at height %d)", api.ErrUnavailable, st.SyncInfo.LatestBlockHeight)
	case st.SyncInfo.LatestBlockHeight < 1:
		return fmt.Errorf("%w: no block committed yet", api.ErrUnavailable)
	}
	return nil
}
