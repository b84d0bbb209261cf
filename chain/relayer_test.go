package chain

import (
	"context"
	"io"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
	"github.com/ciro-network/ciro-node/chain/localstark"
)

var (
	ciroChain   = checkpoint.ShortString("ciro-devnet")
	registryAt  = *new(felt.Felt).SetUint64(0xc120)
	relayerAddr = *new(felt.Felt).SetUint64(0xacc0)
	relayerKey  = big.NewInt(0x5eed)
)

// testValidators is a fixed 4-member set and its keys, in member order.
func testValidators() (checkpoint.ValidatorSet, []*big.Int) {
	type kp struct {
		k *big.Int
		m checkpoint.Member
	}
	var kps []kp
	for i := 0; i < 4; i++ {
		k := big.NewInt(int64(1_000_003*(i+1) + 17))
		kps = append(kps, kp{k, checkpoint.Member{PubKey: checkpoint.PublicKey(k), Power: 10}})
	}
	sort.Slice(kps, func(a, b int) bool { return kps[a].m.PubKey.Cmp(&kps[b].m.PubKey) < 0 })
	set := make(checkpoint.ValidatorSet, 4)
	keys := make([]*big.Int, 4)
	for i := range kps {
		set[i], keys[i] = kps[i].m, kps[i].k
	}
	return set, keys
}

// signedCheckpoints makes checkpoints 1..n of a chain whose set never changes, each signed by
// three of the four validators.
func signedCheckpoints(t testing.TB, n int) []*checkpoint.Submission {
	t.Helper()
	set, keys := testValidators()
	out := make([]*checkpoint.Submission, n)
	for i := range out {
		e := uint64(i + 1)
		cp := checkpoint.Checkpoint{ChainID: ciroChain, Epoch: e, StartHeight: 10*e - 9, EndHeight: 10 * e,
			NextSetHash: *set.Hash(), Nonce: e}
		cp.AppRoot.SetUint64(1000 + e)
		cp.JobsRoot.SetUint64(2000 + e)
		sub := &checkpoint.Submission{Checkpoint: cp}
		for _, m := range []int{0, 1, 3} {
			r, s, err := checkpoint.Sign(cp.Digest(), keys[m])
			if err != nil {
				t.Fatal(err)
			}
			sub.Sigs = append(sub.Sigs, checkpoint.Signature{Index: uint32(m), R: r, S: s})
		}
		out[i] = sub
	}
	return out
}

type harness struct {
	node   *localstark.Node
	url    string
	outbox *Outbox
	rel    *Relayer
	reg    *prometheus.Registry
}

func newNode(t testing.TB) (*localstark.Node, string) {
	t.Helper()
	set, _ := testValidators()
	node, err := localstark.New(localstark.Config{StarknetChainID: "SN_CIRO_LOCAL", Registry: registryAt,
		CiroChainID: ciroChain, Genesis: set, L2GasPrice: 1000})
	if err != nil {
		t.Fatal(err)
	}
	node.AddAccount(relayerAddr, checkpoint.PublicKey(relayerKey))
	h, err := node.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return node, srv.URL
}

func newHarness(t *testing.T, mutate func(*RelayerConfig)) *harness {
	t.Helper()
	node, url := newNode(t)
	ob, err := OpenOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	cfg := RelayerConfig{Endpoint: url, Account: relayerAddr, PrivateKey: relayerKey, Registry: registryAt,
		MaxBatch: 32, MaxInFlight: 4, MinBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond}
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	rel, err := NewRelayer(cfg, ob, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{node: node, url: url, outbox: ob, rel: rel, reg: reg}
}

func (h *harness) enqueue(t *testing.T, subs []*checkpoint.Submission) {
	t.Helper()
	for _, s := range subs {
		if err := h.outbox.Put(s); err != nil {
			t.Fatal(err)
		}
	}
}

// drive runs relayer rounds and blocks until every record is confirmed or rounds run out.
func (h *harness) drive(t *testing.T, rounds int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < rounds; i++ {
		_ = h.rel.Step(ctx)
		h.node.Produce()
		if h.allConfirmed(t) {
			return
		}
	}
	recs, _ := h.outbox.Records()
	for _, r := range recs {
		if r.State != Confirmed {
			t.Fatalf("after %d rounds checkpoint %d is %s (%s)", rounds, r.Nonce, r.State, r.LastError)
		}
	}
}

func (h *harness) allConfirmed(t *testing.T) bool {
	recs, err := h.outbox.Records()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.State != Confirmed {
			return false
		}
	}
	return true
}

// landedExactlyOnce checks that the registry took checkpoints 1..n, each once.
func (h *harness) landedExactlyOnce(t *testing.T, n int) {
	t.Helper()
	st := h.node.Stats()
	if st.LastNonce != uint64(n) || st.Accepted != n {
		t.Fatalf("registry took %d checkpoints, last nonce %d; want %d", st.Accepted, st.LastNonce, n)
	}
}

