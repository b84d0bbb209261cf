package market

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

// startVerifier runs a validator's verifier for the rest of the test.
func (n *testNet) startVerifier(name string) {
	n.t.Helper()
	v, err := NewVerifier(VerifierOptions{Chain: n.chain.view(name), Content: n.store, WorkDir: n.t.TempDir(),
		Executors: map[compute.ExecutorKind]compute.Executor{compute.ExecWASM: wasmExec}, Logger: testLogger(n.t)})
	if err != nil {
		n.t.Fatal(err)
	}
	run(n.t, v.Run)
}

// Two validators: one challenges, with a bond, and the other's re-execution is the quorum that
// settles the dispute against the wrong provider.
func TestVerifierChallengesWrongSampledResult(t *testing.T) {
	n := newNet(t, []string{"bad", "honest"}, []string{"alice"}, []string{"v1", "v2"})
	n.startProvider(n.providerOpts("bad", WrongResult, 1))
	n.startProvider(n.providerOpts("honest", Honest, 8))
	n.startVerifier("v1")
	n.startVerifier("v2")
	eventually(t, "registration", func() bool { return n.providerRec("bad") != nil && n.providerRec("honest") != nil })
	before := n.staker("bad").Tokens.Clone()
	c := n.client("alice")
	j := n.waitJob(c, n.submit(c, wasmJob(t, contracts.VerifySampled, 10)))
	if j.Status != contracts.JobCompleted || j.Reauctions != 1 {
		t.Fatalf("job %s, want completed by the honest provider after a challenge", fingerprint(j))
	}
	if a := slotOf(t, j, "bad"); a.Status != contracts.AssignRejected {
		t.Fatalf("bad: %+v", a)
	}
	if a := slotOf(t, j, "honest"); a.Status != contracts.AssignAccepted || a.ResultCID != j.ResultCID {
		t.Fatalf("honest: %+v", a)
	}
	if !n.staker("bad").Tokens.Lt(before) {
		t.Fatal("the wrong provider was not slashed")
	}
	var ok, votes int
	for _, v := range []string{"v1", "v2"} {
		for _, d := range n.chain.delivered(addrOf(testKey(v)), contracts.TxChallenge) {
			if d.err == nil {
				ok++
			}
		}
		for _, d := range n.chain.delivered(addrOf(testKey(v)), contracts.TxDisputeVote) {
			if d.err == nil {
				votes++
			}
		}
	}
	if ok != 1 || votes != 1 {
		t.Fatalf("%d challenges and %d votes succeeded, want one of each", ok, votes)
	}
}

func TestSampledIsDeterministic(t *testing.T) {
	hits := 0
	for id := uint64(1); id <= 10_000; id++ {
		if Sampled(id, 0.25) != Sampled(id, 0.25) {
			t.Fatal("not deterministic")
		}
		if Sampled(id, 0.25) {
			hits++
		}
		if !Sampled(id, 1) {
			t.Fatal("rate 1 must sample everything")
		}
	}
	if hits < 2300 || hits > 2700 {
		t.Fatalf("%d of 10000 sampled at rate 0.25", hits)
	}
}

// A provider killed mid-job resumes from its journal after a restart and delivers exactly once,
// whether it died while running the job or just after its result committed.
func TestRestartResumesAndSubmitsOnce(t *testing.T) {
	for _, crashAt := range []Phase{PhaseRunning, PhaseSending} {
		t.Run(string(crashAt), func(t *testing.T) {
			n := newNet(t, []string{"p1"}, []string{"alice"}, []string{"v1"})
			o := n.providerOpts("p1", Honest, 2)
			crashed := make(chan struct{})
			first := o
			first.phaseHook = func(_ uint64, ph Phase) bool {
				if ph != crashAt {
					return false
				}
				close(crashed)
				return true
			}
			p, stop := n.startProvider(first)
			eventually(t, "registration", func() bool { return n.providerRec("p1") != nil })
			c := n.client("alice")
			id := n.submit(c, wasmJob(t, contracts.VerifyNone, 5))
			select {
			case <-crashed:
			case <-time.After(20 * time.Second):
				t.Fatal("the agent never reached the crash point")
			}
			stop()
			e, _ := journalEntry(t, o.JournalPath, id)
			if e.Phase.terminal() {
				t.Fatalf("journal after the crash: %+v", e)
			}
			n.startProvider(o) // the same journal
			j := n.waitJob(c, id)
			if j.Status != contracts.JobCompleted {
				t.Fatalf("job %s", fingerprint(j))
			}
			if subs := n.chain.delivered(p.Address(), contracts.TxSubmitResult); len(subs) != 1 || subs[0].err != nil {
				t.Fatalf("SubmitResult txs %+v, want exactly one", subs)
			}
			// The restarted agent found its offer on chain and did not register again.
			if regs := n.chain.delivered(p.Address(), contracts.TxRegisterProvider); len(regs) != 1 {
				t.Fatalf("%d RegisterProvider txs, want 1", len(regs))
			}
		})
	}
}

