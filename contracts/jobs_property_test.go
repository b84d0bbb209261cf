package contracts

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/holiman/uint256"
)

// The job market under random load: submissions of every supported method, provider
// registrations and updates, honest and dishonest results, challenges, cancels, withdrawals and
// ledger operations, over blocks with random seeds. After every block the money and the
// indexes must add up.

const (
	jsClients    = 12 // accounts 0..11 are clients with 5,000 CIRO
	jsProviders  = 8  // accounts 20..27 are provider stakers
	jsValidators = 4  // accounts 30..33 are validators
	jsValBase    = 30
)

var jsFrameworks = []string{"PyTorch", "TensorFlow", "ONNX", "ComfyUI", "FFmpeg", "wasi"}

func jobSimGenesis() *Genesis {
	p := jobParams()
	p.MaxValidators = 5
	p.ChallengeWindowBlocks = 3
	p.EpochBlocks = 10 // providers' job records feed the rewards of many epochs
	p.InflationPerEpoch = CIRO(100)
	g := &Genesis{Params: p}
	for i := 0; i < jsClients; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: testAddr(i), Balance: CIRO(5000)})
	}
	stakes := []uint64{60, 300, 2000, 2000, 60, 300, 5000, 2000}
	for i := 0; i < jsProviders; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: pa(i), Balance: CIRO(50)})
		g.Stakers = append(g.Stakers, GenesisStaker{Address: pa(i), Roles: RoleProvider, Stake: CIRO(stakes[i])})
	}
	for i := 0; i < jsValidators; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: testAddr(jsValBase + i), Balance: CIRO(10)})
		g.Stakers = append(g.Stakers, genesisValidator(jsValBase+i, CIRO(500)))
	}
	return g
}

// jobBlock is one generated block.
type jobBlock struct {
	height int64
	time   uint64
	seed   []byte
	txs    [][]byte
}

type jobSim struct {
	t       testing.TB
	rng     *rand.Rand
	kv      *MemStore
	m       *Machine
	p       Params
	height  int64
	time    uint64
	escrow  map[uint64]*uint256.Int // original escrow of every job, from job_submitted
	paid    map[uint64]map[Address]int
	open    []uint64          // jobs that were not final at the last look
	final   map[uint64]string // checked final jobs' records: they must never change again
	stats   map[string]int
	ops     int
	checked int
}

func newJobSim(t testing.TB, seed int64) *jobSim {
	kv := NewMemStore()
	m := NewMachine(kv)
	g := jobSimGenesis()
	if _, err := m.InitGenesis(testChain, g); err != nil {
		t.Fatal(err)
	}
	return &jobSim{t: t, rng: rand.New(rand.NewSource(seed)), kv: kv, m: m, p: g.Params, height: 1, time: 1_700_000_000,
		escrow: map[uint64]*uint256.Int{}, paid: map[uint64]map[Address]int{}, final: map[uint64]string{}, stats: map[string]int{}}
}

func (s *jobSim) price() *uint256.Int {
	r := s.rng
	switch r.Intn(10) {
	case 0:
		return u(uint64(1 + r.Intn(1000))) // below any floor
	case 1:
		return CIRO(uint64(5 + r.Intn(50)))
	default:
		return new(uint256.Int).Add(CIRO(uint64(r.Intn(3))), u(uint64(r.Int63n(1e18))))
	}
}

func (s *jobSim) randOffer() *RegisterProvider {
	r := s.rng
	o := &RegisterProvider{Caps: uint8(r.Intn(256)) | CapCUDA, GPUModel: "GPU-" + strconv.Itoa(r.Intn(4)), GPUCount: uint32(1 + r.Intn(8)),
		VRAMMiB: uint32(8192 * (1 + r.Intn(10))), Region: "r" + strconv.Itoa(r.Intn(3)), Capacity: uint32(1 + r.Intn(6))}
	for _, f := range jsFrameworks {
		if r.Intn(3) > 0 {
			o.Frameworks = append(o.Frameworks, f)
		}
	}
	for t := JobType(0); t < NumJobTypes; t++ {
		if r.Intn(4) > 0 {
			o.Asks = append(o.Asks, Ask{Type: t, Price: new(uint256.Int).Add(u(1e17), u(uint64(r.Int63n(15e17))))})
		}
	}
	if r.Intn(40) == 0 {
		o.Capacity = 0 // invalid
	}
	return o
}

