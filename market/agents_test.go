package market

import (
	"strings"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

func TestVerifierChallengesWrongSampledResult(t *testing.T) {
	n := newNet(t, []string{"bad", "honest"}, []string{"alice"}, []string{"v1"})
	n.startProvider(n.providerOpts("bad", WrongResult, 1))
	n.startProvider(n.providerOpts("honest", Honest, 8))
	v, err := NewVerifier(VerifierOptions{Chain: n.chain.view("v1"), Content: n.store, WorkDir: t.TempDir(),
		Executors: map[compute.ExecutorKind]compute.Executor{compute.ExecWASM: wasmExec}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, v.Run)
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
	if ch := n.chain.delivered(addrOf(testKey("v1")), contracts.TxChallenge); len(ch) != 1 || ch[0].err != nil {
		t.Fatalf("challenges %+v, want exactly one that succeeded", ch)
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