func journalEntry(t *testing.T, path string, id uint64) (Entry, bool) {
	t.Helper()
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	return j.Get(id)
}

// Assignments are found by query when events are lost, loudly (closed subscription, refused
// resubscription) or silently (an open channel that delivers nothing).
func TestCatchUpFindsAssignmentsWithoutEvents(t *testing.T) {
	for _, mode := range []string{"closed", "silent"} {
		t.Run(mode, func(t *testing.T) {
			n := newNet(t, []string{"p1"}, []string{"alice"}, []string{"v1"})
			p, _ := n.startProvider(n.providerOpts("p1", Honest, 2))
			eventually(t, "registration", func() bool { return n.providerRec("p1") != nil })
			switch mode {
			case "closed":
				n.chain.refuse.Store(true)
				n.chain.dropSubscriptions()
			case "silent":
				n.chain.muted.Store(true)
			}
			// The client polls too; its events are lost the same way.
			c := n.client("alice")
			id := n.submit(c, wasmJob(t, contracts.VerifyNone, 5))
			j := n.waitJob(c, id)
			if j.Status != contracts.JobCompleted || slotOf(t, j, "p1").Status != contracts.AssignAccepted {
				t.Fatalf("job %s", fingerprint(j))
			}
			if subs := n.chain.delivered(p.Address(), contracts.TxSubmitResult); len(subs) != 1 {
				t.Fatalf("SubmitResult txs %+v", subs)
			}
		})
	}
}

func TestReasonsExplainUnsoldTypesAndUntakenJobs(t *testing.T) {
	n := newNet(t, []string{"cheap", "dear"}, []string{"alice"}, []string{"v1"})
	n.startProvider(n.providerOpts("cheap", Honest, 1))
	dear, _ := n.startProvider(n.providerOpts("dear", Honest, 5))
	eventually(t, "registration", func() bool { return n.providerRec("cheap") != nil && n.providerRec("dear") != nil })

	// A CPU-only provider does not sell GPU-only types, and says why.
	found := false
	for _, r := range dear.Reasons() {
		if r.JobID == 0 && r.Type == contracts.JobAITraining && strings.Contains(r.Why, "CUDA") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no reason for AITraining in %+v", dear.Reasons())
	}
	for _, a := range dear.Asks() {
		if a.Type == contracts.JobAITraining {
			t.Fatal("asks for AITraining without a GPU")
		}
	}

	c := n.client("alice")
	cheapJob := wasmJob(t, contracts.VerifyNone, 2) // below dear's ask of 5
	cheapID := n.submit(c, cheapJob)
	gpuJob := wasmJob(t, contracts.VerifyNone, 10)
	gpuJob.Requirements.Caps = contracts.CapCUDA
	gpuJob.DeadlineBlocks = 5
	gpuID := n.submit(c, gpuJob)

	why := func(id uint64) string {
		for _, r := range dear.Reasons() {
			if r.JobID == id {
				return r.Why
			}
		}
		return ""
	}
	eventually(t, "reasons for both jobs", func() bool { return why(cheapID) != "" && why(gpuID) != "" })
	if !strings.Contains(why(cheapID), "below the ask") {
		t.Fatalf("price reason %q", why(cheapID))
	}
	if !strings.Contains(why(gpuID), "CUDA") {
		t.Fatalf("hardware reason %q", why(gpuID))
	}
	if j := n.waitJob(c, gpuID); j.Status != contracts.JobExpired {
		t.Fatalf("unmeetable job %s, want expired", fingerprint(j))
	}
	if j := n.waitJob(c, cheapID); j.Status != contracts.JobCompleted || slotOf(t, j, "cheap").Status != contracts.AssignAccepted {
		t.Fatalf("cheap job %s", fingerprint(j))
	}
}