func (s *jobSim) randSpec() JobSpec {
	r := s.rng
	sp := JobSpec{Type: JobType(r.Intn(NumJobTypes)), ModelCID: "bafym" + strconv.Itoa(r.Intn(100)), InputCID: "bafyi",
		MaxPrice: s.price(), Deadline: uint64(s.height) + uint64(1+r.Intn(8)), Redundancy: 1, Priority: Priority(r.Intn(4))}
	switch r.Intn(10) {
	case 0, 1, 2, 3:
		sp.Verification = VerifyNone
	case 4, 5, 6:
		sp.Verification, sp.Redundancy = VerifyRedundant, uint8(2+r.Intn(3))
	default:
		sp.Verification = VerifySampled
	}
	sp.Requirements.Caps = []uint8{0, CapCUDA, CapCUDA | CapFP16, CapINT8}[r.Intn(4)]
	sp.Requirements.GPUCount = uint32(r.Intn(3))
	sp.Requirements.MinVRAMMiB = uint32(4096 * r.Intn(8))
	if r.Intn(2) == 0 {
		sp.Requirements.Frameworks = []string{jsFrameworks[r.Intn(len(jsFrameworks))]}
	}
	if sp.Verification != VerifyNone && r.Intn(2) == 0 {
		sp.Requirements.Frameworks = []string{"wasi"} // re-executable: disputes can settle it
	}
	switch r.Intn(40) {
	case 0:
		sp.Type = JobType(NumJobTypes + r.Intn(5))
	case 1:
		sp.Verification = VerifyZK
	case 2:
		sp.Deadline = uint64(s.height) - uint64(r.Intn(2))
	case 3:
		sp.Requirements.GPUCount = 64 // nobody has that many
	case 4:
		sp.Redundancy = uint8(r.Intn(10))
	}
	return sp
}

// openJob picks a job that was open at the last look, or any id.
func (s *jobSim) pickJob() uint64 {
	if len(s.open) == 0 || s.rng.Intn(15) == 0 {
		return uint64(1 + s.rng.Intn(len(s.escrow)+2))
	}
	return s.open[s.rng.Intn(len(s.open))]
}

