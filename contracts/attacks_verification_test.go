package contracts

import (
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

// The verification threat model as a table: each row is an attack by a rational provider,
// client or validator, named after it, and checks that it does not pay (docs/security.md,
// "Verification and results").
func TestVerificationAttacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"copy another slot's result", attackCopyResult},
		{"reveal before every slot committed", attackEarlyReveal},
		{"withhold a losing reveal", attackWithholdReveal},
		{"one operator's sybils take all k slots", attackSybilSlots},
		{"caught majority keeps what the job pays", attackCaughtMajority},
		{"griefer forces a 1-1 tie", attackTie},
		{"challenge without evidence", attackChallengeWithoutEvidence},
		{"challenger votes on its own challenge", attackChallengerVotes},
		{"challenge a job that is not bit-exact", attackChallengeNotBitExact},
		{"unstake with a job open", attackUnstakeWithJobOpen},
		{"client names a missing input", attackMissingInput},
		{"provider always claims unavailable", attackFalseUnavailable},
		{"long job outlasts its challenge window", attackLongJobWindow},
	} {
		t.Run(tc.name, tc.run)
	}
}

// verifyEnv has three enterprise providers asking 1 CIRO and the two genesis validators.
func verifyEnv(t *testing.T, p Params) *testEnv {
	e := newJobEnv(t, p, enterprise(), enterprise(), enterprise())
	for i := 0; i < 3; i++ {
		e.register(i, offer(CIRO(1), 4))
	}
	return e
}

