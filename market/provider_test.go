package market

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

func TestHonestProviderCompletesAndEarns(t *testing.T) {
	n := newNet(t, []string{"p1"}, []string{"alice"}, []string{"v1"})
	o := n.providerOpts("p1", Honest, 2)
	o.WithdrawThreshold = new(uint256.Int) // withdraw whatever is earned
	p, _ := n.startProvider(o)
	eventually(t, "registration", func() bool { return n.providerRec("p1") != nil })
	if rec := n.providerRec("p1"); len(rec.Asks) != len(p.Asks()) || !strings.Contains(strings.Join(rec.Frameworks, ","), "wasi") {
		t.Fatalf("on-chain offer %+v, want %d asks and wasi", rec, len(p.Asks()))
	}
	c := n.client("alice")
	id := n.submit(c, wasmJob(t, contracts.VerifyNone, 5))
	j := n.waitJob(c, id)
	if j.Status != contracts.JobCompleted || slotOf(t, j, "p1").Status != contracts.AssignAccepted {
		t.Fatalf("job %s, want completed and accepted", fingerprint(j))
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := c.FetchResult(context.Background(), id, out, nil); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, out)
	if got["a.txt.rev"] != "\ntekram olleh" || got["sub/b.txt.rev"] != "9876543210" || got["summary.txt"] != "files 2 bytes 23 args [x]\n" {
		t.Fatalf("result %q", got)
	}
	// The commitment names the full result directory: output plus logs and manifest.
	full, err := FullResultCID(slotOf(t, j, "p1").Commitment)
	if err != nil {
		t.Fatal(err)
	}
	fullDir := filepath.Join(t.TempDir(), "full")
	if err := n.store.Get(context.Background(), full, fullDir, contentGetOptions()); err != nil {
		t.Fatalf("full result %s: %v", full, err)
	}
	tree := readTree(t, fullDir)
	if tree["manifest.json"] == "" || tree["output/summary.txt"] != got["summary.txt"] {
		t.Fatalf("full result %v", tree)
	}
	// The manifest names the logs by CID, and that CID serves the logs of the result.
	m, err := compute.ReadManifest(fullDir)
	if err != nil {
		t.Fatal(err)
	}
	logsCID, err := cid.Decode(m.LogsCID)
	if err != nil {
		t.Fatalf("manifest logs_cid %q: %v", m.LogsCID, err)
	}
	rd, _, err := n.store.Cat(context.Background(), logsCID)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || string(logs) != tree[compute.LogsFileName] {
		t.Fatalf("logs by CID %q (%v), want the result's %q", logs, err, tree[compute.LogsFileName])
	}
	// Earned and withdrawn: earnings back to zero, the balance holds the pay.
	eventually(t, "withdrawal", func() bool {
		rec := n.providerRec("p1")
		return rec.Completed == 1 && rec.Earnings.IsZero() && len(n.chain.delivered(p.Address(), contracts.TxWithdraw)) > 0
	})
	if subs := n.chain.delivered(p.Address(), contracts.TxSubmitResult); len(subs) != 1 || subs[0].err != nil {
		t.Fatalf("SubmitResult txs %+v, want exactly one", subs)
	}
}

func TestRedundantSlashesWrongResult(t *testing.T) {
	n := newNet(t, []string{"h1", "h2", "bad"}, []string{"alice"}, []string{"v1"})
	n.startProvider(n.providerOpts("h1", Honest, 2))
	n.startProvider(n.providerOpts("h2", Honest, 2))
	n.startProvider(n.providerOpts("bad", WrongResult, 2))
	n.startVerifier("v1") // the 2-1 split on a bit-exact job is settled by re-execution
	eventually(t, "registration", func() bool {
		return n.providerRec("h1") != nil && n.providerRec("h2") != nil && n.providerRec("bad") != nil
	})
	before := n.staker("bad").Tokens.Clone()
	c := n.client("alice")
	r := wasmJob(t, contracts.VerifyRedundant, 5)
	r.Redundancy = 3
	j := n.waitJob(c, n.submit(c, r))
	if j.Status != contracts.JobCompleted {
		t.Fatalf("job %s", fingerprint(j))
	}
	for _, h := range []string{"h1", "h2"} {
		if a := slotOf(t, j, h); a.Status != contracts.AssignAccepted || a.ResultCID != j.ResultCID {
			t.Fatalf("%s: %+v", h, a)
		}
	}
	if a := slotOf(t, j, "bad"); a.Status != contracts.AssignRejected || a.ResultCID == j.ResultCID {
		t.Fatalf("bad: %+v", a)
	}
	if after := n.staker("bad").Tokens; !after.Lt(before) {
		t.Fatalf("bad's stake %s → %s, want slashed", before, after)
	}
	if n.providerRec("h1").Earnings.IsZero() || !n.providerRec("bad").Earnings.IsZero() {
		t.Fatal("honest providers should be paid and the wrong one not")
	}
}

