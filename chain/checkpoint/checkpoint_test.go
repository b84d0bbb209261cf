package checkpoint

import (
	"errors"
	"testing"

	"github.com/NethermindEth/juno/core/felt"
)

func TestDigestIsTheSameOnEveryValidator(t *testing.T) {
	set, _ := testSet(1, 10, 10, 10, 10)
	// Four validators form the checkpoint from the same chain data, independently.
	var digests []*felt.Felt
	for v := 0; v < 4; v++ {
		cp := testCheckpoint(t, 3, 3, set)
		digests = append(digests, cp.Digest())
	}
	for i := 1; i < len(digests); i++ {
		if !digests[i].Equal(digests[0]) {
			t.Fatalf("validator %d formed digest %s, validator 0 %s", i, digests[i], digests[0])
		}
	}
	// Every field reaches the digest.
	base := testCheckpoint(t, 3, 3, set)
	one := *new(felt.Felt).SetUint64(1)
	mutations := map[string]func(c *Checkpoint){
		"chain_id": func(c *Checkpoint) { c.ChainID = ShortString("ciro-other") },
		"epoch":    func(c *Checkpoint) { c.Epoch++ },
		"start":    func(c *Checkpoint) { c.StartHeight++ },
		"end":      func(c *Checkpoint) { c.EndHeight++ },
		"app_root": func(c *Checkpoint) { c.AppRoot.Add(&c.AppRoot, &one) },
		"next_set": func(c *Checkpoint) { c.NextSetHash.Add(&c.NextSetHash, &one) },
		"jobs":     func(c *Checkpoint) { c.JobsRoot.Add(&c.JobsRoot, &one) },
		"slashes":  func(c *Checkpoint) { c.SlashesRoot.Add(&c.SlashesRoot, &one) },
		"nonce":    func(c *Checkpoint) { c.Nonce++ },
	}
	for name, mut := range mutations {
		c := base
		mut(&c)
		if c.Digest().Equal(base.Digest()) {
			t.Errorf("changing %s leaves the digest unchanged", name)
		}
	}
}

func TestCheckpointFeltsRoundTrip(t *testing.T) {
	_, privs := testSet(1, 5, 6, 7)
	next, _ := testSet(2, 1, 2)
	cp := testCheckpoint(t, 4, 9, next)
	sub := &Submission{Checkpoint: cp, NextSet: next, Sigs: signBy(t, &cp, privs, 0, 2)}
	fs := sub.Felts()
	if want := CheckpointFelts + 1 + 2*len(next) + 1 + 3*2; len(fs) != want {
		t.Fatalf("submission is %d felts, want %d", len(fs), want)
	}
	got, err := SubmissionFromFelts(fs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Checkpoint != cp || len(got.NextSet) != 2 || got.NextSet[1] != next[1] || got.Sigs[1] != sub.Sigs[1] {
		t.Fatalf("round trip changed the submission: %+v", got)
	}
	b, _ := sub.MarshalBinary()
	again, err := UnmarshalSubmission(b)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Checkpoint.Digest().Equal(cp.Digest()) {
		t.Fatal("binary round trip changed the digest")
	}
	// Trailing felts, a short span and an over-long u64 are refused.
	if _, err := SubmissionFromFelts(append(fs, new(felt.Felt))); err == nil {
		t.Error("trailing felt accepted")
	}
	if _, err := SubmissionFromFelts(fs[:len(fs)-1]); err == nil {
		t.Error("truncated signatures accepted")
	}
	big := append([]*felt.Felt(nil), fs...)
	big[1] = new(felt.Felt).SetBytes([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	if _, err := SubmissionFromFelts(big); !errors.Is(err, ErrBadFelt) {
		t.Errorf("epoch over 64 bits: %v", err)
	}
}

func TestMerkleProofs(t *testing.T) {
	for n := 1; n <= 9; n++ {
		jobs := testJobs(1, n)
		tree := JobsTree(jobs)
		for i := range jobs {
			proof, err := tree.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyProof(tree.Root(), jobs[i].Hash(), proof) {
				t.Fatalf("n=%d: proof of leaf %d fails", n, i)
			}
			// A proof for one leaf proves no other leaf, and a leaf outside the tree fails.
			other := testJobs(2, 1)[0].Hash()
			if VerifyProof(tree.Root(), other, proof) {
				t.Fatalf("n=%d: leaf outside the tree proven with leaf %d's path", n, i)
			}
		}
	}
	if !NewTree(nil).Root().IsZero() {
		t.Error("empty tree root is not 0")
	}
	if VerifyProof(new(felt.Felt), new(felt.Felt), nil) {
		t.Error("the zero root proves the zero leaf")
	}
}

func TestThreshold(t *testing.T) {
	for _, c := range []struct {
		powers []uint64
		want   uint64
	}{
		{[]uint64{1, 1, 1}, 2}, {[]uint64{10, 10, 10, 10}, 27}, {[]uint64{1}, 1}, {[]uint64{100, 1, 1}, 68},
	} {
		set, _ := testSet(3, c.powers...)
		if got := set.Threshold(); got != c.want {
			t.Errorf("powers %v: threshold %d, want %d", c.powers, got, c.want)
		}
		// Threshold is the least power with 3 × power ≥ 2 × total.
		tot := set.TotalPower()
		if 3*set.Threshold() < 2*tot || 3*(set.Threshold()-1) >= 2*tot {
			t.Errorf("powers %v: threshold %d is not ceil(2/3 of %d)", c.powers, set.Threshold(), tot)
		}
	}
}

func TestValidatorSetRules(t *testing.T) {
	set, _ := testSet(1, 1, 2, 3)
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	swapped := ValidatorSet{set[1], set[0], set[2]}
	dup := ValidatorSet{set[0], set[0]}
	zero := ValidatorSet{{Power: 1}}
	noPower := ValidatorSet{{PubKey: set[0].PubKey}}
	huge := ValidatorSet{{PubKey: set[0].PubKey, Power: MaxTotalPower}, {PubKey: set[1].PubKey, Power: 1}}
	for name, s := range map[string]ValidatorSet{"unsorted": swapped, "duplicate": dup, "zero key": zero, "zero power": noPower, "overflow": huge, "empty": nil} {
		if err := s.Validate(); !errors.Is(err, ErrBadSet) {
			t.Errorf("%s set: %v, want ErrBadSet", name, err)
		}
	}
}
