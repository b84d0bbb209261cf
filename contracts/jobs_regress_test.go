package contracts

import (
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

// Regression tests for job-market bugs found while testing.

func stakesN(n int) []*uint256.Int {
	out := make([]*uint256.Int, n)
	for i := range out {
		out[i] = enterprise()
	}
	return out
}

// A redundant(5) job whose round-one no-shows are re-auctioned, and whose re-auctioned slots
// then miss their deadline: the first miss judges the job; the other slots, still running, must
// be settled with it. They used to stay running, answer later, and win a second tally paid out
// of an escrow already refunded (the escrow wrapped around: money from nothing).
func TestClosedJobSettlesRunningSlots(t *testing.T) {
	e := newJobEnv(t, jobParams(), stakesN(9)...)
	for i := 0; i < 9; i++ {
		e.register(i, offer(CIRO(1), 1))
	}
	id, _ := e.submit(0, redundant(jspec(4), 5))
	e.step()
	first := e.assigned(id)
	if _, err := e.commit(first[0], id, "X"); err != nil {
		t.Fatal(err)
	}
	for e.height < 4 {
		e.step()
	}
	evs := e.step() // four no-shows at the deadline: one re-auction for all of them
	if n := len(eventsOf(evs, "job_no_show")); n != 4 {
		t.Fatalf("%d no-shows", n)
	}
	only(t, evs, "job_reauction")
	if n := len(eventsOf(evs, "job_assigned")); n != 4 {
		t.Fatalf("re-auction assigned %d slots, want the 4 that did not show: %s", n, renderEvents(evs))
	}
	j := e.job(id)
	late := []int{}
	for _, a := range j.Assignments[5:] {
		late = append(late, provIndex(t, a.Provider))
	}
	dl := j.Assignments[5].Deadline
	for uint64(e.height) < dl {
		e.step()
	}
	evs = e.endBlockEv() // all four re-auctioned slots miss: the one committed slot reveals
	only(t, evs, "job_reveal_open")
	e.beginBlock(5, nil, nil)
	if _, err := e.reveal(first[0], id, "X"); err != nil {
		t.Fatal(err)
	}
	j = e.job(id)
	if j.Status != JobCompleted || j.ResultCID != "X" {
		t.Fatalf("job %s %q", j.Status, j.ResultCID)
	}
	for n, a := range j.Assignments {
		if a.Status == AssignRunning {
			t.Fatalf("slot %d still running in a settled job", n)
		}
	}
	for i := 0; i < 9; i++ {
		if e.prov(i).Active != 0 {
			t.Fatalf("provider %d holds %d slots after settlement", i, e.prov(i).Active)
		}
	}
	if e.load().Active != 0 {
		t.Fatalf("load %+v", e.load())
	}
	e.beginBlock(5, nil, nil)
	for _, p := range late {
		_, err := e.commit(p, id, "X")
		wantCode(t, err, CodeJobState)
	}
	e.step()
	if j := e.job(id); j.Status != JobCompleted || !j.Escrow.IsZero() {
		t.Fatalf("job %+v", j)
	}
	e.checkSupply()
}

// A job that waited (here for a busy provider) must not be assigned at its deadline's block:
// the provider could not answer in time and would be slashed for a no-show.
func TestNoAssignmentAtDeadline(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(CIRO(1), 1))
	busy, _ := e.submit(0, jspec(50))
	waiting, escrow := e.submit(1, jspec(3))
	e.step()
	e.step()
	// Height 3, the waiting job's deadline: the provider frees its slot in this block.
	e.send(provBase, &SubmitResult{JobID: busy, ResultCID: "r"})
	tok := clone(e.staker(pa(0)).Tokens)
	evs := e.step()
	if len(eventsOf(evs, "job_assigned")) != 0 {
		t.Fatalf("assigned at the deadline: %s", renderEvents(evs))
	}
	j := e.job(waiting)
	if j.Status != JobExpired || !strings.Contains(j.Reason, "deadline") {
		t.Fatalf("job %s %q", j.Status, j.Reason)
	}
	wantAmt(t, "refund", j.Refunded, escrow)
	e.step()
	wantAmt(t, "provider stake", e.staker(pa(0)).Tokens, tok)
	e.checkSupply()
}

// A redundant re-auction that finds nobody, while a result is already in, used to stay in the
// pending index with its escrow locked until some provider happened to come along.
func TestRedundantReauctionWithoutProviders(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise(), enterprise())
	e.register(0, offer(CIRO(1), 2))
	e.register(1, offer(CIRO(1), 2))
	id, escrow := e.submit(0, redundant(jspec(3), 2))
	e.step()
	slots := e.assigned(id)
	if _, err := e.commit(slots[0], id, "X"); err != nil {
		t.Fatal(err)
	}
	e.step()
	evs := e.step() // height 3: slots[1] misses; nobody else can take the slot
	only(t, evs, "job_no_show")
	only(t, evs, "job_reveal_open")
	if _, err := e.reveal(slots[0], id, "X"); err != nil {
		t.Fatal(err)
	}
	j := e.job(id)
	if j.Status != JobCompleted || j.ResultCID != "X" {
		t.Fatalf("job %s %q: %s", j.Status, j.Reason, renderEvents(evs))
	}
	if v, _ := e.kv.Get(pendingKey(PriorityStandard, id)); v != nil {
		t.Fatal("still pending")
	}
	wantAmt(t, "paid", j.Paid, CIRO(1))
	wantAmt(t, "refund", j.Refunded, sub(sub(escrow, CIRO(1)), j.Fee))
	e.checkSupply()
}

// Both slots of a redundant(2) job missing the deadline together are one round: the job is
// re-auctioned (it used to fail at once, "the providers' results did not agree").
func TestRedundantSameRoundNoShows(t *testing.T) {
	e := newJobEnv(t, jobParams(), stakesN(4)...)
	for i := 0; i < 4; i++ {
		e.register(i, offer(CIRO(1), 2))
	}
	id, escrow := e.submit(0, redundant(jspec(3), 2))
	e.step()
	first := e.assigned(id)
	e.step()
	evs := e.step()
	if len(eventsOf(evs, "job_no_show")) != 2 || len(eventsOf(evs, "job_reauction")) != 1 || len(eventsOf(evs, "job_assigned")) != 2 {
		t.Fatalf("events %s", renderEvents(evs))
	}
	j := e.job(id)
	for _, a := range j.Assignments[2:] {
		p := provIndex(t, a.Provider)
		if p == first[0] || p == first[1] {
			t.Fatal("re-auctioned to a provider that did not show")
		}
	}
	// The new pair misses too: now the job fails, with a reason that says so.
	for uint64(e.height) < j.Assignments[2].Deadline {
		e.step()
	}
	e.endBlockEv()
	j = e.job(id)
	if j.Status != JobFailed || !strings.Contains(j.Reason, "no provider delivered") {
		t.Fatalf("job %s %q", j.Status, j.Reason)
	}
	wantAmt(t, "refund", j.Refunded, escrow)
	e.checkSupply()
}
