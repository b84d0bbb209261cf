package contracts

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

// feeRef is F(u, d) by the formula of docs/protocol.md over rationals, with the written rounding rule: both
// factors floored as NetworkFee documents, the ln term from a fresh computation.
func feeRef(base *uint256.Int, utilBps, d uint64) *uint256.Int {
	if utilBps > 9500 {
		utilBps = 9500
	}
	uf := 10_000 + utilBps*utilBps/(10_000-utilBps)
	ln := uint64(math.Round(math.Log(1+float64(d)) * 10_000))
	v := new(big.Int).Mul(base.ToBig(), new(big.Int).SetUint64(uf))
	v.Mul(v, new(big.Int).SetUint64(100_000+ln))
	v.Quo(v, big.NewInt(1_000_000_000))
	out, _ := uint256.FromBig(v)
	return out
}

func TestNetworkFee(t *testing.T) {
	base := new(uint256.Int).Div(OneCIRO, u(100))
	for d := uint64(0); d <= 10; d++ {
		if got := lnTableBps[d]; got != uint64(math.Round(math.Log(1+float64(d))*10_000)) {
			t.Errorf("ln table[%d] = %d", d, got)
		}
	}
	for _, c := range []struct{ u, d uint64 }{{0, 0}, {0, 10}, {2500, 1}, {5000, 3}, {9500, 10}, {9999, 0}, {10_000, 11}, {math.MaxUint64, 200}} {
		wantU, wantD := c.u, c.d
		if wantD > 10 {
			wantD = 10
		}
		got := NetworkFee(base, c.u, c.d)
		wantAmt(t, "F", got, feeRef(base, wantU, wantD))
		// Against the real-valued formula: within the table's rounding (< 1e-4 relative).
		uf := math.Min(float64(c.u), 9500) / 10_000
		real := 0.01 * (1 + uf*uf/(1-uf)) * (1 + 0.1*math.Log(1+float64(wantD)))
		gotF, _ := new(big.Rat).SetFrac(got.ToBig(), OneCIRO.ToBig()).Float64()
		if math.Abs(gotF-real)/real > 1e-4 {
			t.Errorf("F(%d, %d) = %v, formula gives %v", c.u, c.d, gotF, real)
		}
	}
	wantAmt(t, "F(0,0)", NetworkFee(base, 0, 0), base)
	if NetworkFee(base, 9500, 10).Cmp(NetworkFee(base, 9400, 10)) <= 0 || NetworkFee(base, 0, 3).Cmp(NetworkFee(base, 0, 1)) <= 0 {
		t.Error("F is not increasing in u and d")
	}
}