func TestRelayerBatchesAndWaitsForAcceptedOnL2(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue(t, signedCheckpoints(t, 70))
	ctx := context.Background()
	if err := h.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	// 70 checkpoints at 32 per invoke: three invokes, all in flight at once.
	if st := h.node.Stats(); st.Invokes != 3 {
		t.Fatalf("%d invokes sent, want 3 in flight", st.Invokes)
	}
	h.node.Produce() // executed: PRE_CONFIRMED
	if err := h.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _ := h.outbox.Records()
	for _, r := range recs {
		if r.State != Sent {
			t.Fatalf("checkpoint %d is %s at PRE_CONFIRMED; the relayer must wait for ACCEPTED_ON_L2", r.Nonce, r.State)
		}
	}
	h.node.Produce() // ACCEPTED_ON_L2
	if err := h.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _ = h.outbox.Records()
	hashes := map[string]int{}
	for _, r := range recs {
		if r.State != Confirmed || r.TxHash == "" || r.Fee == "" || r.Fee == "0x0" || r.Block == 0 || len(r.Receipt) == 0 {
			t.Fatalf("checkpoint %d not fully recorded: %+v", r.Nonce, r)
		}
		hashes[r.TxHash]++
	}
	if len(hashes) != 3 {
		t.Fatalf("checkpoints spread over %d invokes, want 3", len(hashes))
	}
	h.landedExactlyOnce(t, 70)
	st, err := h.outbox.Status()
	if err != nil || st.Confirmed != 70 || st.Pending+st.Sent != 0 || st.LastConfirmed != 70 || st.LastTxHash == "" {
		t.Fatalf("outbox status %+v %v", st, err)
	}
	if got := testutil.ToFloat64(h.rel.m.confirmed); got != 70 {
		t.Errorf("confirmed metric %v", got)
	}
	if got := testutil.ToFloat64(h.rel.m.depth); got != 0 {
		_ = h.rel.Step(ctx)
		if got = testutil.ToFloat64(h.rel.m.depth); got != 0 {
			t.Errorf("outbox depth metric %v after all confirmed", got)
		}
	}
	if testutil.ToFloat64(h.rel.m.fees) <= 0 || testutil.ToFloat64(h.rel.m.submissions) != 3 {
		t.Errorf("fees %v submissions %v", testutil.ToFloat64(h.rel.m.fees), testutil.ToFloat64(h.rel.m.submissions))
	}
}

func TestRelayerRevertIsRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue(t, signedCheckpoints(t, 40))
	h.node.RevertNext(1)
	h.drive(t, 20)
	h.landedExactlyOnce(t, 40)
	if got := testutil.ToFloat64(h.rel.m.failures.WithLabelValues("revert")); got < 1 {
		t.Fatalf("revert not counted: %v", got)
	}
}

func TestRelayerNonceClash(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue(t, signedCheckpoints(t, 5))
	ctx := context.Background()
	if err := h.rel.Step(ctx); err != nil { // reads nonce 0 and sends
		t.Fatal(err)
	}
	h.node.Produce()
	h.node.Produce()
	_ = h.rel.Step(ctx)
	h.enqueue(t, signedCheckpoints(t, 9)[5:])
	// Another transaction of the same account takes the relayer's next nonce.
	if err := h.node.BumpNonce(relayerAddr); err != nil {
		t.Fatal(err)
	}
	h.drive(t, 20)
	h.landedExactlyOnce(t, 9)
	if got := testutil.ToFloat64(h.rel.m.failures.WithLabelValues("nonce")); got < 1 {
		t.Fatalf("nonce clash not seen: %v", got)
	}
}

func TestRelayerUnderpricedFee(t *testing.T) {
	h := newHarness(t, func(c *RelayerConfig) { c.FeeMultiplier = 0.5 })
	h.enqueue(t, signedCheckpoints(t, 3))
	h.drive(t, 20)
	h.landedExactlyOnce(t, 3)
	if got := testutil.ToFloat64(h.rel.m.failures.WithLabelValues("underpriced")); got < 1 {
		t.Fatalf("underpriced refusal not seen: %v", got)
	}
}

func TestRelayerEndpointOutage(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue(t, signedCheckpoints(t, 10))
	ctx := context.Background()
	if err := h.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	h.node.SetOutage(true)
	for i := 0; i < 5; i++ {
		if err := h.rel.Step(ctx); err == nil {
			t.Fatal("no error while the endpoint is down")
		}
		h.node.Produce()
	}
	h.node.SetOutage(false)
	h.enqueue(t, signedCheckpoints(t, 12)[10:])
	h.drive(t, 20)
	h.landedExactlyOnce(t, 12)
	if got := testutil.ToFloat64(h.rel.m.failures.WithLabelValues("outage")); got < 5 {
		t.Fatalf("outage failures counted %v, want ≥ 5", got)
	}
}