func (s *jobSim) genMsg() (int, Msg) {
	r := s.rng
	client := r.Intn(jsClients)
	prov := provBase + r.Intn(jsProviders)
	switch n := r.Intn(100); {
	case n < 30:
		s.stats["submit"]++
		return client, &SubmitJob{Spec: s.randSpec()}
	case n < 36:
		s.stats["register"]++
		if r.Intn(15) == 0 {
			return jsValBase + r.Intn(jsValidators), s.randOffer() // a validator, not a provider
		}
		return prov, s.randOffer()
	case n < 62:
		s.stats["result"]++
		id := s.pickJob()
		j, _ := GetJob(s.kv, id)
		who := prov
		cid := "res-" + uintStr(id)
		if j != nil && len(j.Assignments) > 0 {
			a := j.Assignments[r.Intn(len(j.Assignments))]
			who = accIndex(s.t, a.Provider)
			if a.Status != AssignRunning {
				s.stats["result duplicate/late"]++
			}
		}
		switch r.Intn(8) {
		case 0:
			cid = "wrong-" + strconv.Itoa(r.Intn(3))
		case 1:
			who = client // a stranger
		}
		if j != nil && j.Spec.Verification == VerifyRedundant {
			// Commit, then reveal: mostly from a slot in the right state. The salt is a
			// function of the job and provider, and the revealed CID is sometimes not the one
			// sealed.
			commit := r.Intn(2) == 0
			for _, a := range j.Assignments {
				if r.Intn(4) > 0 && (a.Status == AssignRunning || a.Status == AssignCommitted) {
					who, commit = accIndex(s.t, a.Provider), a.Status == AssignRunning
					break
				}
			}
			salt := [32]byte{byte(id), byte(who)}
			if commit {
				return who, &CommitResult{JobID: id, Seal: SealResult("res-"+uintStr(id), testAddr(who), salt)}
			}
			return who, &RevealResult{JobID: id, ResultCID: cid, Salt: salt}
		}
		return who, &SubmitResult{JobID: id, ResultCID: cid, Commitment: []byte{byte(r.Intn(256))}}
	case n < 67:
		s.stats["challenge"]++
		id := s.pickJob()
		from := jsValBase + r.Intn(jsValidators)
		if r.Intn(5) == 0 {
			from = client
		}
		cid := "reexec-" + strconv.Itoa(r.Intn(2))
		if d, _ := GetDispute(s.kv, id); d != nil && r.Intn(4) > 0 {
			if r.Intn(2) == 0 {
				cid = "res-" + uintStr(id)
			}
			return from, &DisputeVote{JobID: id, ResultCID: cid}
		}
		slot := uint8(0)
		if j, _ := GetJob(s.kv, id); j != nil {
			for i, a := range j.Assignments {
				if a.Status == AssignSubmitted {
					slot = uint8(i)
				}
			}
		}
		return from, &Challenge{JobID: id, Slot: slot, ResultCID: cid}
	case n < 72:
		s.stats["cancel"]++
		id := s.pickJob()
		if j, _ := GetJob(s.kv, id); j != nil && r.Intn(5) > 0 {
			client = accIndex(s.t, j.Client)
		}
		return client, &CancelJob{JobID: id}
	case n < 77:
		s.stats["withdraw"]++
		amt := zero()
		if p, _ := GetProvider(s.kv, testAddr(prov)); p != nil && r.Intn(2) == 0 {
			amt = new(uint256.Int).Div(p.Earnings, u(uint64(1+r.Intn(3))))
			if r.Intn(5) == 0 {
				amt.AddUint64(p.Earnings, 1)
			}
		}
		return prov, &Withdraw{Amount: amt}
	case n < 85:
		s.stats["transfer"]++
		return client, &Transfer{To: testAddr(r.Intn(jsClients + 3)), Amount: CIRO(uint64(r.Intn(40)))}
	case n < 88:
		s.stats["burn"]++
		return client, &Burn{Amount: u(uint64(r.Int63n(1e18)))}
	case n < 93:
		s.stats["stake"]++
		who := prov
		if r.Intn(3) == 0 {
			who = client
		}
		return who, &Stake{Amount: CIRO(uint64(1 + r.Intn(200))), Roles: RoleProvider}
	case n < 97:
		s.stats["unstake"]++
		return prov, &Unstake{Amount: CIRO(uint64(1 + r.Intn(300)))}
	default:
		s.stats["delegate"]++
		return client, &Delegate{Staker: pa(r.Intn(jsProviders)), Amount: CIRO(uint64(1 + r.Intn(50)))}
	}
}

// accIndex maps an address back to its test account index.
func accIndex(t testing.TB, a Address) int {
	for i := 0; i < jsValBase+jsValidators; i++ {
		if testAddr(i) == a {
			return i
		}
	}
	t.Fatalf("%s is not a test account", a)
	return -1
}

func (s *jobSim) record(evs []Event) {
	for _, ev := range evs {
		switch ev.Type {
		case "job_submitted":
			id, _ := strconv.ParseUint(attr(ev, "job_id"), 10, 64)
			esc, _ := uint256.FromDecimal(attr(ev, "escrow"))
			if s.escrow[id] != nil {
				s.t.Fatalf("job %d submitted twice", id)
			}
			s.escrow[id] = esc
			s.open = append(s.open, id)
		case "provider_paid":
			id, _ := strconv.ParseUint(attr(ev, "job_id"), 10, 64)
			a, err := ParseAddress(attr(ev, "provider"))
			if err != nil {
				s.t.Fatal(err)
			}
			if s.paid[id] == nil {
				s.paid[id] = map[Address]int{}
			}
			s.paid[id][a]++
			s.stats["paid"]++
		case "job_settled":
			if r := attr(ev, "reason"); r != "" {
				if i := strings.IndexAny(r, "0123456789"); i > 0 {
					r = r[:i]
				}
				s.stats["reason "+r]++
			}
			s.stats["ev "+ev.Type]++
		default:
			s.stats["ev "+ev.Type]++
		}
	}
}

func (s *jobSim) genBlock() *jobBlock { return s.genBlockN(s.rng.Intn(81)) }