// A provider killed right after its seal committed still holds the salt (the journal has it
// before the seal is sent): restarted, it reveals, and the redundant job completes with both
// slots paid and one commitment each.
func TestCrashBetweenCommitAndRevealKeepsTheSalt(t *testing.T) {
	n := newNet(t, []string{"p1", "p2"}, []string{"alice"}, []string{"v1"})
	o := n.providerOpts("p1", Honest, 2)
	crashed := make(chan struct{})
	first := o
	first.phaseHook = func(_ uint64, ph Phase) bool {
		if ph != PhaseCommitted {
			return false
		}
		close(crashed)
		return true
	}
	p1, stop := n.startProvider(first)
	n.startProvider(n.providerOpts("p2", Honest, 2))
	eventually(t, "registration", func() bool { return n.providerRec("p1") != nil && n.providerRec("p2") != nil })
	c := n.client("alice")
	r := wasmJob(t, contracts.VerifyRedundant, 5)
	r.Redundancy = 2
	id := n.submit(c, r)
	select {
	case <-crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent never committed")
	}
	stop()
	e, _ := journalEntry(t, o.JournalPath, id)
	if e.Phase.terminal() || len(e.Salt) != 64 || e.OutputCID == "" {
		t.Fatalf("journal after the crash: %+v", e)
	}
	n.startProvider(o)
	j := n.waitJob(c, id)
	if j.Status != contracts.JobCompleted {
		t.Fatalf("job %s", fingerprint(j))
	}
	for _, name := range []string{"p1", "p2"} {
		if a := slotOf(t, j, name); a.Status != contracts.AssignAccepted {
			t.Fatalf("%s: %+v", name, a)
		}
	}
	if cs := n.chain.delivered(p1.Address(), contracts.TxCommitResult); len(cs) != 1 || cs[0].err != nil {
		t.Fatalf("CommitResult txs %+v, want exactly one", cs)
	}
	if rs := n.chain.delivered(p1.Address(), contracts.TxRevealResult); len(rs) != 1 || rs[0].err != nil {
		t.Fatalf("RevealResult txs %+v, want exactly one", rs)
	}
}

// A job whose model nobody can fetch: each provider says so instead of missing the deadline.
// Neither is slashed, both are paid the attempt fee, and the job fails.
func TestUnfetchableInputsAreReportedNotSlashed(t *testing.T) {
	n := newNet(t, []string{"p1", "p2"}, []string{"alice"}, []string{"v1"})
	n.startProvider(n.providerOpts("p1", Honest, 1))
	n.startProvider(n.providerOpts("p2", Honest, 1))
	eventually(t, "registration", func() bool { return n.providerRec("p1") != nil && n.providerRec("p2") != nil })
	before := map[string]string{"p1": n.staker("p1").Tokens.Dec(), "p2": n.staker("p2").Tokens.Dec()}
	h, _ := n.chain.view("alice").Height(context.Background())
	spec := contracts.JobSpec{Type: contracts.JobDataProcessing, ModelCID: "bafy-missing-model", InputCID: "bafy-missing-input",
		Requirements: contracts.Requirements{Frameworks: []string{"wasi"}}, MaxPrice: contracts.CIRO(5),
		Deadline: uint64(h) + 1000, Verification: contracts.VerifyNone, Redundancy: 1}
	res, err := n.chain.view("alice").Send(context.Background(), &contracts.SubmitJob{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	for _, ev := range res.Events {
		if ev.Type == "job_submitted" {
			id, _ = ev.JobID()
		}
	}
	j := n.waitJob(n.client("alice"), id)
	if j.Status != contracts.JobFailed || len(j.Assignments) != 2 {
		t.Fatalf("job %s", fingerprint(j))
	}
	for _, name := range []string{"p1", "p2"} {
		if a := slotOf(t, j, name); a.Status != contracts.AssignUnavailable {
			t.Fatalf("%s: %+v", name, a)
		}
		if got := n.staker(name).Tokens.Dec(); got != before[name] {
			t.Fatalf("%s slashed: %s → %s", name, before[name], got)
		}
		if n.providerRec(name).Earnings.IsZero() {
			t.Fatalf("%s was not paid for the attempt", name)
		}
	}
}
