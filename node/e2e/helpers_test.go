package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
)

func mustKey(t testing.TB, home, name string) *node.Key {
	t.Helper()
	k, err := node.LoadKey(home, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func stakerOf(ctx context.Context, t *testing.T, c *node.Client, a contracts.Address) *consensus.StakerView {
	t.Helper()
	var v consensus.StakerView
	if err := c.Query(ctx, consensus.QueryStaker+a.String(), &v); err != nil {
		t.Fatalf("query staker %s: %v", a, err)
	}
	return &v
}

func balanceOf(ctx context.Context, t *testing.T, c *node.Client, a contracts.Address) *uint256.Int {
	t.Helper()
	acc, err := c.Account(ctx, a)
	if err != nil {
		t.Fatalf("query account %s: %v", a, err)
	}
	return acc.Balance
}

// consAddrOf is the CometBFT address of node i's validator key.
func consAddrOf(t *testing.T, home string) string {
	t.Helper()
	pub, err := node.ConsensusPubKey(home)
	if err != nil {
		t.Fatal(err)
	}
	a := contracts.AddressOf(ed25519.PublicKey(pub))
	return fmt.Sprintf("%X", a[:])
}

// cometPowers is CometBFT's own validator set at height h (0 = latest), by address.
func cometPowers(ctx context.Context, t *testing.T, c *node.Client, h int64) map[string]int64 {
	t.Helper()
	var hp *int64
	if h > 0 {
		hp = &h
	}
	perPage := 100
	res, err := c.RPC.Validators(ctx, hp, nil, &perPage)
	if err != nil {
		t.Fatalf("validators at %d: %v", h, err)
	}
	out := map[string]int64{}
	for _, v := range res.Validators {
		out[v.Address.String()] = v.VotingPower
	}
	return out
}

// eventually polls cond every 200 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func waitHeight(ctx context.Context, t *testing.T, c *node.Client, h int64) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := devnet.WaitHeight(wctx, c, h); err != nil {
		t.Fatal(err)
	}
}
