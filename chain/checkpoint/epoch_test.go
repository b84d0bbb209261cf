package checkpoint

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestEpochBounds(t *testing.T) {
	for _, c := range []struct {
		h, n, epoch, start, end uint64
		ends                    bool
	}{
		{1, 10, 1, 1, 10, false}, {10, 10, 1, 1, 10, true}, {11, 10, 2, 11, 20, false},
		{20, 10, 2, 11, 20, true}, {7, 1, 7, 7, 7, true}, {0, 10, 0, 0, 0, false}, {5, 0, 0, 0, 0, false},
	} {
		e, s, end, ends := EpochBounds(c.h, c.n)
		if e != c.epoch || s != c.start || end != c.end || ends != c.ends {
			t.Errorf("EpochBounds(%d, %d) = %d %d %d %v", c.h, c.n, e, s, end, ends)
		}
	}
}

func TestEpochFormsTheSameCheckpointAsItsParts(t *testing.T) {
	set, _ := testSet(1, 10, 10, 10, 10)
	e := &Epoch{ChainID: "ciro-devnet", Number: 3, StartHeight: 31, AppHashes: appHashes(31, 10),
		Jobs: testJobs(3, 5), Slashes: []SlashLeaf{{Height: 34, Validator: [32]byte{31: 7}, Amount: [32]byte{31: 50}, Reason: "downtime"}},
		NextSet: set, Nonce: 3}
	cp, err := e.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if want := testCheckpoint(t, 3, 3, set); cp != want {
		t.Fatalf("epoch formed %+v, want %+v", cp, want)
	}
	for _, j := range e.Jobs {
		p, err := e.ProveJob(j.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Verify(&cp) {
			t.Fatalf("proof of job %d does not verify against its checkpoint", j.JobID)
		}
		// What prove-job prints survives JSON.
		raw, _ := json.Marshal(p)
		var back JobProof
		if err := json.Unmarshal(raw, &back); err != nil || !back.Verify(&cp) {
			t.Fatalf("job %d proof after JSON: %v", j.JobID, err)
		}
		// Against another epoch's checkpoint, or with a changed payout, it fails.
		other := cp
		other.Epoch++
		if p.Verify(&other) {
			t.Fatal("proof verifies against another epoch")
		}
		changed := *p
		changed.Job.Paid[0] = 1
		if changed.Verify(&cp) {
			t.Fatal("proof verifies for a job with another payout")
		}
	}
	if _, err := e.ProveJob(999); !errors.Is(err, ErrJobNotInEpoch) {
		t.Fatalf("unknown job: %v", err)
	}
	bad := *e
	bad.ChainID = "a chain id far longer than thirty-one bytes"
	if _, err := bad.Checkpoint(); !errors.Is(err, ErrBadEpoch) {
		t.Fatalf("long chain id: %v", err)
	}
}
