package checkpoint

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"sort"
	"testing"

	"github.com/NethermindEth/juno/core/felt"
)

// testKey is a fixed private key, so that vectors and failures reproduce.
func testKey(seed, i int) *big.Int {
	return new(big.Int).SetUint64(uint64(seed)*1_000_003 + uint64(i)*7_919 + 17)
}

// testSet builds a set of len(powers) members from seed, sorted as the layout wants, and
// returns the private keys in member order.
func testSet(seed int, powers ...uint64) (ValidatorSet, []*big.Int) {
	type kp struct {
		priv *big.Int
		m    Member
	}
	kps := make([]kp, len(powers))
	for i, p := range powers {
		priv := testKey(seed, i)
		kps[i] = kp{priv, Member{PubKey: PublicKey(priv), Power: p}}
	}
	sort.Slice(kps, func(a, b int) bool { return kps[a].m.PubKey.Cmp(&kps[b].m.PubKey) < 0 })
	set := make(ValidatorSet, len(kps))
	privs := make([]*big.Int, len(kps))
	for i := range kps {
		set[i], privs[i] = kps[i].m, kps[i].priv
	}
	return set, privs
}

func appHashes(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(fmt.Sprintf("app-hash-%d", from+i)))
		out[i] = h[:]
	}
	return out
}

func testJobs(epoch uint64, n int) []JobLeaf {
	jobs := make([]JobLeaf, n)
	for i := range jobs {
		j := JobLeaf{JobID: epoch*100 + uint64(i), SettledHeight: epoch*10 + uint64(i)}
		j.ResultDigest = sha256.Sum256([]byte(fmt.Sprintf("result-%d", j.JobID)))
		j.Paid[31] = byte(10 + i)
		j.Refunded[31] = byte(i)
		jobs[i] = j
	}
	return jobs
}

// testCheckpoint forms the checkpoint of epoch (heights 10e+1..10e+10) as every validator would.
func testCheckpoint(t testing.TB, epoch, nonce uint64, next ValidatorSet) Checkpoint {
	t.Helper()
	start := epoch*10 + 1
	app, err := AppHashRoot(start, appHashes(int(start), 10))
	if err != nil {
		t.Fatal(err)
	}
	slashes, err := SlashesRoot([]SlashLeaf{{Height: start + 3, Validator: [32]byte{31: 7}, Amount: [32]byte{31: 50}, Reason: "downtime"}})
	if err != nil {
		t.Fatal(err)
	}
	return Checkpoint{
		ChainID: ShortString("ciro-devnet"), Epoch: epoch, StartHeight: start, EndHeight: start + 9,
		AppRoot: *app, NextSetHash: *next.Hash(), JobsRoot: *JobsTree(testJobs(epoch, 5)).Root(),
		SlashesRoot: *slashes, Nonce: nonce,
	}
}

// signBy returns the signatures of the listed members over cp, in member order.
func signBy(t testing.TB, cp *Checkpoint, privs []*big.Int, members ...int) []Signature {
	t.Helper()
	d := cp.Digest()
	sigs := make([]Signature, 0, len(members))
	for _, i := range members {
		r, s, err := Sign(d, privs[i])
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, Signature{Index: uint32(i), R: r, S: s})
	}
	return sigs
}

func feltHex(f *felt.Felt) string { return f.String() }
