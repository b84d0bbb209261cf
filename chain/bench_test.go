package chain

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/NethermindEth/juno/core/felt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
)

// BenchmarkCheckpointsPerInvoke relays 256 checkpoints (4 validators, 3 signatures each) through
// the local endpoint and reports how many one invoke carried, with the fee per checkpoint under
// the endpoint's gas model and the relay time.
func BenchmarkCheckpointsPerInvoke(b *testing.B) {
	const n = 256
	subs := signedCheckpoints(b, n)
	for i := 0; i < b.N; i++ {
		node, url := newNode(b)
		ob, err := OpenOutbox(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		rel, err := NewRelayer(RelayerConfig{Endpoint: url, Account: relayerAddr, PrivateKey: relayerKey, Registry: registryAt,
			MaxBatch: 64, MaxInFlight: 4, MinBackoff: time.Nanosecond}, ob, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range subs {
			if err := ob.Put(s); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		for round := 0; round < 20 && ob.pendingCount(b) > 0; round++ {
			_ = rel.Step(context.Background())
			node.Produce()
		}
		elapsed := time.Since(start)
		st := node.Stats()
		if st.Accepted != n {
			b.Fatalf("%d of %d checkpoints landed", st.Accepted, n)
		}
		recs, _ := ob.Records()
		fee, err := new(felt.Felt).SetString(recs[0].Fee)
		if err != nil {
			b.Fatalf("checkpoint 1 fee %q: %v", recs[0].Fee, err)
		}
		perInvoke := float64(n) / float64(st.Invokes)
		b.ReportMetric(perInvoke, "checkpoints/invoke")
		fmt.Printf("BENCH checkpoints_per_invoke %.0f invokes=%d checkpoints=%d validators=4 signatures=3 fee_fri_per_invoke=%s relay_ms=%d target=32\n",
			perInvoke, st.Invokes, n, fee.Text(10), elapsed.Milliseconds())
		ob.Close()
	}
}

// BenchmarkCheckpointCalldataFelts reports the calldata one checkpoint adds to a multicall: the
// call header, the checkpoint, next_set and the signatures; with and without a rotation.
func BenchmarkCheckpointCalldataFelts(b *testing.B) {
	subs := signedCheckpoints(b, 1)
	set, _ := testValidators()
	registry := new(felt.Felt).SetUint64(1)
	for i := 0; i < b.N; i++ {
		one := len(checkpoint.Multicall(registry, subs)) - 1 // minus the call count
		rot := *subs[0]
		rot.NextSet = set
		rotating := len(checkpoint.Multicall(registry, []*checkpoint.Submission{&rot})) - 1
		fmt.Printf("BENCH checkpoint_calldata_felts %d validators=4 signatures=3 with_rotation=%d\n", one, rotating)
	}
}

func (o *Outbox) pendingCount(tb testing.TB) int {
	recs, err := o.Records()
	if err != nil {
		tb.Fatal(err)
	}
	return countNot(recs, Confirmed)
}
