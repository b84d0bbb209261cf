package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/rpc/client"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/node"
)

// agreementPeer is what the agreement check asks of one node. The devnet's nodes answer it
// over their RPC; a unit test injects a diverged, halted or dead node through it.
type agreementPeer interface {
	Name() string
	// Exited reports whether the node's process has exited, whether a drill killed it on
	// purpose, and its exit error.
	Exited() (exited, onPurpose bool, err error)
	// Info is ABCI Info: the last height the node's application committed and the app hash
	// it computed for it.
	Info(ctx context.Context) (height int64, appHash []byte, err error)
	// StateAt is the node's own state after height h: the root of its state tree (from a
	// proof it builds over its own store) and its supply ledger, as it answers a query.
	StateAt(ctx context.Context, h int64) (root, supply []byte, err error)
	// LogTail is the last lines of its log.
	LogTail() string
}

// AgreementLimits bound the agreement check.
type AgreementLimits struct {
	// MaxLag is how many blocks a live node may be behind the highest one.
	MaxLag int64
	// Settle is how long a node behind by more than MaxLag has to come within it before it
	// is reported as halted (its height did not move) or lagging.
	Settle time.Duration
	// Heights is how many heights, from the common one down, have their state compared.
	Heights int
}

// DefaultAgreementLimits suit a devnet on one loaded machine: blocks every few hundred ms.
var DefaultAgreementLimits = AgreementLimits{MaxLag: 5, Settle: 10 * time.Second, Heights: 5}

// checkAgreement compares the state each live node computed itself: the app hash ABCI Info
// reports for nodes at the same height, and at the highest height every live node reached,
// the root of each node's own state tree and its supply ledger. Every node must be within
// MaxLag blocks of the highest; a node that exited, other than on purpose, does not answer,
// is halted or lags, fails the check with its name and its log's last lines. It returns how
// many heights had their state compared.
func checkAgreement(ctx context.Context, peers []agreementPeer, lim AgreementLimits) (int, error) {
	var failures []error
	fail := func(p agreementPeer, format string, args ...any) {
		failures = append(failures, fmt.Errorf("%s %s; last log lines:\n%s", p.Name(), fmt.Sprintf(format, args...), p.LogTail()))
	}
	var live []agreementPeer
	for _, p := range peers {
		exited, onPurpose, err := p.Exited()
		switch {
		case exited && onPurpose:
		case exited:
			fail(p, "exited (%s)", exitStatus(err))
		default:
			live = append(live, p)
		}
	}
	heights := func() (map[agreementPeer]int64, map[agreementPeer][]byte, int64) {
		hs, hashes, top := map[agreementPeer]int64{}, map[agreementPeer][]byte{}, int64(0)
		for _, p := range live {
			h, hash, err := p.Info(ctx)
			if err != nil {
				continue
			}
			hs[p], hashes[p] = h, hash
			top = max(top, h)
		}
		return hs, hashes, top
	}
	first, hashes, top := heights()
	last := first
	for deadline := time.Now().Add(lim.Settle); ; {
		behind := false
		for _, p := range live {
			if h, ok := last[p]; !ok || top-h > lim.MaxLag {
				behind = true
			}
		}
		if !behind || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
		last, hashes, top = heights()
	}
	// A halted or lagging node still has its state compared: a halt from divergence shows
	// as a different state at the height it stopped at.
	var answering []agreementPeer
	for _, p := range live {
		h, ok := last[p]
		if !ok {
			_, _, err := p.Info(ctx)
			fail(p, "does not answer ABCI Info: %v", err)
			continue
		}
		answering = append(answering, p)
		switch {
		case top-h > lim.MaxLag && h == first[p]:
			fail(p, "is halted at height %d, %d blocks behind the highest node (%d), for %s", h, top-h, top, lim.Settle)
		case top-h > lim.MaxLag:
			fail(p, "lags at height %d, %d blocks behind the highest node (%d)", h, top-h, top)
		}
	}
	// Nodes that reported the same height must report the same app hash for it.
	byHeight := map[int64]agreementPeer{}
	for _, p := range answering {
		if q, ok := byHeight[last[p]]; ok && !bytes.Equal(hashes[p], hashes[q]) {
			failures = append(failures, fmt.Errorf("app hash after height %d differs: %s %X, %s %X", last[p], q.Name(), hashes[q], p.Name(), hashes[p]))
		} else if !ok {
			byHeight[last[p]] = p
		}
	}
	common := int64(-1)
	for _, p := range answering {
		if common < 0 || last[p] < common {
			common = last[p]
		}
	}
	compared := 0
	for h := common; h >= 1 && h > common-int64(lim.Heights) && len(answering) > 0; h-- {
		var ref agreementPeer
		var refRoot, refSupply []byte
		agree := true
		for _, p := range answering {
			root, supply, err := p.StateAt(ctx, h)
			if err != nil {
				failures = append(failures, fmt.Errorf("%s: state after height %d: %w", p.Name(), h, err))
				agree = false
				continue
			}
			switch {
			case ref == nil:
				ref, refRoot, refSupply = p, root, supply
			case !bytes.Equal(root, refRoot):
				failures = append(failures, fmt.Errorf("state after height %d differs: %s computed root %X, %s %X", h, ref.Name(), refRoot, p.Name(), root))
				agree = false
			case !bytes.Equal(supply, refSupply):
				failures = append(failures, fmt.Errorf("supply ledger after height %d differs: %s %s, %s %s", h, ref.Name(), refSupply, p.Name(), supply))
				agree = false
			}
		}
		if agree && ref != nil {
			compared++
		}
	}
	if len(answering) > 0 && common < 1 {
		failures = append(failures, errors.New("no node has committed a block: there is no state to compare"))
	}
	return compared, errors.Join(failures...)
}

