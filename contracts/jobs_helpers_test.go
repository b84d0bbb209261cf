package contracts

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/holiman/uint256"
)

// Job-market test helpers. Provider i is account provBase+i, staked with the provider role at
// genesis; clients are accounts 0..4 with 1,000 CIRO each; accounts 10 and 11 are validators.
const provBase = 20

func pa(i int) Address { return testAddr(provBase + i) }

// jobParams are testParams with short challenge, reveal and dispute windows.
func jobParams() Params {
	p := testParams()
	p.ChallengeWindowBlocks = 5
	p.ChallengeWindowMaxBlocks = 8
	p.RevealWindowBlocks = 3
	p.DisputeWindowBlocks = 6
	return p
}

// testSalt is provider p's salt in tests.
func testSalt(p int) [32]byte { return [32]byte{0x5a, byte(p)} }

// commit seals cid as provider p's answer to a redundant job.
func (e *testEnv) commit(p int, id uint64, cid string) ([]Event, error) {
	e.t.Helper()
	return e.deliverEv(provBase+p, &CommitResult{JobID: id, Seal: SealResult(cid, pa(p), testSalt(p))})
}

// reveal opens provider p's seal with cid.
func (e *testEnv) reveal(p int, id uint64, cid string) ([]Event, error) {
	e.t.Helper()
	return e.deliverEv(provBase+p, &RevealResult{JobID: id, ResultCID: cid, Salt: testSalt(p)})
}

// answerAll commits then reveals cids[n] for slot n's provider, failing the test on an error.
func (e *testEnv) answerAll(id uint64, provs []int, cids []string) []Event {
	e.t.Helper()
	var evs []Event
	for n, p := range provs {
		ev, err := e.commit(p, id, cids[n])
		if err != nil {
			e.t.Fatalf("commit of provider %d: %v", p, err)
		}
		evs = append(evs, ev...)
	}
	for n, p := range provs {
		ev, err := e.reveal(p, id, cids[n])
		if err != nil {
			e.t.Fatalf("reveal of provider %d: %v", p, err)
		}
		evs = append(evs, ev...)
	}
	return evs
}

// bitExact makes a spec run on the wasi executor, which validators can re-execute.
func bitExact(s JobSpec) JobSpec {
	s.Requirements.Frameworks = []string{"wasi"}
	return s
}

// newJobEnv starts a chain with one provider staker per stake (not yet registered).
func newJobEnv(t testing.TB, p Params, stakes ...*uint256.Int) *testEnv {
	t.Helper()
	var accs []GenesisAccount
	for i := 0; i < 5; i++ {
		accs = append(accs, GenesisAccount{Address: testAddr(i), Balance: CIRO(1000)})
	}
	accs = append(accs, GenesisAccount{Address: testAddr(10), Balance: CIRO(10)}, GenesisAccount{Address: testAddr(11), Balance: CIRO(10)})
	stakers := []GenesisStaker{genesisValidator(10, CIRO(1000)), genesisValidator(11, CIRO(1000))}
	for i, s := range stakes {
		accs = append(accs, GenesisAccount{Address: pa(i), Balance: CIRO(10)})
		stakers = append(stakers, GenesisStaker{Address: pa(i), Roles: RoleProvider, Moniker: "prov-" + strconv.Itoa(i), Stake: s})
	}
	return newTestEnv(t, p, accs, stakers)
}

// enterprise is a stake in the Enterprise tier at testParams' 2 USD per CIRO (2,500 USD).
func enterprise() *uint256.Int { return CIRO(2000) }

// offer is an A100-class provider asking price for every job type.
func offer(price *uint256.Int, capacity uint32) *RegisterProvider {
	var asks []Ask
	for t := JobType(0); t < NumJobTypes; t++ {
		asks = append(asks, Ask{Type: t, Price: clone(price)})
	}
	return &RegisterProvider{Caps: CapCUDA | CapFP16 | CapTensorCores, GPUModel: "A100", GPUCount: 2, VRAMMiB: 40_960,
		Frameworks: []string{"PyTorch", "ONNX", "wasi"}, Region: "eu", Capacity: capacity, Asks: asks}
}

// jspec is a standard, unverified AIInference job that offer() providers meet.
func jspec(deadline uint64) JobSpec {
	return JobSpec{Type: JobAIInference, ModelCID: "bafymodel", InputCID: "bafyinput",
		Requirements: Requirements{Caps: CapCUDA, MinVRAMMiB: 16_384, GPUCount: 1, Frameworks: []string{"PyTorch"}},
		MaxPrice:     CIRO(2), Deadline: deadline, Verification: VerifyNone, Redundancy: 1, Priority: PriorityStandard}
}

