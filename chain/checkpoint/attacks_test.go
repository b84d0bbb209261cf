package checkpoint

import (
	"errors"
	"testing"
)

// registryAt returns a registry on a 4 × 10 power set that has taken the checkpoint of epoch 1.
func registryAt(t *testing.T) (*Registry, ValidatorSet) {
	t.Helper()
	set, privs := testSet(1, 10, 10, 10, 10)
	r, err := NewRegistry(ShortString("ciro-devnet"), set)
	if err != nil {
		t.Fatal(err)
	}
	cp := testCheckpoint(t, 1, 1, set)
	if out, err := r.Submit(&Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 0, 1, 2)}); err != nil || out != Accepted {
		t.Fatalf("first checkpoint: %v %v", out, err)
	}
	return r, set
}

func mustRefuse(t *testing.T, r *Registry, sub *Submission, want *Refusal) {
	t.Helper()
	before := r.LastNonce()
	hash := r.SetHash()
	_, err := r.Submit(sub)
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want refusal %s", err, want.Reason)
	}
	after := r.SetHash()
	if r.LastNonce() != before || !after.Equal(&hash) {
		t.Fatal("a refused submission changed the registry")
	}
}

func TestAttackCheckpointWithHalfThePower(t *testing.T) {
	r, set := registryAt(t)
	_, privs := testSet(1, 10, 10, 10, 10)
	cp := testCheckpoint(t, 2, 2, set)
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 1, 3)}, ErrLowPower)
	// The same two signatures listed twice do not add up to a quorum.
	sigs := signBy(t, &cp, privs, 1, 3)
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: append(sigs, sigs...)}, ErrSigOrder)
	// Three of four is enough.
	if out, err := r.Submit(&Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 0, 1, 3)}); err != nil || out != Accepted {
		t.Fatalf("three of four refused: %v", err)
	}
}

func TestAttackForgedSignature(t *testing.T) {
	r, set := registryAt(t)
	_, privs := testSet(1, 10, 10, 10, 10)
	cp := testCheckpoint(t, 2, 2, set)
	sigs := signBy(t, &cp, privs, 0, 1, 2)
	// Member 2's signature made with a key that is not member 2's.
	outsider := testKey(99, 0)
	r2, s2, err := Sign(cp.Digest(), outsider)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]Signature(nil), sigs...)
	forged[2] = Signature{Index: 2, R: r2, S: s2}
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: forged}, ErrBadSignature)
	// Valid signatures over another digest (the previous epoch's) do not carry over.
	old := testCheckpoint(t, 2, 2, set)
	old.Epoch = 9
	moved := signBy(t, &old, privs, 0, 1, 2)
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: moved}, ErrBadSignature)
	// A zero signature is refused, not crashed on.
	zero := append([]Signature(nil), sigs...)
	zero[0] = Signature{Index: 0}
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: zero}, ErrBadSignature)
}

func TestAttackStaleNonce(t *testing.T) {
	r, set := registryAt(t)
	_, privs := testSet(1, 10, 10, 10, 10)
	// A different checkpoint, fully signed, that reuses nonce 1: refused, the stored one stays.
	cp := testCheckpoint(t, 5, 1, set)
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 0, 1, 2)}, ErrStaleNonce)
	// A nonce that skips ahead is refused too: the registry follows the set checkpoint by checkpoint.
	gap := testCheckpoint(t, 3, 3, set)
	mustRefuse(t, r, &Submission{Checkpoint: gap, Sigs: signBy(t, &gap, privs, 0, 1, 2)}, ErrNonceGap)
	// An epoch that goes backwards under a fresh nonce is refused.
	back := testCheckpoint(t, 1, 2, set)
	back.StartHeight, back.EndHeight = 100, 110
	mustRefuse(t, r, &Submission{Checkpoint: back, Sigs: signBy(t, &back, privs, 0, 1, 2)}, ErrBadRange)
}

