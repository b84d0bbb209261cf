package market

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

func TestJournalSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	must := func(e Entry) {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	must(Entry{JobID: 1, Phase: PhaseAccepted})
	must(Entry{JobID: 1, Phase: PhaseExecuted, OutputCID: "out", ResultCID: "full"})
	must(Entry{JobID: 1, Phase: PhaseSending}) // keeps the CIDs
	must(Entry{JobID: 2, Slot: 1, Phase: PhaseDone})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(Entry{JobID: 3, Phase: PhaseAccepted}); err == nil {
		t.Fatal("a closed journal took a record")
	}

	j, err = OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	e, ok := j.Get(1)
	if !ok || e.Phase != PhaseSending || e.OutputCID != "out" || e.ResultCID != "full" || e.Phase.terminal() {
		t.Fatalf("job 1: %+v", e)
	}
	if e, _ := j.Get(2); e.Slot != 1 || !e.Phase.terminal() {
		t.Fatalf("job 2: %+v", e)
	}
	if _, ok := j.Get(3); ok || len(j.Entries()) != 2 {
		t.Fatalf("entries %+v", j.Entries())
	}
}

// journalCrashEnv names the journal a re-executed test binary writes to before killing itself.
const journalCrashEnv = "CIRO_TEST_JOURNAL_CRASH_DIR"

// TestJournalSurvivesSIGKILL: every record Record returned for is there after the process
// writing it is killed with SIGKILL, without a Close.
func TestJournalSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv(journalCrashEnv); dir != "" {
		j, err := OpenJournal(dir)
		if err != nil {
			os.Exit(3)
		}
		for id := uint64(1); id <= 100; id++ {
			if err := j.Record(Entry{JobID: id, Phase: PhaseExecuted, OutputCID: fmt.Sprint("out-", id)}); err != nil {
				os.Exit(4)
			}
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	dir := filepath.Join(t.TempDir(), "journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), journalCrashEnv+"="+dir)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the writer was to die by SIGKILL, got %v", err)
	}
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer j.Close()
	if n := len(j.Entries()); n != 100 {
		t.Fatalf("%d entries after SIGKILL, want 100", n)
	}
	if e, _ := j.Get(100); e.OutputCID != "out-100" || e.Phase != PhaseExecuted {
		t.Fatalf("last entry %+v", e)
	}
}

func TestFloorPricingAppliesGPUClass(t *testing.T) {
	f := &FloorPricing{Floors: map[contracts.JobType]*uint256.Int{contracts.JobNLP: uint256.NewInt(1000)},
		GPUClass: "NVIDIA RTX 4090", GPUMultiplierBps: DefaultGPUMultiplierBps}
	if p, _ := f.Ask(contracts.JobNLP); p.Uint64() != 2000 {
		t.Fatalf("RTX 4090 NLP ask %s, want 2000", p)
	}
	if p, why := f.Ask(contracts.JobCustom); p != nil || why == "" {
		t.Fatalf("no floor for Custom: got %v %q", p, why)
	}
	f.GPUClass = ""
	if p, _ := f.Ask(contracts.JobNLP); p.Uint64() != 1000 {
		t.Fatalf("no class: %s", p)
	}
}

func TestPlanJobPicksExecutorAndParams(t *testing.T) {
	j := &contracts.Job{ID: 9, Spec: contracts.JobSpec{Type: contracts.JobAIInference, ModelCID: "m",
		Requirements: contracts.Requirements{Frameworks: []string{"ciro-onnx-int"}},
		Params:       `{"args":["a"],"wall_seconds":5}`}}
	plan, err := PlanJob(j)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Job.Executor != compute.ExecModel || plan.Job.Ref != "m" || plan.Job.Seed != 9 || plan.Job.Args[0] != "a" || plan.Job.Limits.Wall.Seconds() != 5 {
		t.Fatalf("plan %+v", plan.Job)
	}
	j.Spec.Requirements.Frameworks = nil
	if plan, _ := PlanJob(j); plan.Job.Executor != compute.ExecDocker {
		t.Fatalf("AIInference without a framework runs on %s, want docker", plan.Job.Executor)
	}
	j.Spec.Params = `{"bogus":1}`
	if _, err := PlanJob(j); err == nil {
		t.Fatal("unknown params field accepted")
	}
}

func TestCommitmentRoundTrips(t *testing.T) {
	c, err := FullResultCID(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	back, err := FullResultCID(Commitment(c))
	if err != nil || !back.Equals(c) {
		t.Fatalf("%s → %s (%v)", c, back, err)
	}
}
