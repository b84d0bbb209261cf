package contracts

import (
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

// assigned returns the provider indexes of a job's slots.
func (e *testEnv) assigned(id uint64) []int {
	var out []int
	for _, a := range e.job(id).Assignments {
		out = append(out, provIndex(e.t, a.Provider))
	}
	return out
}

func TestRedundantVerification(t *testing.T) {
	t.Run("2-1 majority paid, minority slashed", func(t *testing.T) {
		e := newJobEnv(t, jobParams(), enterprise(), enterprise(), enterprise())
		for i := 0; i < 3; i++ {
			e.register(i, offer(CIRO(1), 2))
		}
		b0 := clone(e.balance(0))
		id, escrow := e.submit(0, redundant(jspec(50), 3))
		e.step()
		slots := e.assigned(id)
		if len(slots) != 3 {
			t.Fatalf("slots %v", slots)
		}
		minority := slots[1]
		tok0 := clone(e.staker(pa(minority)).Tokens)
		rep := map[int]int64{}
		for _, p := range slots {
			rep[p] = e.staker(pa(p)).Reputation
		}
		var evs []Event
		cids := map[int]string{}
		for n, p := range slots {
			cids[p] = "bafyX"
			if p == minority {
				cids[p] = "bafyY"
			}
			ev, err := e.commit(p, id, cids[p])
			if err != nil {
				t.Fatal(err)
			}
			if n < 2 {
				if _, err := e.reveal(p, id, cids[p]); CodeOf(err) != CodeTooEarly {
					t.Fatalf("a reveal before every slot committed: %v", err)
				}
			}
			evs = append(evs, ev...)
		}
		for n, p := range slots {
			ev, err := e.reveal(p, id, cids[p])
			if err != nil {
				t.Fatal(err)
			}
			if n < 2 && e.job(id).Status != JobAssigned {
				t.Fatalf("judged after %d of 3 reveals", n+1)
			}
			evs = append(evs, ev...)
		}
		j := e.job(id)
		if j.Status != JobCompleted || j.ResultCID != "bafyX" {
			t.Fatalf("job %s %q", j.Status, j.ResultCID)
		}
		earned := sub(CIRO(1), bps(CIRO(1), e.p.PlatformFeeBps))
		for n, p := range slots {
			a := j.Assignments[n]
			st := e.staker(pa(p))
			if p == minority {
				if a.Status != AssignRejected || !e.prov(p).Earnings.IsZero() || e.prov(p).Failed != 1 {
					t.Fatalf("minority slot %+v provider %+v", a, e.prov(p))
				}
				wantAmt(t, "minority stake", st.Tokens, sub(tok0, bps(tok0, e.p.MaliciousSlashBps)))
				if st.Reputation != rep[p]-e.p.ReputationBadDn {
					t.Fatalf("minority reputation %d", st.Reputation)
				}
				continue
			}
			if a.Status != AssignAccepted || st.Reputation != rep[p]+e.p.ReputationSuccessUp {
				t.Fatalf("majority slot %+v rep %d", a, st.Reputation)
			}
			wantAmt(t, "majority earnings", e.prov(p).Earnings, earned)
		}
		if n := len(eventsOf(evs, "provider_paid")); n != 2 {
			t.Fatalf("%d payments", n)
		}
		if ev := only(t, evs, "provider_penalised"); attr(ev, "reason") != "malicious_result" || attr(ev, "provider") != pa(minority).String() {
			t.Fatalf("penalty %v", ev)
		}
		wantAmt(t, "paid", j.Paid, CIRO(2))
		wantAmt(t, "refund", j.Refunded, sub(sub(escrow, CIRO(2)), j.Fee))
		wantAmt(t, "client", e.balance(0), sub(sub(sub(b0, e.p.MinTxFee), CIRO(2)), j.Fee))
		if e.load().Active != 0 {
			t.Fatalf("load %+v", e.load())
		}
		e.checkSupply()
	})
	t.Run("1-1-1 void, failed, full refund", func(t *testing.T) {
		e := newJobEnv(t, jobParams(), enterprise(), enterprise(), enterprise())
		for i := 0; i < 3; i++ {
			e.register(i, offer(CIRO(1), 2))
		}
		b0 := clone(e.balance(0))
		id, escrow := e.submit(0, redundant(jspec(50), 3))
		e.step()
		toks := map[int]*uint256.Int{}
		var cids []string
		for n, p := range e.assigned(id) {
			toks[p] = clone(e.staker(pa(p)).Tokens)
			cids = append(cids, "bafy"+string(rune('A'+n)))
		}
		e.answerAll(id, e.assigned(id), cids)
		j := e.job(id)
		if j.Status != JobFailed || !strings.Contains(j.Reason, "did not agree") {
			t.Fatalf("job %s %q", j.Status, j.Reason)
		}
		for n, a := range j.Assignments {
			if a.Status != AssignVoid {
				t.Fatalf("slot %d %s", n, a.Status)
			}
			p := provIndex(t, a.Provider)
			wantAmt(t, "stake", e.staker(pa(p)).Tokens, toks[p])
			if !e.prov(p).Earnings.IsZero() {
				t.Fatal("a void slot was paid")
			}
		}
		wantAmt(t, "refund", j.Refunded, escrow)
		wantAmt(t, "client", e.balance(0), sub(b0, e.p.MinTxFee))
		e.checkSupply()
	})
}

func TestSampledVerification(t *testing.T) {
	setup := func(t *testing.T) (*testEnv, uint64, int) {
		e := newJobEnv(t, jobParams(), enterprise(), enterprise())
		e.register(0, offer(CIRO(1), 2))
		e.register(1, offer(CIRO(1), 2))
		id, _ := e.submit(0, bitExact(sampled(jspec(50))))
		e.step()
		p := e.assigned(id)[0]
		if _, err := e.deliverEv(provBase+p, &SubmitResult{JobID: id, ResultCID: "bafyR"}); err != nil {
			t.Fatal(err)
		}
		return e, id, p
	}
	t.Run("accepted after the window", func(t *testing.T) {
		e, id, p := setup(t)
		at := uint64(e.height)
		j := e.job(id)
		// A 49-block job: its window is the ceiling, 8 blocks.
		if j.Status != JobVerifying || j.Assignments[0].WindowEnd != at+e.p.ChallengeWindowMaxBlocks || !e.prov(p).Earnings.IsZero() {
			t.Fatalf("job %+v", j)
		}
		if e.prov(p).Active != 0 {
			t.Fatal("a submitted sampled slot still holds capacity")
		}
		for uint64(e.height) < at+e.p.ChallengeWindowMaxBlocks {
			e.step()
			if e.job(id).Status != JobVerifying {
				t.Fatalf("settled at height %d, before the window ends at %d", e.height, at+e.p.ChallengeWindowMaxBlocks)
			}
		}
		evs := e.endBlockEv()
		only(t, evs, "provider_paid")
		if j := e.job(id); j.Status != JobCompleted || j.Assignments[0].Status != AssignAccepted || j.ResultCID != "bafyR" {
			t.Fatalf("job %+v", j)
		}
		wantAmt(t, "earnings", e.prov(p).Earnings, sub(CIRO(1), bps(CIRO(1), e.p.PlatformFeeBps)))
		// Too late to challenge now.
		e.beginBlock(5, nil, nil)
		_, err := e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyOther"})
		wantCode(t, err, CodeJobState)
		e.checkSupply()
	})
	t.Run("validator challenge slashes and re-auctions once", func(t *testing.T) {
		e, id, p := setup(t)
		tok := clone(e.staker(pa(p)).Tokens)
		rep := e.staker(pa(p)).Reputation
		_, err := e.deliverEv(0, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyOther"})
		wantCode(t, err, CodeNotValidator)
		_, err = e.deliverEv(provBase+1-p, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyOther"})
		wantCode(t, err, CodeNotValidator)
		_, err = e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyR"})
		wantCode(t, err, CodeInvalidArgument)
		_, err = e.deliverEv(10, &Challenge{JobID: id, Slot: 3, ResultCID: "bafyOther"})
		wantCode(t, err, CodeJobState)
		bal10 := clone(e.balance(10))
		evs, err := e.deliverEv(10, &Challenge{JobID: id, Slot: 0, ResultCID: "bafyOther"})
		if err != nil {
			t.Fatal(err)
		}
		only(t, evs, "job_challenged")
		only(t, evs, "dispute_opened")
		wantAmt(t, "challenger's balance with the bond locked", e.balance(10), sub(sub(bal10, e.p.ChallengeBond), e.p.MinTxFee))
		if len(eventsOf(evs, "provider_penalised")) != 0 {
			t.Fatal("slashed on one validator's word")
		}
		_, err = e.deliverEv(10, &DisputeVote{JobID: id, ResultCID: "bafyOther"})
		wantCode(t, err, CodeUnauthorized) // the challenger does not count
		evs, err = e.deliverEv(11, &DisputeVote{JobID: id, ResultCID: "bafyOther"})
		if err != nil {
			t.Fatal(err)
		}
		only(t, evs, "job_reauction")
		wantAmt(t, "challenger's balance with the bond back", e.balance(10), sub(bal10, mul(e.p.MinTxFee, 2)))
		wantAmt(t, "challenged stake", e.staker(pa(p)).Tokens, sub(tok, bps(tok, e.p.MaliciousSlashBps)))
		if e.staker(pa(p)).Reputation != rep-e.p.ReputationBadDn {
			t.Fatal("reputation not lowered")
		}
		j := e.job(id)
		if j.Status != JobPending || j.Reauctions != 1 || j.Assignments[0].Status != AssignRejected {
			t.Fatalf("job %+v", j)
		}
		e.step()
		if got := e.assigned(id); len(got) != 2 || got[1] != 1-p || e.job(id).Status != JobAssigned {
			t.Fatalf("re-auction went to %v", got)
		}
		// The second provider is challenged too: no third round, the job fails and refunds.
		if _, err := e.deliverEv(provBase+1-p, &SubmitResult{JobID: id, ResultCID: "bafyR2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.deliverEv(11, &Challenge{JobID: id, Slot: 1, ResultCID: "bafyOther"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.deliverEv(10, &DisputeVote{JobID: id, ResultCID: "bafyOther"}); err != nil {
			t.Fatal(err)
		}
		j = e.job(id)
		if j.Status != JobFailed || !j.Paid.IsZero() || !j.Refunded.Eq(add(j.Spec.MaxPrice, j.Fee)) {
			t.Fatalf("job %+v", j)
		}
		e.step()
		e.checkSupply()
	})
}

func TestTimeoutSlashesAndReauctions(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise(), enterprise(), enterprise())
	for i := 0; i < 3; i++ {
		e.register(i, offer(CIRO(1), 2))
	}
	b0 := clone(e.balance(0))
	id, escrow := e.submit(0, jspec(4))
	e.step()
	first := e.assigned(id)[0]
	tok := clone(e.staker(pa(first)).Tokens)
	rep := e.staker(pa(first)).Reputation
	var evs []Event
	for e.height < 4 {
		evs = e.step()
		if e.height < 4 && len(eventsOf(evs, "job_no_show")) != 0 {
			t.Fatalf("no-show before the deadline at %d", e.height)
		}
	}
	evs = e.endBlockEv() // height 4: the deadline
	only(t, evs, "job_no_show")
	only(t, evs, "job_reauction")
	wantAmt(t, "no-show stake", e.staker(pa(first)).Tokens, sub(tok, bps(tok, e.p.NoShowSlashBps)))
	if r := e.staker(pa(first)).Reputation; r != rep-e.p.ReputationNoShowDn {
		t.Fatalf("reputation %d", r)
	}
	j := e.job(id)
	if len(j.Assignments) != 2 || j.Assignments[0].Status != AssignNoShow || j.Reauctions != 1 || j.Status != JobAssigned {
		t.Fatalf("job %+v", j)
	}
	second := provIndex(t, j.Assignments[1].Provider)
	if second == first {
		t.Fatal("re-auctioned to the provider that did not show")
	}
	if a := j.Assignments[1]; a.AssignedAt != 4 || a.Deadline != 4+(4-1) {
		t.Fatalf("re-auctioned slot %+v: want a fresh window of 3 blocks", a)
	}
	if e.prov(first).Active != 0 || e.prov(second).Active != 1 || e.load().Active != 1 {
		t.Fatal("capacity not moved")
	}
	// The second provider misses too: failed, everything refunded.
	for e.height < 7 {
		e.step()
	}
	evs = e.endBlockEv()
	only(t, evs, "job_no_show")
	if len(eventsOf(evs, "job_reauction")) != 0 || len(eventsOf(evs, "job_assigned")) != 0 {
		t.Fatal("a second re-auction")
	}
	j = e.job(id)
	if j.Status != JobFailed || j.Assignments[1].Status != AssignNoShow {
		t.Fatalf("job %+v", j)
	}
	wantAmt(t, "refund", j.Refunded, escrow)
	wantAmt(t, "client", e.balance(0), sub(b0, e.p.MinTxFee))
	if e.load().Active != 0 || e.prov(second).Active != 0 || e.prov(second).Failed != 1 {
		t.Fatal("capacity or failure count wrong")
	}
	// A result after all that is refused.
	e.beginBlock(5, nil, nil)
	_, err := e.deliverEv(provBase+second, &SubmitResult{JobID: id, ResultCID: "late"})
	wantCode(t, err, CodeJobState)
	e.checkSupply()
}

func TestCancelJob(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	b0 := clone(e.balance(0))
	id, _ := e.submit(0, jspec(50)) // no provider registered: it waits
	e.step()
	_, err := e.deliverEv(1, &CancelJob{JobID: id})
	wantCode(t, err, CodeUnauthorized)
	_, err = e.deliverEv(0, &CancelJob{JobID: 99})
	wantCode(t, err, CodeNotFound)
	evs, err := e.deliverEv(0, &CancelJob{JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	if ev := only(t, evs, "job_settled"); attr(ev, "status") != "cancelled" {
		t.Fatalf("%v", ev)
	}
	wantAmt(t, "client", e.balance(0), sub(b0, mul(e.p.MinTxFee, 3))) // submit, failed cancel, cancel
	if v, _ := e.kv.Get(pendingKey(PriorityStandard, id)); v != nil {
		t.Fatal("cancelled job still pending")
	}
	_, err = e.deliverEv(0, &CancelJob{JobID: id})
	wantCode(t, err, CodeJobState)

	// After assignment: refused.
	e.register(0, offer(CIRO(1), 1))
	id2, _ := e.submit(0, jspec(50))
	e.step()
	_, err = e.deliverEv(0, &CancelJob{JobID: id2})
	wantCode(t, err, CodeJobState)
	e.checkSupply()
}

func TestWithdraw(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(add(CIRO(1), u(11)), 4))
	id, _ := e.submit(0, jspec(50))
	e.step()
	e.send(provBase, &SubmitResult{JobID: id, ResultCID: "r"})
	earned := clone(e.prov(0).Earnings)
	bal := clone(e.balance(provBase))
	_, err := e.deliverEv(provBase, &Withdraw{Amount: add(earned, u(1))})
	wantCode(t, err, CodeInsufficientFunds)
	third := new(uint256.Int).Div(earned, u(3))
	e.send(provBase, &Withdraw{Amount: third})
	wantAmt(t, "earnings after partial", e.prov(0).Earnings, sub(earned, third))
	wantAmt(t, "balance after partial", e.balance(provBase), sub(add(bal, third), mul(e.p.MinTxFee, 2)))
	e.send(provBase, &Withdraw{Amount: zero()}) // everything left
	if !e.prov(0).Earnings.IsZero() {
		t.Fatal("withdraw-all left earnings")
	}
	wantAmt(t, "balance after all", e.balance(provBase), sub(add(bal, earned), mul(e.p.MinTxFee, 3)))
	_, err = e.deliverEv(provBase, &Withdraw{Amount: zero()})
	wantCode(t, err, CodeInsufficientFunds)
	_, err = e.deliverEv(0, &Withdraw{Amount: u(1)})
	wantCode(t, err, CodeNotProvider)
	e.checkSupply()
}