// exitStatus describes how a process ended.
func exitStatus(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// rpcPeer is a devnet node answering the agreement check over its RPC.
type rpcPeer struct {
	name string
	c    *node.Client
	proc *Process
}

func (p rpcPeer) Name() string { return p.name }

func (p rpcPeer) Exited() (bool, bool, error) { return p.proc.Exited() }

func (p rpcPeer) LogTail() string { return p.proc.LogTail(15) }

func (p rpcPeer) Info(ctx context.Context) (int64, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := p.c.RPC.ABCIInfo(ctx)
	if err != nil {
		return 0, nil, err
	}
	return res.Response.LastBlockHeight, res.Response.LastBlockAppHash, nil
}

// StateAt proves the params record at height h from the node's own store and computes the
// proof's root, which is the app hash the node's state gives for h; and reads the supply
// ledger at h.
func (p rpcPeer) StateAt(ctx context.Context, h int64) ([]byte, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := p.c.RPC.ABCIQueryWithOptions(ctx, consensus.QueryParams, nil, client.ABCIQueryOptions{Height: h, Prove: true})
	if err != nil {
		return nil, nil, err
	}
	r := res.Response
	if r.Code != 0 {
		return nil, nil, fmt.Errorf("proven params query: code %d: %s", r.Code, r.Log)
	}
	if r.ProofOps == nil || len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != consensus.ProofOpType {
		return nil, nil, fmt.Errorf("proven params query carries no %s proof", consensus.ProofOpType)
	}
	var proof ics23.CommitmentProof
	if err := proof.Unmarshal(r.ProofOps.Ops[0].Data); err != nil {
		return nil, nil, fmt.Errorf("decode proof: %w", err)
	}
	root, err := proof.Calculate()
	if err != nil {
		return nil, nil, fmt.Errorf("proof root: %w", err)
	}
	sup, err := p.c.RPC.ABCIQueryWithOptions(ctx, consensus.QuerySupply, nil, client.ABCIQueryOptions{Height: h})
	if err != nil {
		return nil, nil, err
	}
	if sup.Response.Code != 0 {
		return nil, nil, fmt.Errorf("supply query: code %d: %s", sup.Response.Code, sup.Response.Log)
	}
	return root, sup.Response.Value, nil
}
