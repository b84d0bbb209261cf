package market

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
)

func TestJournalSurvivesReopenAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j", "journal.jsonl")
	j, err := OpenJournal(path)
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
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"job_id":3,"pha`) // a crash mid-write
	f.Close()

	j, err = OpenJournal(path)
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
