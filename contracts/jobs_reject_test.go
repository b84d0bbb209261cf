package contracts

import (
	"strings"
	"testing"
)

func TestJobBadInput(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise(), enterprise())
	e.register(0, offer(CIRO(1), 4))
	assignedID, _ := e.submit(3, jspec(50))
	e.step()
	p := e.assigned(assignedID)[0]
	e.send(provBase+p, &SubmitResult{JobID: assignedID, ResultCID: "r"})
	// A sampled job whose result is in, waiting for its window, for the result cases.
	running, _ := e.submit(3, sampled(jspec(50)))
	e.step()
	e.send(provBase+p, &SubmitResult{JobID: running, ResultCID: "r"})
	h := uint64(e.height)

	spec := func(f func(s *JobSpec)) Msg { s := jspec(h + 10); f(&s); return &SubmitJob{Spec: s} }
	cases := []struct {
		name     string
		from     int
		msg      Msg
		code     Code
		mentions []string
	}{
		{"unknown job type", 0, spec(func(s *JobSpec) { s.Type = NumJobTypes }), CodeUnknownJobType, []string{"13"}},
		{"zk verification", 0, spec(func(s *JobSpec) { s.Verification = VerifyZK }), CodeNotSupported, []string{"zk"}},
		{"unknown verification", 0, spec(func(s *JobSpec) { s.Verification = 9 }), CodeInvalidArgument, nil},
		{"unknown priority", 0, spec(func(s *JobSpec) { s.Priority = 4 }), CodeInvalidArgument, nil},
		{"redundancy 1", 0, spec(func(s *JobSpec) { s.Verification = VerifyRedundant }), CodeInvalidArgument, []string{"k"}},
		{"redundancy too high", 0, spec(func(s *JobSpec) { *s = redundant(*s, maxRedundancy+1) }), CodeInvalidArgument, nil},
		{"k without redundant", 0, spec(func(s *JobSpec) { s.Redundancy = 2 }), CodeInvalidArgument, nil},
		{"zero price", 0, spec(func(s *JobSpec) { s.MaxPrice = zero() }), CodeInvalidArgument, nil},
		{"no CIDs", 0, spec(func(s *JobSpec) { s.ModelCID, s.InputCID = "", "" }), CodeInvalidArgument, nil},
		{"empty framework", 0, spec(func(s *JobSpec) { s.Requirements.Frameworks = []string{""} }), CodeInvalidArgument, nil},
		{"below MinJobPrice", 0, spec(func(s *JobSpec) { s.MaxPrice = sub(e.p.MinJobPrice, u(1)) }), CodePriceBelowFloor, []string{"protocol floor"}},
		{"below every ask", 0, spec(func(s *JobSpec) { s.MaxPrice = sub(CIRO(1), u(1)) }), CodePriceBelowFloor, []string{"every provider's ask", "AIInference"}},
		{"deadline past", 0, spec(func(s *JobSpec) { s.Deadline = h - 1 }), CodeDeadlinePast, []string{"has passed"}},
		{"deadline now", 0, spec(func(s *JobSpec) { s.Deadline = h }), CodeDeadlinePast, nil},
		{"deadline too far", 0, spec(func(s *JobSpec) { s.Deadline = h + e.p.MaxJobDeadlineBlocks + 1 }), CodeInvalidArgument, nil},
		{"escrow overflow", 0, spec(func(s *JobSpec) { *s = redundant(*s, 3); s.MaxPrice = maxU256 }), CodeInvalidArgument, []string{"out of range"}},
		{"more than the balance", 0, spec(func(s *JobSpec) { s.MaxPrice = CIRO(2000) }), CodeInsufficientFunds, nil},
		{"duplicate result", provBase + p, &SubmitResult{JobID: running, ResultCID: "x"}, CodeDuplicateResult, nil},
		{"result not assigned", provBase + 1 - p, &SubmitResult{JobID: running, ResultCID: "x"}, CodeNotAssigned, nil},
		{"result from a client", 3, &SubmitResult{JobID: running, ResultCID: "x"}, CodeNotAssigned, nil},
		{"result to a settled job", provBase + p, &SubmitResult{JobID: assignedID, ResultCID: "x"}, CodeJobState, nil},
		{"result to no job", provBase + p, &SubmitResult{JobID: 999, ResultCID: "x"}, CodeNotFound, nil},
		{"result without CID", provBase + p, &SubmitResult{JobID: running}, CodeInvalidArgument, nil},
		{"register without provider stake", 1, offer(CIRO(1), 1), CodeNotProvider, []string{"provider role"}},
		{"register as validator only", 10, offer(CIRO(1), 1), CodeNotProvider, nil},
		{"register zero capacity", provBase, offer(CIRO(1), 0), CodeInvalidArgument, nil},
		{"register unknown ask type", provBase, &RegisterProvider{Capacity: 1, Asks: []Ask{{Type: 13, Price: u(1)}}}, CodeUnknownJobType, nil},
		{"register duplicate ask", provBase, &RegisterProvider{Capacity: 1, Asks: []Ask{{Type: 1, Price: u(1)}, {Type: 1, Price: u(2)}}}, CodeInvalidArgument, nil},
		{"register no asks", provBase, &RegisterProvider{Capacity: 1}, CodeInvalidArgument, nil},
		{"register zero ask", provBase, &RegisterProvider{Capacity: 1, Asks: []Ask{{Type: 1, Price: zero()}}}, CodeInvalidArgument, nil},
		{"challenge unknown job", 10, &Challenge{JobID: 999, ResultCID: "x"}, CodeNotFound, nil},
		{"challenge an unsampled job", 10, &Challenge{JobID: assignedID, ResultCID: "x"}, CodeJobState, nil},
		{"challenge by a client", 3, &Challenge{JobID: running, ResultCID: "x"}, CodeNotValidator, nil},
		{"withdraw by a non-provider", 0, &Withdraw{Amount: u(1)}, CodeNotProvider, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := dump(e.kv)
			_, err := e.deliverEv(c.from, c.msg)
			wantCode(t, err, c.code)
			assertSentence(t, err, c.mentions...)
			// A failed message costs its fee and nonce, nothing else: only the sender's account,
			// the treasury and the supply record change.
			after := dump(e.kv)
			if changed := diffKeys(before, after); len(changed) > 3 {
				t.Fatalf("a failed %s changed %d keys: %v", c.msg.Type(), len(changed), changed)
			}
		})
	}
	e.checkSupply()
}

