package contracts

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// The liveness half of the threat model: an attacker who fills state so that every block costs
// more, or who piles work onto one block. Each row is one attack; it fails where a block's work
// grows with the state the attacker paid for once.

// readCountKV counts a KV's reads: each Get and each entry an iteration visits. It measures the
// work a block does without a clock, so the tests below are exact and not flaky.
type readCountKV struct {
	KV
	ops int
}

func (c *readCountKV) Get(key []byte) ([]byte, error) {
	c.ops++
	return c.KV.Get(key)
}

func (c *readCountKV) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return c.KV.Iterate(start, end, func(k, v []byte) bool {
		c.ops++
		return fn(k, v)
	})
}

// livenessEnv is a chain with validators validator candidates at genesis (accounts 100..),
// providers registered providers offering for every job type, and clients funded accounts
// (0..clients-1).
func livenessEnv(t *testing.T, validators, providers, clients int) *testEnv {
	t.Helper()
	var accs []GenesisAccount
	for i := 0; i < clients; i++ {
		accs = append(accs, GenesisAccount{Address: testAddr(i), Balance: CIRO(100_000)})
	}
	var stakers []GenesisStaker
	for i := 0; i < validators; i++ {
		stakers = append(stakers, genesisValidator(100+i, CIRO(uint64(1000+i))))
	}
	for i := 0; i < providers; i++ {
		accs = append(accs, GenesisAccount{Address: pa(i), Balance: CIRO(10)})
		stakers = append(stakers, GenesisStaker{Address: pa(i), Roles: RoleProvider, Stake: enterprise()})
	}
	e := newTestEnv(t, jobParams(), accs, stakers)
	for i := 0; i < providers; i++ {
		e.register(i, offer(CIRO(1), 4))
	}
	return e
}

// unassignable is a job no offer() provider meets: it needs NVLink.
func unassignable(deadline uint64) JobSpec {
	s := jspec(deadline)
	s.Requirements.Caps |= CapNVLink
	return s
}

// park submits n unassignable jobs spread over the clients, ends the block and begins the next.
func (e *testEnv) park(n, clients int, deadline uint64) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.submit(i%clients, unassignable(deadline))
	}
	e.step()
}