func TestSubmitJobEscrowAndEvents(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise(), enterprise())
	e.register(0, offer(CIRO(1), 2))
	e.register(1, offer(CIRO(1), 2))
	b0 := clone(e.balance(0))
	spec := redundant(jspec(50), 3)
	spec.Priority = PriorityHigh
	evs, err := e.deliverEv(0, &SubmitJob{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	fee := feeRef(e.p.JobBaseFee, 0, 1)
	escrow := add(mul(spec.MaxPrice, 3), fee)
	ev := only(t, evs, "job_submitted")
	for k, v := range map[string]string{"job_id": "1", "client": testAddr(0).String(), "type": "AIInference", "verification": "redundant", "escrow": escrow.Dec()} {
		if attr(ev, k) != v {
			t.Errorf("job_submitted %s = %q, want %q", k, attr(ev, k), v)
		}
	}
	wantAmt(t, "client balance", e.balance(0), sub(sub(b0, e.p.MinTxFee), escrow))
	j := e.job(1)
	if j.Status != JobPending || !j.Escrow.Eq(escrow) || !j.Fee.Eq(fee) || j.Client != testAddr(0) || j.SubmittedAt != 1 || len(j.Assignments) != 0 {
		t.Fatalf("job after submit: %+v", j)
	}
	if v, _ := e.kv.Get(pendingKey(PriorityHigh, 1)); v == nil {
		t.Fatal("no pending index entry")
	}
	if js, _, _ := ClientJobsPage(e.kv, testAddr(0), "", 10); len(js) != 1 || js[0].ID != 1 {
		t.Fatalf("client index: %v", js)
	}
	e.checkSupply()

	// At non-zero utilisation F grows: a job occupying 1 of 4 slots makes u = 25%.
	e2 := newJobEnv(t, jobParams(), enterprise(), enterprise())
	e2.register(0, offer(CIRO(1), 2))
	e2.register(1, offer(CIRO(1), 2))
	e2.submit(0, jspec(50))
	e2.step()
	if l := e2.load(); l.Active != 1 || l.Capacity != 4 {
		t.Fatalf("load %+v", l)
	}
	s := jspec(50)
	s.Priority = PriorityEmergency
	_, esc := e2.submit(1, s)
	wantAmt(t, "escrow at u=25% emergency", esc, add(s.MaxPrice, feeRef(e2.p.JobBaseFee, 2500, 10)))
	wantAmt(t, "job fee", e2.job(2).Fee, feeRef(e2.p.JobBaseFee, 2500, 10))
}

func TestAuctionPriorityOrderAndTieBreak(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(CIRO(1), 1))
	std, _ := e.submit(0, jspec(50))
	s := jspec(50)
	s.Priority = PriorityEmergency
	emg, _ := e.submit(1, s)
	evs := e.endBlockEv()
	ev := only(t, evs, "job_assigned")
	if attr(ev, "job_id") != uintStr(emg) || attr(ev, "provider") != pa(0).String() {
		t.Fatalf("assigned %s, want the emergency job %d", renderEvents(evs), emg)
	}
	if e.job(emg).Status != JobAssigned || e.job(std).Status != JobPending {
		t.Fatalf("statuses %s %s", e.job(emg).Status, e.job(std).Status)
	}
	a := e.job(emg).Assignments[0]
	if a.AssignedAt != 1 || a.Deadline != 50 || !a.Price.Eq(CIRO(1)) || a.Status != AssignRunning {
		t.Fatalf("assignment %+v", a)
	}
	if e.prov(0).Active != 1 || e.load().Active != 1 {
		t.Fatal("capacity not taken")
	}

	// Equal scores (no random weight, identical providers): the lower address wins.
	p := jobParams()
	p.WeightRandom = 0
	e = newJobEnv(t, p, enterprise(), enterprise(), enterprise())
	for i := 0; i < 3; i++ {
		e.register(i, offer(CIRO(1), 1))
	}
	id, _ := e.submit(0, jspec(50))
	e.endBlockEv()
	if got, want := e.job(id).Assignments[0].Provider, lowestAddr(pa(0), pa(1), pa(2)); got != want {
		t.Fatalf("tie went to %s, want the lowest address %s", got, want)
	}
	// Price matters: a cheaper ask beats the lowest address.
	e = newJobEnv(t, p, enterprise(), enterprise())
	hi := provIndex(t, lowestAddr(pa(0), pa(1)))
	e.register(hi, offer(CIRO(1), 1))
	e.register(1-hi, offer(u(1), 1))
	id, _ = e.submit(0, jspec(50))
	e.endBlockEv()
	if got := e.job(id).Assignments[0]; got.Provider != pa(1-hi) || !got.Price.Eq(u(1)) {
		t.Fatalf("assignment %+v, want the cheaper provider at its ask", got)
	}
}

func TestRedundantGetsDistinctProviders(t *testing.T) {
	for k := uint8(2); k <= 5; k++ {
		e := newJobEnv(t, jobParams(), enterprise(), enterprise(), enterprise(), enterprise(), enterprise())
		for i := 0; i < 5; i++ {
			e.register(i, offer(CIRO(1), 10))
		}
		id, _ := e.submit(0, redundant(jspec(50), k))
		evs := e.endBlockEv()
		if n := len(eventsOf(evs, "job_assigned")); n != int(k) {
			t.Fatalf("k=%d: %d assignments", k, n)
		}
		seen := map[Address]bool{}
		for _, a := range e.job(id).Assignments {
			if seen[a.Provider] {
				t.Fatalf("k=%d: %s assigned twice", k, a.Provider)
			}
			seen[a.Provider] = true
		}
		if e.load().Active != uint64(k) {
			t.Fatalf("load %+v", e.load())
		}
	}
	// k larger than the number of providers: nobody is assigned, the job waits and expires.
	e := newJobEnv(t, jobParams(), enterprise(), enterprise())
	e.register(0, offer(CIRO(1), 10))
	e.register(1, offer(CIRO(1), 10))
	id, _ := e.submit(0, redundant(jspec(3), 3))
	if evs := e.step(); len(eventsOf(evs, "job_assigned")) != 0 {
		t.Fatal("a k=3 job was partly assigned to 2 providers")
	}
	e.step()
	e.step()
	if j := e.job(id); j.Status != JobExpired || j.Reason != "only 2 eligible providers for the 3 the job needs" {
		t.Fatalf("job %s %q", j.Status, j.Reason)
	}
}