func (s *jobSim) genBlockN(n int) *jobBlock {
	r := s.rng
	s.height++
	s.time += 1 + uint64(r.Intn(6))
	b := &jobBlock{height: s.height, time: s.time, seed: make([]byte, 32)}
	r.Read(b.seed)
	blk := &Block{ChainID: testChain, Height: b.height, Time: b.time, Seed: b.seed}
	evs, err := s.m.BeginBlock(blk)
	if err != nil {
		s.t.Fatal(err)
	}
	s.record(evs)
	for i := 0; i < n; i++ {
		from, msg := s.genMsg()
		acc, _ := GetAccount(s.kv, testAddr(from))
		tx := signedTx(testKey(from), testChain, acc.Nonce, clone(s.p.MinTxFee), msg)
		raw := tx.Encode()
		b.txs = append(b.txs, raw)
		dec, err := DecodeTx(raw)
		if err != nil {
			s.t.Fatalf("DecodeTx: %v", err)
		}
		evs, err := s.m.DeliverTx(blk, dec)
		if CodeOf(err) == CodeInternal {
			s.t.Fatalf("height %d: %s: internal error: %v", s.height, msg.Type(), err)
		}
		s.stats[msg.Type().String()+" "+CodeOf(err).String()]++
		s.record(evs)
		s.ops++
	}
	_, evs, err = s.m.EndBlock(blk)
	if err != nil {
		s.t.Fatalf("height %d: EndBlock: %v", s.height, err)
	}
	s.record(evs)
	s.checkJobInvariants()
	return b
}