// emptyBlockWork is the reads of one empty block: BeginBlock and EndBlock with no transaction.
func emptyBlockWork(t *testing.T, e *testEnv) int {
	t.Helper()
	c := &readCountKV{KV: e.kv}
	m := NewMachine(c)
	e.height++
	e.time += 5
	if _, err := m.BeginBlock(e.block()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.EndBlock(e.block()); err != nil {
		t.Fatal(err)
	}
	return c.ops
}

// txWork is the reads of delivering one transaction from account i.
func txWork(t *testing.T, e *testEnv, i int, msg Msg) int {
	t.Helper()
	c := &readCountKV{KV: e.kv}
	if _, err := NewMachine(c).DeliverTx(e.block(), e.tx(i, msg)); err != nil {
		t.Fatalf("%s: %v", msg.Type(), err)
	}
	return c.ops
}

// bounded fails unless the work measured on the large state is within slack of the work on the
// small one.
func bounded(t *testing.T, what string, small, large, slack int) {
	t.Helper()
	if large > small+slack {
		t.Errorf("%s: %d reads with the large state, %d with the small one: the work grows with state", what, large, small)
	}
}

func TestLivenessAttacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"park unassignable jobs to slow every block", func(t *testing.T) {
			work := func(n int) int {
				e := livenessEnv(t, 2, 3, 4)
				e.park(n, 4, 5_000)
				return emptyBlockWork(t, e)
			}
			bounded(t, "empty block", work(20), work(2_000), 16)
		}},
		{"register many providers to slow every block", func(t *testing.T) {
			work := func(n int) int {
				e := livenessEnv(t, 2, n, 1)
				e.park(1, 1, 5_000)
				return emptyBlockWork(t, e)
			}
			bounded(t, "empty block", work(2*candidateVisits), work(300), 16)
		}},
		{"stake many validator candidates to slow every block", func(t *testing.T) {
			work := func(n int) int { return emptyBlockWork(t, livenessEnv(t, n, 0, 1)) }
			bounded(t, "empty block", work(10), work(1_000), 16)
		}},
		{"register many providers so that each registration scans them all", func(t *testing.T) {
			work := func(n int) int {
				e := livenessEnv(t, 2, n, 1)
				return txWork(t, e, provBase, offer(CIRO(3), 2))
			}
			bounded(t, "RegisterProvider", work(10), work(300), 16)
		}},
		{"park jobs from one account without limit", func(t *testing.T) {
			e := livenessEnv(t, 2, 0, 1)
			e.time = 1_000_000
			for i := 0; i < maxPendingPerClient; i++ {
				e.submit(0, unassignable(5_000))
			}
			_, err := e.deliverEv(0, &SubmitJob{Spec: unassignable(5_000)})
			wantCode(t, err, CodeTooManyPending)
			// Cancelling one makes room again.
			e.send(0, &CancelJob{JobID: 1})
			e.submit(0, unassignable(5_000))
		}},
		{"pile pending deadlines onto one height to stall that block", func(t *testing.T) {
			const n = 3*expiriesPerBlock + 5
			e := livenessEnv(t, 2, 3, 4)
			deadline := uint64(e.height) + 3
			e.park(n, 4, deadline)
			settledPerBlock := []int{}
			for e.height < int64(deadline)+10 {
				settled := 0
				for _, ev := range eventsOf(e.endBlockEv(), "job_settled") {
					if attr(ev, "status") == JobExpired.String() {
						settled++
					}
				}
				// The expiry index settles expiriesPerBlock; the backlog scan may reach a few more.
				if settled > expiriesPerBlock+backlogJobsPerBlock {
					t.Fatalf("block %d settled %d expired jobs, more than the %d a block may", e.height, settled, expiriesPerBlock+backlogJobsPerBlock)
				}
				settledPerBlock = append(settledPerBlock, settled)
				e.beginBlock(5, nil, nil)
			}
			total := 0
			for _, s := range settledPerBlock {
				total += s
			}
			if total != n {
				t.Fatalf("%d of %d expired jobs settled within 10 blocks of their deadline (%v)", total, n, settledPerBlock)
			}
			e.checkSupply()
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}

// TestBacklogStillServed checks what the budgets must not cost: a job submitted behind a large
// parked backlog is assigned in its own block, and a backlog job that becomes assignable is
// assigned once the cursor reaches it.
func TestBacklogStillServed(t *testing.T) {
	const parked = 5 * backlogJobsPerBlock
	e := livenessEnv(t, 2, 1, 4)
	e.park(parked, 4, 5_000)
	id, _ := e.submit(0, jspec(5_000))
	e.step()
	if j := e.job(id); j.Status != JobAssigned {
		t.Fatalf("a job submitted behind %d parked jobs is %s, want assigned in its block", parked, j.Status)
	}
	// A provider with NVLink arrives: every parked job can now be assigned, and the cursor
	// reaches each within parked/backlogJobsPerBlock blocks.
	o := offer(CIRO(1), parked+1)
	o.Caps |= CapNVLink
	e.register(0, o)
	for b := 0; b <= parked/backlogJobsPerBlock; b++ {
		e.step()
	}
	for id := uint64(1); id <= parked; id++ {
		if j := e.job(id); j.Status != JobAssigned {
			t.Fatalf("parked job %d is %s after the cursor went round, want assigned", id, j.Status)
		}
	}
}

// TestIndexesMatchRecords rebuilds the power and ask indexes from the records after a random
// run and compares them with the maintained ones: no write path may skip an index.
func TestIndexesMatchRecords(t *testing.T) {
	e := livenessEnv(t, 6, 8, 4)
	r := newRand(7)
	for b := 0; b < 40; b++ {
		for k := 0; k < 4; k++ {
			i := r.Intn(8)
			switch r.Intn(5) {
			case 0:
				e.register(i, offer(CIRO(uint64(1+r.Intn(3))), uint32(1+r.Intn(3))))
			case 1:
				_, _ = e.deliverEv(r.Intn(4), &SubmitJob{Spec: jspec(uint64(e.height) + 3 + uint64(r.Intn(10)))})
			case 2:
				_, _ = e.deliverEv(provBase+i, &Stake{Roles: RoleProvider, Amount: CIRO(uint64(r.Intn(5)))})
			case 3:
				_, _ = e.deliverEv(provBase+i, &Unstake{Amount: CIRO(uint64(500 + r.Intn(1500)))})
			case 4:
				e.setJailed(pa(i), r.Intn(2) == 0)
			}
		}
		e.step()
	}
	want := map[string]bool{}
	st := state{kv: e.kv}
	stakers, err := ListStakers(e.kv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stakers {
		if k := powerKeyOf(s); k != nil {
			want[string(k)] = true
		}
		p, err := st.provider(s.Address)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range askAllKeys(p) {
			want[string(k)] = true
		}
		class, open, err := st.providerClass(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range askOpenKeys(p, class, open) {
			want[string(k)] = true
		}
	}
	got := map[string]bool{}
	for _, prefix := range []byte{prefixPower, prefixAskAll, prefixAskOpen} {
		_ = iteratePrefix(e.kv, []byte{prefix}, func(k, _ []byte) bool {
			got[string(k)] = true
			return true
		})
	}
	for k := range want {
		if !got[k] {
			t.Errorf("index entry %x missing", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("index entry %x is stale", k)
		}
	}
	if len(want) == 0 {
		t.Fatal("no index entries at all: the run did not exercise the indexes")
	}
	e.checkSupply()
}

// TestBeaconSeedsTheAuction: once validators have revealed secrets they committed to, a
// block's seed is the beacon, whatever seed (block hash) the proposer could grind.
func TestBeaconSeedsTheAuction(t *testing.T) {
	e := livenessEnv(t, 2, 0, 1)
	cons := consAddrOf(testConsKey(100))
	secret := []byte("0123456789abcdef0123456789abcdef")
	commit := sha256.Sum256(secret)
	if _, err := e.m.ApplyBeacon(e.block(), 7, []BeaconShare{{ConsAddress: cons, Commit: commit}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := BeaconValue(e.kv); v != nil {
		t.Fatal("a commitment alone set the beacon")
	}
	// A reveal that does not open the commitment counts for nothing.
	wrong := bytes.Repeat([]byte{9}, 32)
	if _, err := e.m.ApplyBeacon(e.block(), 8, []BeaconShare{{ConsAddress: cons, Reveal: wrong}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := BeaconValue(e.kv); v != nil {
		t.Fatal("a reveal that does not open its commitment moved the beacon")
	}
	if _, err := e.m.ApplyBeacon(e.block(), 7, []BeaconShare{{ConsAddress: cons, Commit: commit}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.ApplyBeacon(e.block(), 8, []BeaconShare{{ConsAddress: cons, Reveal: secret}}); err != nil {
		t.Fatal(err)
	}
	beacon, _ := BeaconValue(e.kv)
	if len(beacon) != 32 {
		t.Fatalf("beacon %x after an opened commitment", beacon)
	}
	for _, ground := range [][]byte{[]byte("hash-a"), []byte("hash-b")} {
		b := e.block()
		b.Seed = ground
		if _, err := e.m.BeginBlock(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Seed, beacon) {
			t.Fatalf("the block's seed is %x, not the beacon %x", b.Seed, beacon)
		}
	}
}
