package statedb

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

var benchOnce sync.Once

// benchCommit10k times 10,000 random writes (32-byte keys, 100-byte values)
// plus Commit on an on-disk store, over rounds rounds on a growing tree, and
// returns the mean per round.
func benchCommit10k(tb testing.TB, dir string, rounds int) time.Duration {
	s := openStore(tb, Options{Dir: dir, KeepRecent: 100})
	rng := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 32)
	val := make([]byte, 100)
	var total time.Duration
	for range rounds {
		start := time.Now()
		for range 10_000 {
			for i := range key {
				key[i] = byte(rng.Uint32())
			}
			for i := range val {
				val[i] = byte(rng.Uint32())
			}
			must(tb, s.Set(key, val))
		}
		commit(tb, s)
		total += time.Since(start)
	}
	return total / time.Duration(rounds)
}

// BenchmarkCommit10kWrites prints "BENCH statedb_commit_10k_writes <ms>": the
// mean time of 10,000 random writes plus Commit on disk, over 5 rounds.
func BenchmarkCommit10kWrites(b *testing.B) {
	for range b.N {
		mean := benchCommit10k(b, b.TempDir(), 5)
		benchOnce.Do(func() {
			fmt.Printf("BENCH statedb_commit_10k_writes %.1f\n", float64(mean.Microseconds())/1000)
		})
	}
}