func TestAttackReplayedRelay(t *testing.T) {
	// Two relayers with their own outboxes and accounts send the same checkpoints before either
	// lands: the registry takes each once and ignores the second copy, and neither invoke reverts.
	h := newHarness(t, nil)
	subs := signedCheckpoints(t, 6)
	h.enqueue(t, subs)
	h2 := h.second(t, 0xacc1, 0x5eee)
	h2.enqueue(t, subs)
	ctx := context.Background()
	if err := h.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h2.rel.Step(ctx); err != nil {
		t.Fatal(err)
	}
	h.node.Produce()
	h.node.Produce()
	h.drive(t, 5)
	h2.drive(t, 5)
	st := h.node.Stats()
	if st.Accepted != 6 || st.Duplicates != 6 || st.LastNonce != 6 {
		t.Fatalf("after a replayed relay: %+v", st)
	}
	if got := testutil.ToFloat64(h2.rel.m.failures.WithLabelValues("revert")); got != 0 {
		t.Fatalf("the second relay reverted %v times", got)
	}
	// A third relayer that comes later sees them on the registry and sends nothing.
	h3 := h.second(t, 0xacc2, 0x5eef)
	h3.enqueue(t, subs)
	h3.drive(t, 3)
	if got := h.node.Stats(); got.Invokes != st.Invokes {
		t.Fatalf("a late relayer sent %d invokes for checkpoints already landed", got.Invokes-st.Invokes)
	}
	recs, _ := h3.outbox.Records()
	for _, r := range recs {
		if !r.Elsewhere || r.TxHash != "" {
			t.Fatalf("checkpoint %d not recorded as landed elsewhere: %+v", r.Nonce, r)
		}
	}
}

// second is another relayer, with its own account and outbox, on h's endpoint.
func (h *harness) second(t *testing.T, addr, key int64) *harness {
	t.Helper()
	a := *new(felt.Felt).SetUint64(uint64(addr))
	k := big.NewInt(key)
	h.node.AddAccount(a, checkpoint.PublicKey(k))
	ob, err := OpenOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	rel, err := NewRelayer(RelayerConfig{Endpoint: h.url, Account: a, PrivateKey: k, Registry: registryAt,
		MinBackoff: time.Nanosecond}, ob, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{node: h.node, url: h.url, outbox: ob, rel: rel}
}

func TestOutboxIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	ob, err := OpenOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	subs := signedCheckpoints(t, 3)
	for i := 0; i < 2; i++ {
		for _, s := range subs {
			if err := ob.Put(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	other := *subs[1]
	other.Checkpoint.AppRoot.SetUint64(7)
	if err := ob.Put(&other); err == nil {
		t.Fatal("a different checkpoint under a taken nonce was accepted")
	}
	ob.Close()
	ob, err = OpenOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	recs, err := ob.Records()
	if err != nil || len(recs) != 3 {
		t.Fatalf("after reopen: %d records, %v", len(recs), err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	subs := signedCheckpoints(f, 1)
	raw, _ := subs[0].MarshalBinary()
	f.Add([]byte(`{"nonce":1,"state":1,"submission":"` + "AAAA" + `"}`))
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRecord(data)
		if err != nil {
			return
		}
		if rec.State < Pending || rec.State > Confirmed {
			t.Fatalf("decoded a record in state %d", rec.State)
		}
	})
}

func relayerKeyPub() felt.Felt { return checkpoint.PublicKey(relayerKey) }

// TestRelayerRunStopsWithItsContext relays with Run against an endpoint closing its own blocks,
// and checks that Run returns once its context ends.
func TestRelayerRunStopsWithItsContext(t *testing.T) {
	h := newHarness(t, func(c *RelayerConfig) { c.Poll = 5 * time.Millisecond })
	h.enqueue(t, signedCheckpoints(t, 10))
	ctx, cancel := context.WithCancel(context.Background())
	blocks := make(chan struct{})
	go func() {
		defer close(blocks)
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				h.node.Produce()
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- h.rel.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !h.allConfirmed(t) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not confirm the checkpoints")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-blocks
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	h.landedExactlyOnce(t, 10)
}

// TestRelayerDoesNotPayForABatchThatWouldRevert: checkpoint 1 is missing from the outbox, so a
// batch of 2..5 would revert with NONCE_GAP. The fee estimate runs it first; nothing is sent and
// nothing paid until checkpoint 1 arrives.
func TestRelayerDoesNotPayForABatchThatWouldRevert(t *testing.T) {
	h := newHarness(t, nil)
	subs := signedCheckpoints(t, 5)
	h.enqueue(t, subs[1:])
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := h.rel.Step(ctx); err == nil {
			t.Fatal("a batch that would revert was sent without error")
		}
		h.node.Produce()
	}
	if st := h.node.Stats(); st.Invokes != 0 {
		t.Fatalf("%d invokes sent for a batch that would revert", st.Invokes)
	}
	if got := testutil.ToFloat64(h.rel.m.failures.WithLabelValues("would_revert")); got != 3 {
		t.Fatalf("would_revert failures %v, want 3", got)
	}
	h.enqueue(t, subs[:1])
	h.drive(t, 10)
	h.landedExactlyOnce(t, 5)
}