func TestAttackRotationTheOldSetDidNotSign(t *testing.T) {
	r, _ := registryAt(t)
	next, nextPrivs := testSet(7, 5, 5, 5)
	cp := testCheckpoint(t, 2, 2, next)
	// The new set signs its own installation: refused, since only the current set may rotate.
	mustRefuse(t, r, &Submission{Checkpoint: cp, NextSet: next, Sigs: signBy(t, &cp, nextPrivs, 0, 1, 2)}, ErrBadSignature)
	// The old set signs, but the members given are not the set it signed.
	_, privs := testSet(1, 10, 10, 10, 10)
	other, _ := testSet(8, 5, 5, 5)
	mustRefuse(t, r, &Submission{Checkpoint: cp, NextSet: other, Sigs: signBy(t, &cp, privs, 0, 1, 2)}, ErrBadNextSet)
	// The old set signs the rotation: the set moves, and the next checkpoint needs the new set.
	if _, err := r.Submit(&Submission{Checkpoint: cp, NextSet: next, Sigs: signBy(t, &cp, privs, 0, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	if got := r.SetHash(); !got.Equal(next.Hash()) || r.Threshold() != 10 {
		t.Fatalf("set not rotated: hash %s threshold %d", &got, r.Threshold())
	}
	cp3 := testCheckpoint(t, 3, 3, next)
	mustRefuse(t, r, &Submission{Checkpoint: cp3, Sigs: signBy(t, &cp3, privs, 0, 1, 2)}, ErrBadSignature)
	if _, err := r.Submit(&Submission{Checkpoint: cp3, Sigs: signBy(t, &cp3, nextPrivs, 0, 2)}); err != nil {
		t.Fatal(err)
	}
}

func TestAttackReplayedRelay(t *testing.T) {
	r, set := registryAt(t)
	_, privs := testSet(1, 10, 10, 10, 10)
	cp := testCheckpoint(t, 2, 2, set)
	sub := &Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 0, 1, 2)}
	if out, err := r.Submit(sub); err != nil || out != Accepted {
		t.Fatal(out, err)
	}
	// A second relayer sends the same checkpoint, even with other signatures: ignored, unchanged.
	again := &Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 1, 2, 3)}
	for _, s := range []*Submission{sub, again} {
		out, err := r.Submit(s)
		if err != nil || out != Duplicate {
			t.Fatalf("replay: %v %v, want Duplicate", out, err)
		}
	}
	if r.LastNonce() != 2 {
		t.Fatalf("last nonce %d after replays", r.LastNonce())
	}
	roots, ok := r.Roots(2)
	if !ok || !roots.Digest.Equal(cp.Digest()) {
		t.Fatal("epoch 2 roots lost or changed by replays")
	}
}

func TestAttackWrongChain(t *testing.T) {
	r, set := registryAt(t)
	_, privs := testSet(1, 10, 10, 10, 10)
	cp := testCheckpoint(t, 2, 2, set)
	cp.ChainID = ShortString("ciro-mainnet")
	mustRefuse(t, r, &Submission{Checkpoint: cp, Sigs: signBy(t, &cp, privs, 0, 1, 2)}, ErrWrongChain)
}

func TestVerifyJobSettlement(t *testing.T) {
	r, _ := registryAt(t)
	jobs := testJobs(1, 5)
	tree := JobsTree(jobs)
	for i, j := range jobs {
		proof, _ := tree.Proof(i)
		if !r.VerifyJobSettlement(1, j.Hash(), proof) {
			t.Fatalf("job %d not proven against epoch 1", j.JobID)
		}
		if r.VerifyJobSettlement(2, j.Hash(), proof) {
			t.Fatalf("job %d proven against an epoch with no checkpoint", j.JobID)
		}
	}
	forged := jobs[0]
	forged.Paid[31]++
	proof, _ := tree.Proof(0)
	if r.VerifyJobSettlement(1, forged.Hash(), proof) {
		t.Fatal("a job with a changed payout is proven")
	}
}