func TestSilentProviderIsSlashedAndJobReauctioned(t *testing.T) {
	n := newNet(t, []string{"silent", "honest"}, []string{"alice"}, []string{"v1"})
	// The silent provider is cheaper, so the auction picks it first.
	n.startProvider(n.providerOpts("silent", Silent, 1))
	n.startProvider(n.providerOpts("honest", Honest, 8))
	eventually(t, "registration", func() bool { return n.providerRec("silent") != nil && n.providerRec("honest") != nil })
	before := n.staker("silent").Tokens.Clone()
	c := n.client("alice")
	r := wasmJob(t, contracts.VerifyNone, 10)
	r.DeadlineBlocks = 150 // the re-auctioned slot gets as long again; room for -race
	j := n.waitJob(c, n.submit(c, r))
	if j.Status != contracts.JobCompleted || j.Reauctions != 1 {
		t.Fatalf("job %s, want completed after one re-auction", fingerprint(j))
	}
	if a := slotOf(t, j, "silent"); a.Status != contracts.AssignNoShow {
		t.Fatalf("silent: %+v", a)
	}
	if a := slotOf(t, j, "honest"); a.Status != contracts.AssignAccepted {
		t.Fatalf("honest: %+v", a)
	}
	if !n.staker("silent").Tokens.Lt(before) {
		t.Fatal("the silent provider was not slashed")
	}
}

// laggingView hides each job from the first hide reads, as a light peer's view does for the
// block between an assignment's event and the next verified header.
type laggingView struct {
	*fakeView
	hide  int
	mu    sync.Mutex
	reads map[uint64]int
}

func (v *laggingView) Job(ctx context.Context, id uint64) (*contracts.Job, error) {
	v.mu.Lock()
	v.reads[id]++
	n := v.reads[id]
	v.mu.Unlock()
	if n <= v.hide {
		return nil, nil
	}
	return v.fakeView.Job(ctx, id)
}

// TestProviderWaitsOutALaggingView: an assignment the provider's view cannot show yet is read
// again shortly, not left to the catch-up poll (an hour here).
func TestProviderWaitsOutALaggingView(t *testing.T) {
	n := newNet(t, []string{"p1"}, []string{"alice"}, []string{"v1"})
	view := &laggingView{fakeView: n.chain.view("p1"), hide: 3, reads: map[uint64]int{}}
	o := n.providerOpts("p1", Honest, 2)
	o.Chain, o.PollInterval = view, time.Hour
	n.startProvider(o)
	eventually(t, "registration", func() bool { return n.providerRec("p1") != nil })
	c := n.client("alice")
	id := n.submit(c, wasmJob(t, contracts.VerifyNone, 5))
	if j := n.waitJob(c, id); j.Status != contracts.JobCompleted {
		t.Fatalf("job %s, want completed", fingerprint(j))
	}
	view.mu.Lock()
	defer view.mu.Unlock()
	if view.reads[id] <= view.hide {
		t.Fatalf("the provider read job %d %d times; the view hid it for %d", id, view.reads[id], view.hide)
	}
}

// TestAutoRestake: with AutoRestake the provider's stake grows by exactly what it withdrew;
// without, it stays as it was. Inflation is off so that epoch rewards do not move the stake.
func TestAutoRestake(t *testing.T) {
	params := testParams()
	params.InflationPerEpoch = new(uint256.Int)
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			n := newNetParams(t, params, []string{"p1"}, []string{"alice"}, []string{"v1"})
			o := n.providerOpts("p1", Honest, 2)
			o.WithdrawThreshold = new(uint256.Int) // withdraw whatever is earned
			o.AutoRestake = on
			p, _ := n.startProvider(o)
			eventually(t, "registration", func() bool { return n.providerRec("p1") != nil })
			before := n.staker("p1").Tokens.Clone()

			c := n.client("alice")
			if j := n.waitJob(c, n.submit(c, wasmJob(t, contracts.VerifyNone, 5))); j.Status != contracts.JobCompleted {
				t.Fatalf("job %s", fingerprint(j))
			}
			var withdrawn *uint256.Int
			eventually(t, "withdrawal", func() bool {
				for _, d := range n.chain.delivered(p.Address(), contracts.TxWithdraw) {
					if d.err == nil {
						withdrawn = d.msg.(*contracts.Withdraw).Amount
						return true
					}
				}
				return false
			})
			if withdrawn.IsZero() {
				t.Fatal("withdrew nothing")
			}
			if on {
				eventually(t, "restake", func() bool { return len(n.chain.delivered(p.Address(), contracts.TxStake)) > 0 })
				stakes := n.chain.delivered(p.Address(), contracts.TxStake)
				if st := stakes[0]; st.err != nil || !st.msg.(*contracts.Stake).Amount.Eq(withdrawn) ||
					st.msg.(*contracts.Stake).Roles != contracts.RoleProvider {
					t.Fatalf("restake tx %+v (err %v), want %s with the provider role", st.msg, st.err, withdrawn.Dec())
				}
			} else {
				// A restake would be sent as soon as the withdrawal returned: give it blocks.
				time.Sleep(300 * time.Millisecond)
				if stakes := n.chain.delivered(p.Address(), contracts.TxStake); len(stakes) != 0 {
					t.Fatalf("auto_restake off sent %d Stake txs", len(stakes))
				}
			}
			want := before.Clone()
			if on {
				want.Add(want, withdrawn)
			}
			if got := n.staker("p1").Tokens; !got.Eq(want) {
				t.Fatalf("stake %s after withdrawing %s, want %s (was %s)", contracts.FormatCIRO(got), contracts.FormatCIRO(withdrawn),
					contracts.FormatCIRO(want), contracts.FormatCIRO(before))
			}
			if rec := n.providerRec("p1"); !rec.Earnings.IsZero() {
				t.Fatalf("earnings %s left after the withdrawal", rec.Earnings.Dec())
			}
		})
	}
}
