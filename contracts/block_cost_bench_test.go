package contracts

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/storage/statedb"
)

// BenchmarkBlockCostLargeState measures what FinalizeBlock does for an empty block: BeginBlock
// and EndBlock on a write buffer over the IAVL store the node runs on, the buffer's flush and
// the new root hash. It runs the same blocks on a state holding 100,000 pending jobs no
// provider can take, 10,000 registered providers and 100,000 validator candidates, and on a
// state holding only the genesis, and reports the median of several blocks of each.
func BenchmarkBlockCostLargeState(b *testing.B) {
	const (
		pendingJobs = 100_000
		providers   = 10_000
		stakers     = 100_000
		clients     = 100
		blocks      = 7
	)
	for it := 0; it < b.N; it++ {
		empty := blockCostStore(b, 0, 0, 0, clients)
		emptyMs, _ := medianBlockMs(b, empty, blocks)
		large := blockCostStore(b, pendingJobs, providers, stakers, clients)
		largeMs, reads := medianBlockMs(b, large, blocks)
		_ = empty.Close()
		_ = large.Close()
		if it == 0 {
			fmt.Printf("BENCH block_cost_large_state_ms %.2f ms empty_state_ms=%.2f ratio=%.2f reads=%d pending_jobs=%d providers=%d stakers=%d\n",
				largeMs, emptyMs, largeMs/emptyMs, reads, pendingJobs, providers, stakers)
		}
	}
}

// blockCostStore builds a committed state: the genesis of jobParams with two validators, then
// stakers validator candidates, providers registered providers and pendingJobs queued jobs,
// written through the contracts' own record writers so every index is as the chain keeps it.
func blockCostStore(b *testing.B, pendingJobs, providers, stakers, clients int) *statedb.Store {
	b.Helper()
	store, err := statedb.Open(statedb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := jobParams()
	var accs []GenesisAccount
	for i := 0; i < clients; i++ {
		accs = append(accs, GenesisAccount{Address: testAddr(i), Balance: CIRO(10)})
	}
	g := &Genesis{Params: p, Accounts: accs, Stakers: []GenesisStaker{genesisValidator(10, CIRO(1000)), genesisValidator(11, CIRO(1000))}}
	if _, err := NewMachine(store).InitGenesis(testChain, g); err != nil {
		b.Fatal(err)
	}
	x, err := NewMachine(store).newExec(store, &Block{ChainID: testChain, Height: 1, Time: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	addr := func(kind string, i int) Address {
		h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(kind), uint64(i)))
		var a Address
		copy(a[:], h[:])
		return a
	}
	for i := 0; i < stakers; i++ {
		cons := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("cons"), uint64(i)))
		st := &Staker{Address: addr("staker", i), Roles: RoleValidator, ConsPubKey: cons[:], Tokens: CIRO(uint64(100 + i%5000)), Shares: CIRO(uint64(100 + i%5000))}
		if err := x.st.setStaker(st); err != nil {
			b.Fatal(err)
		}
	}
	o := offer(CIRO(1), 4)
	for i := 0; i < providers; i++ {
		a := addr("provider", i)
		if err := x.st.setStaker(&Staker{Address: a, Roles: RoleProvider, Tokens: enterprise(), Shares: enterprise()}); err != nil {
			b.Fatal(err)
		}
		pr := o.offer()
		pr.Address, pr.Earnings = a, zero()
		pr.Asks = []Ask{{Type: JobAIInference, Price: CIRO(uint64(1 + i%5))}}
		if err := x.st.setProvider(pr); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < pendingJobs; i++ {
		j := &Job{ID: uint64(i + 1), Client: testAddr(i % clients), Spec: unassignable(uint64(10_000 + i%90_000)), Status: JobPending,
			SubmittedAt: 1, Escrow: CIRO(2), Fee: zero(), Paid: zero(), Refunded: zero()}
		if err := x.st.setJob(j); err != nil {
			b.Fatal(err)
		}
		if err := x.queueJob(j); err != nil {
			b.Fatal(err)
		}
		// Queued in an earlier block: the auction tried it then.
		if err := store.Delete(freshKey(j.Spec.Priority, j.ID)); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := store.Commit(); err != nil {
		b.Fatal(err)
	}
	return store
}

// medianBlockMs runs n empty blocks from height 2 as FinalizeBlock and Commit do and returns the
// median FinalizeBlock time in milliseconds, with the most store reads (Gets and iterated
// entries) a block made.
func medianBlockMs(b *testing.B, store *statedb.Store, n int) (float64, int) {
	b.Helper()
	var times []time.Duration
	maxReads := 0
	for h := int64(2); h < int64(2+n); h++ {
		blk := &Block{ChainID: testChain, Height: h, Time: 1_000_000 + uint64(h), Seed: []byte("bench")}
		start := time.Now()
		reads := &readCountKV{KV: store}
		cache := NewCache(reads)
		m := NewMachine(cache)
		if _, err := m.BeginBlock(blk); err != nil {
			b.Fatal(err)
		}
		if _, _, err := m.EndBlock(blk); err != nil {
			b.Fatal(err)
		}
		if err := cache.Write(); err != nil {
			b.Fatal(err)
		}
		_ = store.WorkingHash()
		times = append(times, time.Since(start))
		maxReads = max(maxReads, reads.ops)
		if _, _, err := store.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(times)
	return float64(times[len(times)/2].Microseconds()) / 1000, maxReads
}