func attackCopyResult(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := e.submit(0, redundant(jspec(50), 2))
	e.step()
	slots := e.assigned(id)
	honest, copier := slots[0], slots[1]
	if _, err := e.commit(honest, id, "bafyX"); err != nil {
		t.Fatal(err)
	}
	// The copier sees only the honest seal: it posts the same bytes.
	seal := e.job(id).Assignments[0].Seal
	if _, err := e.deliverEv(provBase+copier, &CommitResult{JobID: id, Seal: [32]byte(seal)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reveal(honest, id, "bafyX"); err != nil {
		t.Fatal(err)
	}
	// Now the honest CID and salt are public; the copier reveals them as its own.
	tok := clone(e.staker(pa(copier)).Tokens)
	evs, err := e.deliverEv(provBase+copier, &RevealResult{JobID: id, ResultCID: "bafyX", Salt: testSalt(honest)})
	if err != nil {
		t.Fatal(err)
	}
	only(t, evs, "reveal_mismatch")
	j := e.job(id)
	if j.Assignments[1].Status != AssignRejected || !e.prov(copier).Earnings.IsZero() {
		t.Fatalf("copier's slot %+v, earnings %s", j.Assignments[1], e.prov(copier).Earnings)
	}
	if !e.staker(pa(copier)).Tokens.Lt(tok) {
		t.Fatal("the copier was not slashed")
	}
	if j.Status != JobCompleted || e.prov(honest).Earnings.IsZero() {
		t.Fatalf("job %s, honest earnings %s", j.Status, e.prov(honest).Earnings)
	}
	e.checkSupply()
}

func attackEarlyReveal(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := e.submit(0, redundant(jspec(50), 3))
	e.step()
	slots := e.assigned(id)
	for _, p := range slots[:2] {
		if _, err := e.commit(p, id, "bafyX"); err != nil {
			t.Fatal(err)
		}
	}
	// A result in the clear while slots[2] still works would let it copy.
	_, err := e.reveal(slots[0], id, "bafyX")
	wantCode(t, err, CodeTooEarly)
	_, err = e.deliverEv(provBase+slots[0], &SubmitResult{JobID: id, ResultCID: "bafyX"})
	wantCode(t, err, CodeNotSupported)
	if a := e.job(id).Assignments[0]; a.ResultCID != "" {
		t.Fatalf("a result is public before the reveal phase: %+v", a)
	}
}

func attackWithholdReveal(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := e.submit(0, redundant(jspec(50), 3))
	e.step()
	slots := e.assigned(id)
	for n, p := range slots {
		cid := "bafyX"
		if n == 2 {
			cid = "bafyY"
		}
		if _, err := e.commit(p, id, cid); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range slots[:2] {
		if _, err := e.reveal(p, id, "bafyX"); err != nil {
			t.Fatal(err)
		}
	}
	// slots[2] sees it would lose and keeps its reveal back, hoping for a no-show's smaller slash.
	tok := clone(e.staker(pa(slots[2])).Tokens)
	end := e.job(id).RevealEnd
	for uint64(e.height) <= end {
		e.step()
	}
	j := e.job(id)
	if j.Status != JobCompleted || j.Assignments[2].Status != AssignRejected {
		t.Fatalf("job %s, withheld slot %s", j.Status, j.Assignments[2].Status)
	}
	wantAmt(t, "withholder's stake", e.staker(pa(slots[2])).Tokens, sub(tok, bps(tok, e.p.MaliciousSlashBps)))
	e.checkSupply()
}

func attackSybilSlots(t *testing.T) {
	// One operator splits 1,800 CIRO over three addresses that undercut everyone; three honest
	// operators stake 2,000 CIRO each and ask ten times more.
	e := newJobEnv(t, jobParams(), CIRO(600), CIRO(600), CIRO(600), enterprise(), enterprise(), enterprise())
	for i := 0; i < 6; i++ {
		price := CIRO(1)
		if i < 3 {
			price = new(uint256.Int).Div(CIRO(1), u(10))
		}
		e.register(i, offer(price, 100))
	}
	const jobs = 30
	captured := 0
	for n := 0; n < jobs; n++ {
		id, _ := e.submit(n%5, bitExact(redundant(jspec(500), 3)))
		e.step()
		sybils := 0
		for _, p := range e.assigned(id) {
			if p < 3 {
				sybils++
			}
		}
		if sybils == 3 {
			captured++
		}
	}
	t.Logf("the sybils took every slot of %d of %d jobs", captured, jobs)
	// Drawn by stake the operator holds 23% of it: all three slots about 0.4% of the time.
	if captured > 2 {
		t.Fatalf("the sybils took every slot of %d of %d jobs", captured, jobs)
	}
}

func attackCaughtMajority(t *testing.T) {
	p := jobParams()
	p.MaliciousSlashBps = 1 // the collateral, not the percentage, decides the slash
	e := verifyEnv(t, p)
	id, _ := e.submit(0, bitExact(redundant(jspec(50), 3)))
	e.step()
	slots := e.assigned(id)
	colluders := slots[:2]
	before := zero()
	for _, c := range colluders {
		before.Add(before, e.staker(pa(c)).Tokens)
	}
	e.answerAll(id, slots, []string{"bafyFake", "bafyFake", "bafyTrue"})
	if j := e.job(id); j.Status != JobVerifying {
		t.Fatalf("a 2-1 split on a bit-exact job was not escalated: %s", j.Status)
	}
	for _, v := range []int{10, 11} {
		if _, err := e.deliverEv(v, &DisputeVote{JobID: id, ResultCID: "bafyTrue"}); err != nil {
			t.Fatal(err)
		}
	}
	j := e.job(id)
	if j.Status != JobCompleted || j.ResultCID != "bafyTrue" {
		t.Fatalf("job %s %q", j.Status, j.ResultCID)
	}
	after := zero()
	for _, c := range colluders {
		after.Add(after, e.staker(pa(c)).Tokens)
		if !e.prov(c).Earnings.IsZero() {
			t.Fatal("a colluder was paid")
		}
	}
	// The cost of corruption: a caught majority m of k loses m × c × P with c ≥ 1 and 2m > k,
	// more than the k × P the job pays.
	lost := sub(before, after)
	jobPays := mul(CIRO(1), 3)
	if !lost.Gt(jobPays) {
		t.Fatalf("the caught majority lost %s, not more than the job pays (%s)", lost, jobPays)
	}
	e.checkSupply()
}

func attackTie(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, escrow := e.submit(0, bitExact(redundant(jspec(50), 2)))
	e.step()
	slots := e.assigned(id)
	honest, griefer := slots[0], slots[1]
	tok := clone(e.staker(pa(griefer)).Tokens)
	e.answerAll(id, slots, []string{"bafyTrue", "bafyJunk"})
	if j := e.job(id); j.Status != JobVerifying {
		t.Fatalf("a 1-1 tie was not escalated: %s", j.Status)
	}
	if _, err := e.deliverEv(10, &DisputeVote{JobID: id, ResultCID: "bafyTrue"}); err != nil {
		t.Fatal(err)
	}
	if e.job(id).Status != JobVerifying {
		t.Fatal("settled on half of the validators' power")
	}
	if _, err := e.deliverEv(11, &DisputeVote{JobID: id, ResultCID: "bafyTrue"}); err != nil {
		t.Fatal(err)
	}
	j := e.job(id)
	if j.Status != JobCompleted || j.Assignments[1].Status != AssignRejected {
		t.Fatalf("job %s, griefer %s", j.Status, j.Assignments[1].Status)
	}
	wantAmt(t, "griefer's stake", e.staker(pa(griefer)).Tokens, sub(tok, bps(tok, e.p.MaliciousSlashBps)))
	wantAmt(t, "refund", j.Refunded, sub(sub(escrow, CIRO(1)), j.Fee))
	if e.prov(honest).Earnings.IsZero() {
		t.Fatal("the honest slot was not paid")
	}
	e.checkSupply()
}

// sampledDone runs a bit-exact sampled job to a submitted result and returns its provider.
func sampledDone(t *testing.T, e *testEnv, spec JobSpec) (uint64, int) {
	id, _ := e.submit(0, sampled(spec))
	e.step()
	p := e.assigned(id)[0]
	if _, err := e.deliverEv(provBase+p, &SubmitResult{JobID: id, ResultCID: "bafyTrue"}); err != nil {
		t.Fatal(err)
	}
	return id, p
}

func attackChallengeWithoutEvidence(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, p := sampledDone(t, e, bitExact(jspec(50)))
	tok := clone(e.staker(pa(p)).Tokens)
	bal := clone(e.balance(10))
	// Validator 10, colluding with the client, claims another result.
	evs, err := e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyFake"})
	if err != nil {
		t.Fatal(err)
	}
	if len(eventsOf(evs, "provider_penalised")) != 0 {
		t.Fatal("slashed on the challenger's word")
	}
	// The other validator's re-execution confirms the provider.
	evs, err = e.deliverEv(11, &DisputeVote{JobID: id, ResultCID: "bafyTrue"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := only(t, evs, "dispute_resolved"); attr(ev, "outcome") != "result_upheld" {
		t.Fatalf("outcome %v", ev)
	}
	j := e.job(id)
	if j.Status != JobCompleted || j.Assignments[0].Status != AssignAccepted || e.prov(p).Earnings.IsZero() {
		t.Fatalf("job %s slot %s", j.Status, j.Assignments[0].Status)
	}
	wantAmt(t, "provider stake", e.staker(pa(p)).Tokens, tok)
	bond := clone(e.p.ChallengeBond)
	wantAmt(t, "challenger balance", e.balance(10), sub(sub(bal, bond), e.p.MinTxFee))
	e.checkSupply()
}

func attackChallengerVotes(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := sampledDone(t, e, bitExact(jspec(50)))
	if _, err := e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyFake"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.deliverEv(10, &DisputeVote{JobID: id, ResultCID: "bafyFake"})
	wantCode(t, err, CodeUnauthorized)
	_, err = e.deliverEv(11, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyFake"})
	wantCode(t, err, CodeDisputeOpen)
	_, err = e.deliverEv(0, &DisputeVote{JobID: id, ResultCID: "bafyFake"})
	wantCode(t, err, CodeNotValidator)
	if e.job(id).Status != JobVerifying {
		t.Fatal("the dispute ended without the other validator")
	}
}

func attackChallengeNotBitExact(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, p := sampledDone(t, e, jspec(50)) // PyTorch: GPU floating point
	tok := clone(e.staker(pa(p)).Tokens)
	_, err := e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyOther"})
	wantCode(t, err, CodeNotSupported)
	wantAmt(t, "provider stake", e.staker(pa(p)).Tokens, tok)
}

func attackUnstakeWithJobOpen(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := e.submit(0, jspec(50))
	e.step()
	p := e.assigned(id)[0]
	all := clone(e.staker(pa(p)).Tokens)
	// The provider cheats after it has left: it tries to take its whole stake out first.
	_, err := e.deliverEv(provBase+p, &Unstake{Amount: all})
	wantCode(t, err, CodeCollateralLocked)
	collateral := mul(CIRO(1), e.p.SlotCollateralBps/10_000)
	_, err = e.deliverEv(provBase+p, &Unstake{Amount: add(sub(all, collateral), u(1))})
	wantCode(t, err, CodeCollateralLocked)
	if _, err := e.deliverEv(provBase+p, &Unstake{Amount: sub(all, collateral)}); err != nil {
		t.Fatalf("stake above the collateral is free: %v", err)
	}
	// Once the slot is judged the rest is free too.
	e.send(provBase+p, &SubmitResult{JobID: id, ResultCID: "r"})
	if _, err := e.deliverEv(provBase+p, &Unstake{Amount: collateral}); err != nil {
		t.Fatal(err)
	}
	e.checkSupply()
}

func attackMissingInput(t *testing.T) {
	e := verifyEnv(t, jobParams())
	b0 := clone(e.balance(0))
	id, escrow := e.submit(0, jspec(50))
	toks := map[int]*uint256.Int{}
	for i := 0; i < 3; i++ {
		toks[i] = clone(e.staker(pa(i)).Tokens)
	}
	var reporters []int
	for round := 0; round < 2; round++ {
		e.step()
		slots := e.assigned(id)
		p := slots[len(slots)-1]
		_, err := e.deliverEv(provBase+p, &ReportUnavailable{JobID: id, Missing: "bafyElsewhere"})
		wantCode(t, err, CodeInvalidArgument) // it must name the job's own input
		if _, err := e.deliverEv(provBase+p, &ReportUnavailable{JobID: id, Missing: "bafyinput"}); err != nil {
			t.Fatal(err)
		}
		reporters = append(reporters, p)
	}
	j := e.job(id)
	if j.Status != JobFailed || !strings.Contains(j.Reason, "could not fetch") {
		t.Fatalf("job %s %q", j.Status, j.Reason)
	}
	fee := bps(CIRO(1), e.p.UnavailableFeeBps)
	for _, p := range reporters {
		wantAmt(t, "reporter's stake", e.staker(pa(p)).Tokens, toks[p])
		wantAmt(t, "reporter's attempt fee", e.prov(p).Earnings, fee)
	}
	// The client pays for both attempts: naming missing data is never free.
	wantAmt(t, "refund", j.Refunded, sub(escrow, mul(fee, 2)))
	wantAmt(t, "client", e.balance(0), sub(sub(b0, mul(e.p.MinTxFee, 1)), mul(fee, 2)))
	e.checkSupply()
}

func attackFalseUnavailable(t *testing.T) {
	e := verifyEnv(t, jobParams())
	id, _ := e.submit(0, jspec(50))
	e.step()
	liar := e.assigned(id)[0]
	tok := clone(e.staker(pa(liar)).Tokens)
	if _, err := e.deliverEv(provBase+liar, &ReportUnavailable{JobID: id, Missing: "bafyinput"}); err != nil {
		t.Fatal(err)
	}
	wantAmt(t, "stake right after the report", e.staker(pa(liar)).Tokens, tok)
	e.step()
	honest := e.assigned(id)[1]
	evs, err := e.deliverEv(provBase+honest, &SubmitResult{JobID: id, ResultCID: "bafyR"})
	if err != nil {
		t.Fatal(err)
	}
	// Another provider fetched the inputs: the claim was false, and costs a no-show's slash.
	found := false
	for _, ev := range eventsOf(evs, "slash") {
		found = found || (attr(ev, "staker") == pa(liar).String() && attr(ev, "reason") == "false_unavailable")
	}
	if !found {
		t.Fatalf("the false report was not slashed: %s", renderEvents(evs))
	}
	wantAmt(t, "liar's stake", e.staker(pa(liar)).Tokens, sub(tok, bps(tok, e.p.NoShowSlashBps)))
	if !e.prov(liar).Earnings.IsZero() {
		t.Fatal("the false report was paid")
	}
	e.checkSupply()
}

func attackLongJobWindow(t *testing.T) {
	p := jobParams()
	p.ChallengeWindowBlocks, p.ChallengeWindowMaxBlocks = 5, 200
	e := verifyEnv(t, p)
	// A job the client gave 150 blocks of work cannot be re-run by a validator in 5.
	long, _ := sampledDone(t, e, bitExact(jspec(151)))
	a := e.job(long).Assignments[0]
	if got, want := a.WindowEnd-uint64(e.height), a.Deadline-a.AssignedAt; got != want {
		t.Fatalf("window of a %d-block job is %d blocks, want %d", want, got, want)
	}
	short, _ := sampledDone(t, e, bitExact(jspec(uint64(e.height)+3)))
	if a := e.job(short).Assignments[0]; a.WindowEnd-uint64(e.height) != p.ChallengeWindowBlocks {
		t.Fatalf("a short job's window is %d blocks, want the floor %d", a.WindowEnd-uint64(e.height), p.ChallengeWindowBlocks)
	}
	huge, _ := sampledDone(t, e, bitExact(jspec(uint64(e.height)+5000)))
	if a := e.job(huge).Assignments[0]; a.WindowEnd-uint64(e.height) != p.ChallengeWindowMaxBlocks {
		t.Fatalf("a huge job's window is %d blocks, want the ceiling %d", a.WindowEnd-uint64(e.height), p.ChallengeWindowMaxBlocks)
	}
}