func redundant(s JobSpec, k uint8) JobSpec {
	s.Verification, s.Redundancy = VerifyRedundant, k
	return s
}
func sampled(s JobSpec) JobSpec { s.Verification = VerifySampled; return s }

func (e *testEnv) register(i int, o *RegisterProvider) { e.t.Helper(); e.send(provBase+i, o) }

// deliverEv delivers msg from account i and returns its events.
func (e *testEnv) deliverEv(i int, msg Msg) ([]Event, error) {
	e.t.Helper()
	dec, err := DecodeTx(e.tx(i, msg).Encode())
	if err != nil {
		e.t.Fatalf("DecodeTx: %v", err)
	}
	evs, err := e.m.DeliverTx(e.block(), dec)
	if CodeOf(err) == CodeInternal {
		e.t.Fatalf("DeliverTx: internal error: %v", err)
	}
	return evs, err
}

// submit delivers a SubmitJob from client i and returns the job id and its escrow.
func (e *testEnv) submit(i int, s JobSpec) (uint64, *uint256.Int) {
	e.t.Helper()
	evs, err := e.deliverEv(i, &SubmitJob{Spec: s})
	if err != nil {
		e.t.Fatalf("SubmitJob from %d: %v", i, err)
	}
	ev := only(e.t, evs, "job_submitted")
	id, _ := strconv.ParseUint(attr(ev, "job_id"), 10, 64)
	esc, err := uint256.FromDecimal(attr(ev, "escrow"))
	if err != nil {
		e.t.Fatal(err)
	}
	return id, esc
}

func (e *testEnv) job(id uint64) *Job {
	e.t.Helper()
	j, err := GetJob(e.kv, id)
	if err != nil || j == nil {
		e.t.Fatalf("job %d: %v %v", id, j, err)
	}
	return j
}

func (e *testEnv) prov(i int) *Provider {
	e.t.Helper()
	p, err := GetProvider(e.kv, pa(i))
	if err != nil || p == nil {
		e.t.Fatalf("provider %d: %v %v", i, p, err)
	}
	return p
}

func (e *testEnv) endBlockEv() []Event {
	e.t.Helper()
	_, evs, err := e.m.EndBlock(e.block())
	if err != nil {
		e.t.Fatalf("EndBlock: %v", err)
	}
	return evs
}

// step ends the current block and begins the next.
func (e *testEnv) step() []Event {
	e.t.Helper()
	evs := e.endBlockEv()
	e.beginBlock(5, nil, nil)
	return evs
}

// provIndex maps a provider address back to its index.
func provIndex(t testing.TB, a Address) int {
	for i := 0; i < 64; i++ {
		if pa(i) == a {
			return i
		}
	}
	t.Fatalf("%s is not a test provider", a)
	return -1
}

func attr(ev Event, key string) string {
	for _, a := range ev.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func eventsOf(evs []Event, typ string) []Event {
	var out []Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func only(t testing.TB, evs []Event, typ string) Event {
	t.Helper()
	got := eventsOf(evs, typ)
	if len(got) != 1 {
		t.Fatalf("%d %s events, want 1: %s", len(got), typ, renderEvents(evs))
	}
	return got[0]
}

// setJailed jails or frees a staker directly in state.
func (e *testEnv) setJailed(a Address, jailed bool) {
	e.t.Helper()
	st := e.staker(a)
	st.Jailed = jailed
	if err := (state{kv: e.kv}).setStaker(st); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) load() networkLoad {
	e.t.Helper()
	l, err := state{kv: e.kv}.load()
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func sub(a, b *uint256.Int) *uint256.Int { return new(uint256.Int).Sub(a, b) }
func add(a, b *uint256.Int) *uint256.Int { return new(uint256.Int).Add(a, b) }
func mul(a *uint256.Int, k uint64) *uint256.Int {
	return new(uint256.Int).Mul(a, uint256.NewInt(k))
}

func wantAmt(t testing.TB, what string, got, want *uint256.Int) {
	t.Helper()
	if !got.Eq(want) {
		t.Fatalf("%s = %s, want %s", what, got.Dec(), want.Dec())
	}
}

func lowestAddr(as ...Address) Address {
	best := as[0]
	for _, a := range as[1:] {
		if bytes.Compare(a[:], best[:]) < 0 {
			best = a
		}
	}
	return best
}