func TestAuctionEligibility(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(e *testEnv) // after registering provider 0 with offer(1 CIRO, 1)
		spec   func(s *JobSpec)
		stakes []*uint256.Int
		reason string // "" means the job is assigned
	}{
		{name: "eligible", reason: ""},
		{name: "capability", spec: func(s *JobSpec) { s.Requirements.Caps |= CapNVLink }, reason: "1 lack the required hardware"},
		{name: "vram", spec: func(s *JobSpec) { s.Requirements.MinVRAMMiB = 80_000 }, reason: "1 lack the required hardware"},
		{name: "gpu count", spec: func(s *JobSpec) { s.Requirements.GPUCount = 4 }, reason: "1 lack the required hardware"},
		{name: "framework", spec: func(s *JobSpec) { s.Requirements.Frameworks = []string{"PyTorch", "TensorFlow"} }, reason: "1 lack the required hardware or frameworks"},
		{name: "jailed", setup: func(e *testEnv) { e.setJailed(pa(0), true) }, reason: "1 are jailed"},
		{name: "tier too low for emergency", stakes: []*uint256.Int{CIRO(300)}, spec: func(s *JobSpec) { s.Priority = PriorityEmergency }, reason: "1 lack the stake tier"},
		{name: "tier too low for critical", stakes: []*uint256.Int{CIRO(100)}, spec: func(s *JobSpec) { s.Priority = PriorityCritical }, reason: "1 lack the stake tier"},
		{name: "premium may take critical", stakes: []*uint256.Int{CIRO(300)}, spec: func(s *JobSpec) { s.Priority = PriorityCritical }, reason: ""},
		{name: "basic may take high", stakes: []*uint256.Int{CIRO(60)}, spec: func(s *JobSpec) { s.Priority = PriorityHigh }, reason: ""},
		{name: "at capacity", setup: func(e *testEnv) {
			e.submit(4, jspec(100))
			e.step()
		}, reason: "1 are at capacity"},
		{name: "ask above max price", stakes: []*uint256.Int{enterprise(), enterprise()}, setup: func(e *testEnv) {
			e.register(0, offer(CIRO(3), 1)) // eligible but too dear
			o := offer(u(5), 1)
			o.Caps = 0 // cheap but without CUDA: sets the floor
			e.register(1, o)
		}, reason: "1 lack the required hardware or frameworks, 1 ask more than the maximum price"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stakes := c.stakes
			if stakes == nil {
				stakes = []*uint256.Int{enterprise()}
			}
			e := newJobEnv(t, jobParams(), stakes...)
			e.register(0, offer(CIRO(1), 1))
			if c.setup != nil {
				c.setup(e)
			}
			s := jspec(uint64(e.height) + 2)
			if c.spec != nil {
				c.spec(&s)
			}
			b0 := clone(e.balance(0))
			id, _ := e.submit(0, s)
			evs := e.step()
			assigned := false
			for _, ev := range eventsOf(evs, "job_assigned") {
				assigned = assigned || attr(ev, "job_id") == uintStr(id)
			}
			if c.reason == "" {
				if !assigned || e.job(id).Status != JobAssigned {
					t.Fatalf("not assigned: %s", renderEvents(evs))
				}
				return
			}
			if assigned || e.job(id).Status != JobPending {
				t.Fatalf("assigned although not eligible: %s", renderEvents(evs))
			}
			e.step()
			evs = e.step() // the deadline's block
			j := e.job(id)
			if j.Status != JobExpired || !strings.Contains(j.Reason, c.reason) {
				t.Fatalf("job %s, reason %q, want expired naming %q", j.Status, j.Reason, c.reason)
			}
			if ev := only(t, evs, "job_settled"); attr(ev, "status") != "expired" || attr(ev, "reason") != j.Reason {
				t.Fatalf("settled event %v", ev)
			}
			wantAmt(t, "client balance after expiry", e.balance(0), sub(b0, e.p.MinTxFee))
			wantAmt(t, "refunded", j.Refunded, add(s.MaxPrice, j.Fee))
			if !j.Escrow.IsZero() || !j.Paid.IsZero() {
				t.Fatalf("job %+v", j)
			}
			if v, _ := e.kv.Get(pendingKey(s.Priority, id)); v != nil {
				t.Fatal("expired job left in the pending index")
			}
			e.checkSupply()
		})
	}
}