// diffKeys lists the keys whose values differ between two dumps.
func diffKeys(a, b string) []string {
	m := map[string]string{}
	for _, l := range strings.Split(a, "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		k, v, _ := strings.Cut(l, "=")
		seen[k] = true
		if m[k] != v {
			out = append(out, k)
		}
	}
	for k := range m {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestUnmeetableJobExpiresWithReason(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(CIRO(1), 4))
	b0 := clone(e.balance(0))
	s := jspec(4)
	s.Requirements.MinVRAMMiB = 1 << 20
	id, escrow := e.submit(0, s)
	for e.height < 4 {
		e.step()
		if e.job(id).Status != JobPending {
			t.Fatalf("height %d: %s", e.height, e.job(id).Status)
		}
	}
	e.endBlockEv()
	j := e.job(id)
	if j.Status != JobExpired || j.Reason != "no eligible provider: 1 lack the required hardware or frameworks" {
		t.Fatalf("job %s %q", j.Status, j.Reason)
	}
	wantAmt(t, "refund", j.Refunded, escrow)
	wantAmt(t, "client", e.balance(0), sub(b0, e.p.MinTxFee))
	e.checkSupply()
}

func TestCheckTxSubmitJobFunds(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(CIRO(1), 4))
	// Account 5 holds exactly fee + 2 × max + F for a redundant(2) job, less one unit.
	s := redundant(jspec(50), 2)
	need := add(add(e.p.MinTxFee, mul(s.MaxPrice, 2)), feeRef(e.p.JobBaseFee, 0, 0))
	e.send(1, &Transfer{To: testAddr(5), Amount: sub(need, u(1))})
	tx := signedTx(testKey(5), testChain, 0, e.p.MinTxFee, &SubmitJob{Spec: s})
	err := admitRaw(e.m, testChain, tx.Encode())
	wantCode(t, err, CodeInsufficientFunds)
	assertSentence(t, err, FormatCIRO(need))
	e.send(1, &Transfer{To: testAddr(5), Amount: u(1)})
	if err := admitRaw(NewMachine(NewCache(e.kv)), testChain, tx.Encode()); err != nil {
		t.Fatalf("exactly enough: %v", err)
	}
	// CheckTx debits the escrow on check state: a second job from the same account is refused.
	check := NewCache(e.kv)
	cm := NewMachine(check)
	if err := admitRaw(cm, testChain, tx.Encode()); err != nil {
		t.Fatal(err)
	}
	tx2 := signedTx(testKey(5), testChain, 1, e.p.MinTxFee, &SubmitJob{Spec: jspec(50)})
	wantCode(t, admitRaw(cm, testChain, tx2.Encode()), CodeInsufficientFunds)
	// Bad specs are refused at CheckTx with their own codes.
	bad := jspec(50)
	bad.Type = 200
	wantCode(t, admitRaw(e.m, testChain, signedTx(testKey(0), testChain, e.account(0).Nonce, e.p.MinTxFee, &SubmitJob{Spec: bad}).Encode()), CodeUnknownJobType)
	bad = jspec(50)
	bad.Verification = VerifyZK
	wantCode(t, admitRaw(e.m, testChain, signedTx(testKey(0), testChain, e.account(0).Nonce, e.p.MinTxFee, &SubmitJob{Spec: bad}).Encode()), CodeNotSupported)
}
