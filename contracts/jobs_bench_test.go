package contracts

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var benchJobOnce sync.Once

// BenchmarkJobOps measures a FinalizeBlock-equivalent on a MemStore: BeginBlock, 10,000
// pre-signed SubmitJob transactions decoded and delivered (signatures are checked before
// DeliverTx, so not here), and the EndBlock auction assigning all of them across 50 providers.
// The rate counts submissions plus assignments.
func BenchmarkJobOps(b *testing.B) {
	const (
		submissions = 10_000
		providers   = 50
		clients     = 100
	)
	p := jobParams()
	g := &Genesis{Params: p}
	for i := 0; i < clients; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: testAddr(1000 + i), Balance: CIRO(1_000_000)})
	}
	g.Stakers = append(g.Stakers, genesisValidator(10, CIRO(1000)))
	for i := 0; i < providers; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: pa(i), Balance: CIRO(10)})
		g.Stakers = append(g.Stakers, GenesisStaker{Address: pa(i), Roles: RoleProvider, Stake: enterprise()})
	}
	base := NewMemStore()
	m := NewMachine(base)
	if _, err := m.InitGenesis(testChain, g); err != nil {
		b.Fatal(err)
	}
	blk := &Block{ChainID: testChain, Height: 1, Time: 1_000_000}
	for i := 0; i < providers; i++ {
		tx := signedTx(testKey(provBase+i), testChain, 0, p.MinTxFee, offer(CIRO(1), submissions/providers))
		if _, err := m.DeliverTx(blk, tx); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := m.EndBlock(blk); err != nil {
		b.Fatal(err)
	}
	raws := make([][]byte, 0, submissions)
	for n := 0; n < submissions; n++ {
		c := n % clients
		s := jspec(100)
		s.Priority = Priority(n % 4)
		s.ModelCID = fmt.Sprintf("bafymodel%d", n)
		raws = append(raws, signedTx(testKey(1000+c), testChain, uint64(n/clients), p.MinTxFee, &SubmitJob{Spec: s}).Encode())
	}
	b.ResetTimer()
	var elapsed time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		kv := NewMemStore()
		for k, v := range base.data {
			_ = kv.Set([]byte(k), v)
		}
		m := NewMachine(kv)
		blk := &Block{ChainID: testChain, Height: 2, Time: 1_000_005, Seed: []byte("bench")}
		b.StartTimer()
		start := time.Now()
		if _, err := m.BeginBlock(blk); err != nil {
			b.Fatal(err)
		}
		for _, raw := range raws {
			tx, err := DecodeTx(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.DeliverTx(blk, tx); err != nil {
				b.Fatal(err)
			}
		}
		_, evs, err := m.EndBlock(blk)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if n := len(eventsOf(evs, "job_assigned")); n != submissions {
			b.Fatalf("%d of %d jobs assigned", n, submissions)
		}
		b.StartTimer()
	}
	perBlock := elapsed / time.Duration(b.N)
	rate := float64(2*submissions) / perBlock.Seconds()
	b.ReportMetric(rate, "job_ops/s")
	b.ReportMetric(float64(perBlock.Milliseconds()), "ms/block")
	benchJobOnce.Do(func() {
		fmt.Printf("BENCH job_ops_per_s %.0f submissions_per_block=%d\n", rate, submissions)
		fmt.Printf("BENCH job_block_ms %.1f providers=%d\n", float64(perBlock.Microseconds())/1000, providers)
	})
}