func TestResultNoneSettlesAtOnce(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	ask := add(CIRO(1), u(7))
	e.register(0, offer(ask, 2))
	b0 := clone(e.balance(0))
	id, escrow := e.submit(0, jspec(50))
	e.step()
	rep0 := e.staker(pa(0)).Reputation
	sup0 := e.supply().Burned
	treasury0 := clone(e.accountOf(TreasuryAddress).Balance)
	evs, err := e.deliverEv(provBase, &SubmitResult{JobID: id, ResultCID: "bafyresult"})
	if err != nil {
		t.Fatal(err)
	}
	j := e.job(id)
	platform := bps(ask, e.p.PlatformFeeBps)
	earned := sub(ask, platform)
	if j.Status != JobCompleted || j.ResultCID != "bafyresult" || j.Assignments[0].Status != AssignAccepted || j.SettledAt != uint64(e.height) {
		t.Fatalf("job %+v", j)
	}
	wantAmt(t, "earnings", e.prov(0).Earnings, earned)
	wantAmt(t, "client balance", e.balance(0), sub(sub(sub(b0, e.p.MinTxFee), ask), j.Fee))
	wantAmt(t, "refunded", j.Refunded, sub(sub(escrow, ask), j.Fee))
	wantAmt(t, "paid", j.Paid, ask)
	// Burn and treasury: the result tx's fee, the platform fee and F, each split by FeeBurnBps.
	burned := add(add(bps(e.p.MinTxFee, e.p.FeeBurnBps), bps(platform, e.p.FeeBurnBps)), bps(j.Fee, e.p.FeeBurnBps))
	wantAmt(t, "burned", sub(e.supply().Burned, sup0), burned)
	total := add(add(e.p.MinTxFee, platform), j.Fee)
	wantAmt(t, "treasury", sub(e.accountOf(TreasuryAddress).Balance, treasury0), sub(total, burned))
	paid := only(t, evs, "provider_paid")
	if attr(paid, "amount") != earned.Dec() || attr(paid, "platform_fee") != platform.Dec() {
		t.Fatalf("provider_paid %v", paid)
	}
	if r := e.staker(pa(0)).Reputation; r != rep0+e.p.ReputationSuccessUp {
		t.Fatalf("reputation %d, want %d", r, rep0+e.p.ReputationSuccessUp)
	}
	if p := e.prov(0); p.Active != 0 || p.Completed != 1 || e.load().Active != 0 {
		t.Fatalf("provider %+v load %+v", p, e.load())
	}
	if pj, _ := ListProviderJobs(e.kv, pa(0)); len(pj) != 0 {
		t.Fatalf("open assignments after settlement: %v", pj)
	}
	e.checkSupply()
}

func (e *testEnv) accountOf(a Address) *Account {
	e.t.Helper()
	acc, err := GetAccount(e.kv, a)
	if err != nil {
		e.t.Fatal(err)
	}
	return acc
}

// TestMinAssignWindow checks that a job whose deadline is closer than MinAssignWindowBlocks is
// never handed to a provider, who could not answer in time and would be slashed for it: it
// expires with a full refund instead.
func TestMinAssignWindow(t *testing.T) {
	p := jobParams()
	p.MinAssignWindowBlocks = 10
	e := newJobEnv(t, p, enterprise())
	e.register(0, offer(CIRO(1), 2))
	near, escrow := e.submit(0, jspec(uint64(e.height)+5))
	far, _ := e.submit(0, jspec(uint64(e.height)+50))
	e.step()
	if j := e.job(far); j.Status != JobAssigned {
		t.Fatalf("a job with room in its window is %s, want assigned", j.Status)
	}
	j := e.job(near)
	if j.Status != JobExpired || len(j.Assignments) != 0 {
		t.Fatalf("a job with too little window left is %s with %d assignments, want expired and unassigned", j.Status, len(j.Assignments))
	}
	wantAmt(t, "refund", j.Refunded, escrow)
	e.checkSupply()
}