func (s *jobSim) checkJobInvariants() {
	t := s.t
	h := s.height
	if _, err := CheckSupply(s.kv); err != nil {
		t.Fatalf("height %d: %v", h, err)
	}
	provs, err := ListProviders(s.kv)
	if err != nil {
		t.Fatal(err)
	}
	running := map[Address]uint32{}
	deadlines := map[string]bool{}
	var open []uint64
	err = iteratePrefix(s.kv, []byte{prefixJob}, func(k, v []byte) bool {
		id := binary.BigEndian.Uint64(k[1:])
		if rec, ok := s.final[id]; ok {
			if rec != string(v) {
				t.Fatalf("height %d: settled job %d changed", h, id)
			}
			return true
		}
		j, err := DecodeJob(v)
		if err != nil {
			t.Fatal(err)
		}
		s.checked++
		orig := s.escrow[j.ID]
		if orig == nil {
			t.Fatalf("height %d: job %d without a submission event", h, j.ID)
		}
		if want := add(mul(j.Spec.MaxPrice, uint64(j.Spec.Redundancy)), j.Fee); !want.Eq(orig) {
			t.Fatalf("height %d: job %d escrow %s, want max×k+F = %s", h, j.ID, orig, want)
		}
		accepted, paidSum := 0, zero()
		for i, a := range j.Assignments {
			switch a.Status {
			case AssignRunning:
				running[a.Provider]++
				deadlines[string(slotKey(prefixDeadline, a.Deadline, j.ID, i))] = true
				if j.Status.Final() {
					t.Fatalf("height %d: job %d is %s with slot %d running", h, j.ID, j.Status, i)
				}
			case AssignAccepted:
				accepted++
				paidSum.Add(paidSum, a.Price)
				if a.Price.Gt(j.Spec.MaxPrice) {
					t.Fatalf("job %d paid %s above its max", j.ID, a.Price)
				}
			}
		}
		paidEv := 0
		for a, n := range s.paid[j.ID] {
			if n != 1 || assignmentOf(j, a, AssignAccepted) < 0 {
				t.Fatalf("height %d: job %d paid %s %d times (accepted slot: %v)", h, j.ID, a, n, assignmentOf(j, a, AssignAccepted) >= 0)
			}
			paidEv += n
		}
		if paidEv > len(j.Assignments) || paidEv != accepted || !paidSum.Eq(j.Paid) {
			t.Fatalf("height %d: job %d: %d payments, %d accepted slots, paid %s vs %s", h, j.ID, paidEv, accepted, paidSum, j.Paid)
		}
		if j.Status.Final() {
			total := add(j.Paid, j.Refunded)
			if j.Status == JobCompleted {
				total.Add(total, j.Fee)
			}
			if !j.Escrow.IsZero() || !total.Eq(orig) {
				t.Fatalf("height %d: final job %d (%s): escrow %s, paid %s + refunded %s (+fee %s) ≠ %s", h, j.ID, j.Status, j.Escrow, j.Paid, j.Refunded, j.Fee, orig)
			}
			if j.Status == JobCompleted && (j.ResultCID == "" || accepted == 0) {
				t.Fatalf("height %d: completed job %d without an accepted result", h, j.ID)
			}
			s.final[j.ID] = string(v)
		} else {
			open = append(open, j.ID)
			held := clone(orig)
			if d, _ := GetDispute(s.kv, j.ID); d != nil {
				held.Add(held, d.Bond) // a challenge's bond waits in the escrow
			}
			if !j.Escrow.Eq(held) || !j.Paid.IsZero() || !j.Refunded.IsZero() {
				t.Fatalf("height %d: open job %d escrow %s of %s", h, j.ID, j.Escrow, orig)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	s.open = open
	var l networkLoad
	for _, p := range provs {
		if p.Active != running[p.Address] {
			t.Fatalf("height %d: provider %s Active %d, running slots %d", h, p.Address, p.Active, running[p.Address])
		}
		l.Active += uint64(p.Active)
		l.Capacity += uint64(p.Capacity)
	}
	if got, _ := (state{kv: s.kv}).load(); got != l {
		t.Fatalf("height %d: load record %+v, sums %+v", h, got, l)
	}
	_ = iteratePrefix(s.kv, []byte{prefixPending}, func(k, _ []byte) bool {
		id := binary.BigEndian.Uint64(k[2:])
		j, _ := GetJob(s.kv, id)
		if j == nil || j.Status.Final() || byte(numPriorities-1-j.Spec.Priority) != k[1] {
			t.Fatalf("height %d: pending entry %x points to %v", h, k, j)
		}
		return true
	})
	nd := 0
	_ = iteratePrefix(s.kv, []byte{prefixDeadline}, func(k, _ []byte) bool {
		nd++
		if !deadlines[string(k)] {
			t.Fatalf("height %d: deadline entry %x has no running slot", h, k)
		}
		if binary.BigEndian.Uint64(k[1:9]) <= uint64(h) {
			t.Fatalf("height %d: deadline entry %x is overdue", h, k)
		}
		return true
	})
	if nd != len(deadlines) {
		t.Fatalf("height %d: %d deadline entries for %d running slots", h, nd, len(deadlines))
	}
}

// execJobBlock replays a generated block: the rendered outcome of every step.
func execJobBlock(t testing.TB, m *Machine, b *jobBlock) string {
	blk := &Block{ChainID: testChain, Height: b.height, Time: b.time, Seed: b.seed}
	var sb strings.Builder
	evs, err := m.BeginBlock(blk)
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString(renderEvents(evs) + "\n")
	for _, raw := range b.txs {
		tx, err := DecodeTx(raw)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := m.DeliverTx(blk, tx)
		fmt.Fprintf(&sb, "%s %s\n", CodeOf(err), renderEvents(evs))
	}
	up, evs, err := m.EndBlock(blk)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&sb, "end %s %s\n", renderEvents(evs), updatesString(up))
	return sb.String()
}

func TestJobMarketRandomOps(t *testing.T) {
	minOps := 10_000
	if testing.Short() {
		minOps = 2_500
	}
	start := time.Now()
	s := newJobSim(t, 424242)
	var blocks []*jobBlock
	for s.ops < minOps {
		blocks = append(blocks, s.genBlock())
	}
	// Let every job run out: empty blocks past the last deadline, re-auction and window. No
	// escrow may stay locked.
	for i := 0; i < 40; i++ {
		blocks = append(blocks, s.genBlockN(0))
	}
	if sup, _ := CheckSupply(s.kv); !sup.Escrow.IsZero() || len(s.open) != 0 {
		t.Fatalf("after the drain, %d jobs are open with %s in escrow", len(s.open), sup.Escrow)
	}
	for _, k := range []string{"submit_job ok", "submit_job price_below_floor", "submit_job deadline_past", "submit_job unknown_job_type",
		"submit_job not_supported", "submit_result ok", "submit_result duplicate_result", "submit_result not_assigned", "submit_result job_state",
		"challenge ok", "challenge not_validator", "cancel_job ok", "cancel_job job_state", "withdraw ok", "withdraw insufficient_funds",
		"register_provider ok", "register_provider not_provider", "paid", "ev job_no_show", "ev job_reauction", "ev job_challenged",
		"ev provider_penalised", "commit_result ok", "reveal_result ok", "dispute_vote ok", "ev dispute_resolved",
		"ev job_reveal_open", "ev reveal_mismatch", "transfer ok", "stake ok", "unstake ok", "delegate ok", "burn ok", "ev epoch_rewards", "ev reward"} {
		if s.stats[k] == 0 {
			t.Errorf("the random run never produced %q", k)
		}
	}
	statuses := map[JobStatus]int{}
	for id := range s.escrow {
		statuses[GetJobMust(t, s.kv, id).Status]++
	}
	for _, st := range []JobStatus{JobCompleted, JobFailed, JobCancelled, JobExpired} {
		if statuses[st] == 0 {
			t.Errorf("no job ended %s: %v", st, statuses)
		}
	}
	t.Logf("%d ops in %d blocks, %d jobs %v, %d job checks, %v", s.ops, len(blocks), len(s.escrow), statuses, s.checked, time.Since(start))
	if testing.Verbose() {
		t.Logf("stats %v", s.stats)
	}

	// Determinism: the same blocks on three more independent stores (four with the generating
	// run) give the same state, events, codes and assignments.
	want := rawDump(s.kv)
	var traces [][]string
	for r := 0; r < 3; r++ {
		kv := NewMemStore()
		m := NewMachine(kv)
		if _, err := m.InitGenesis(testChain, jobSimGenesis()); err != nil {
			t.Fatal(err)
		}
		var tr []string
		for _, b := range blocks {
			tr = append(tr, execJobBlock(t, m, b))
		}
		if got := rawDump(kv); got != want {
			t.Fatalf("replay %d: final state differs from the generating run", r)
		}
		traces = append(traces, tr)
	}
	for r := 1; r < 3; r++ {
		for i := range blocks {
			if traces[r][i] != traces[0][i] {
				t.Fatalf("replay %d block %d differs:\n%s\nvs\n%s", r, i, traces[r][i], traces[0][i])
			}
		}
	}
}

func GetJobMust(t testing.TB, kv KV, id uint64) *Job {
	j, err := GetJob(kv, id)
	if err != nil || j == nil {
		t.Fatalf("job %d: %v", id, err)
	}
	return j
}

// The block seed moves the random part of the score: other seeds pick other (equally eligible)
// providers, the same seed the same ones.
func TestAuctionSeed(t *testing.T) {
	p := jobParams()
	p.WeightPrice, p.WeightReputation, p.WeightStake, p.WeightRandom = 0, 0, 0, 1
	run := func(seed []byte) string {
		e := newJobEnv(t, p, stakesN(6)...)
		for i := 0; i < 6; i++ {
			e.register(i, offer(CIRO(1), 20))
		}
		for c := 0; c < 5; c++ {
			for k := 0; k < 4; k++ {
				e.submit(c, redundant(jspec(50), 2))
			}
		}
		_, evs, err := e.m.EndBlock(&Block{ChainID: testChain, Height: e.height, Time: e.time, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, ev := range eventsOf(evs, "job_assigned") {
			sb.WriteString(attr(ev, "job_id") + ":" + attr(ev, "provider") + ";")
		}
		if n := len(eventsOf(evs, "job_assigned")); n != 40 {
			t.Fatalf("%d assignments", n)
		}
		for id := uint64(1); id <= 20; id++ {
			j := e.job(id)
			if j.Status != JobAssigned || len(j.Assignments) != 2 || j.Assignments[0].Provider == j.Assignments[1].Provider {
				t.Fatalf("job %+v", j)
			}
		}
		e.checkSupply()
		return sb.String()
	}
	a, a2, b := run([]byte("seed-a")), run([]byte("seed-a")), run([]byte("seed-b"))
	if a != a2 {
		t.Fatal("the same seed gave different assignments")
	}
	if a == b {
		t.Fatal("a different seed gave the same 40 assignments")
	}
}
