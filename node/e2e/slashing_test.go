package e2e

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cometbft/cometbft/privval"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

func rpcOpts(h int64) rpcclient.ABCIQueryOptions { return rpcclient.ABCIQueryOptions{Height: h} }

// TestDoubleSign builds real DuplicateVoteEvidence, two conflicting prevotes signed with
// node3's validator key, submits it through CometBFT's BroadcastEvidence, and checks the
// slash: 30% of stake, jail, −50 reputation, and removal from the validator set.
func TestDoubleSign(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := d.Clients[0]
	waitHeight(ctx, t, c, 3)
	home := d.Home(3)
	cfg, err := node.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	cmt := node.CometConfig(home, cfg)
	pv := privval.LoadFilePVEmptyState(cmt.PrivValidatorKeyFile(), "")
	chainID, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h--
	vals, err := c.RPC.Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	valSet := cmttypes.NewValidatorSet(vals.Validators)
	idx, _ := valSet.GetByAddress(pv.Key.Address)
	if idx < 0 {
		t.Fatalf("node3 is not in the validator set at height %d", h)
	}
	blk, err := c.RPC.Block(ctx, &h)
	if err != nil {
		t.Fatal(err)
	}
	vote := func(seed string) *cmttypes.Vote {
		hash := sha256.Sum256([]byte(seed))
		parts := sha256.Sum256([]byte(seed + "/parts"))
		v := &cmttypes.Vote{
			Type: cmttypes.PrevoteType, Height: h, Round: 0,
			BlockID:          cmttypes.BlockID{Hash: hash[:], PartSetHeader: cmttypes.PartSetHeader{Total: 1, Hash: parts[:]}},
			Timestamp:        blk.Block.Time,
			ValidatorAddress: pv.Key.Address,
			ValidatorIndex:   idx,
		}
		sig, err := pv.Key.PrivKey.Sign(cmttypes.VoteSignBytes(chainID, v.ToProto()))
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = sig
		return v
	}
	ev, err := cmttypes.NewDuplicateVoteEvidence(vote("block-a"), vote("block-b"), blk.Block.Time, valSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RPC.BroadcastEvidence(ctx, ev); err != nil {
		t.Fatalf("broadcast evidence: %v", err)
	}

	owner := mustKey(t, home, node.ValidatorKeyName)
	eventually(t, 60*time.Second, "node3 to be jailed for double signing", func() bool {
		return stakerOf(ctx, t, c, owner.Address).Jailed
	})
	st := stakerOf(ctx, t, c, owner.Address)
	if want := contracts.CIRO(700_000); !st.Tokens.Eq(want) {
		t.Errorf("tokens after a 30%% slash: %s, want %s", st.Tokens.Dec(), want.Dec())
	}
	if st.Reputation != 450 {
		t.Errorf("reputation %d, want 500 - 50", st.Reputation)
	}
	cons := consAddrOf(t, home)
	eventually(t, 30*time.Second, "node3 to leave CometBFT's validator set", func() bool {
		_, in := cometPowers(ctx, t, c, 0)[cons]
		return !in
	})
	top, _ := c.Height(ctx)
	waitHeight(ctx, t, c, top+3) // the other three keep the chain going
}

// TestDowntime stops one of four validators past the signed-blocks window and checks that it
// is slashed 5% and jailed while the chain keeps going, that unjailing early is refused with
// its own code, and that after the recovery period it unjails and rejoins the set.
func TestDowntime(t *testing.T) {
	d := nodetest.Network(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := d.Clients[0]
	waitHeight(ctx, t, c, 2)
	home := d.Home(3)
	owner := mustKey(t, home, node.ValidatorKeyName)
	if err := d.Procs[3].Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "node3 to be jailed for downtime", func() bool {
		return stakerOf(ctx, t, c, owner.Address).Jailed
	})
	st := stakerOf(ctx, t, c, owner.Address)
	if want := contracts.CIRO(950_000); !st.Tokens.Eq(want) {
		t.Errorf("tokens after a 5%% slash: %s, want %s", st.Tokens.Dec(), want.Dec())
	}
	if st.Reputation != 490 {
		t.Errorf("reputation %d, want 500 - 10", st.Reputation)
	}
	jailedAt, _ := c.Height(ctx)
	waitHeight(ctx, t, c, jailedAt+5)

	if err := d.Restart(3); err != nil {
		t.Fatal(err)
	}
	waitHeight(ctx, t, d.Clients[3], jailedAt+5)
	_, err := d.Clients[3].Send(ctx, owner, &contracts.Unjail{})
	if !node.IsCode(err, contracts.CodeTooEarly) {
		t.Fatalf("unjail during the recovery period: got %v, want code %s", err, contracts.CodeTooEarly)
	}
	var res *node.TxResult
	eventually(t, 60*time.Second, "unjail after the recovery period", func() bool {
		res, err = d.Clients[3].Send(ctx, owner, &contracts.Unjail{})
		return err == nil
	})
	cons := consAddrOf(t, home)
	waitHeight(ctx, t, c, res.Height+2)
	if p := cometPowers(ctx, t, c, res.Height+2)[cons]; p != 950_000 {
		t.Fatalf("node3 power after unjail: %d, want 950000", p)
	}
}
