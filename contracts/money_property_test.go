package contracts

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/holiman/uint256"
)

// The money property test: random sequences of stake, delegate, undelegate, unstake, reward,
// withdraw and slashes (no-shows, double signs, coordinated attacks, downtime) over many pools,
// some of them tiny so that repeated slashes take them to a few units. After every block no
// account holds more than was ever minted, each pool's shares are its delegations' sum, and the
// supply invariant holds with checked sums. The blocks are then replayed on fresh stores,
// which must reach the same state.

const (
	mpValidators = 4  // accounts 0..3, validators at genesis
	mpProviders  = 10 // accounts 4..13, providers at genesis
	mpUsers      = 24 // accounts 14..23 are clients and delegators
)

func mpGenesis() *Genesis {
	p := testParams()
	p.MaxValidators = 5
	p.EpochBlocks = 5
	p.InflationPerEpoch = CIRO(50)
	p.ChallengeWindowBlocks = 3
	// A no-show costs half the pool here, not 10%, so that some pools reach a collapsed share
	// price within the run.
	p.NoShowSlashBps = 5000
	g := &Genesis{Params: p}
	for i := 0; i < mpUsers; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: testAddr(i), Balance: CIRO(5000)})
	}
	for i := 0; i < mpValidators; i++ {
		g.Stakers = append(g.Stakers, genesisValidator(i, CIRO(1000)))
	}
	// Provider pools from a few units to thousands of CIRO.
	stakes := []*uint256.Int{u(7), u(1000), CIRO(1), CIRO(3), CIRO(20), CIRO(100), CIRO(675), CIRO(1000), CIRO(2000), CIRO(5000)}
	for i := 0; i < mpProviders; i++ {
		g.Stakers = append(g.Stakers, GenesisStaker{Address: testAddr(mpValidators + i), Roles: RoleProvider,
			Moniker: fmt.Sprintf("prov-%d", i), Stake: stakes[i]})
	}
	return g
}

type moneyGen struct {
	t      *testing.T
	rng    *rand.Rand
	kv     *MemStore
	m      *Machine
	p      Params
	height int64
	time   uint64
	hashes [][32]byte
	stats  map[string]int
}

func (g *moneyGen) tx(i int, msg Msg) []byte {
	acc, err := GetAccount(g.kv, testAddr(i))
	if err != nil {
		g.t.Fatal(err)
	}
	return signedTx(testKey(i), testChain, acc.Nonce, clone(g.p.MinTxFee), msg).Encode()
}

// part is a random share of v: none, all, a unit more than all, or a fraction.
func (g *moneyGen) part(v *uint256.Int) *uint256.Int {
	switch g.rng.Intn(6) {
	case 0:
		return clone(v)
	case 1:
		return new(uint256.Int).AddUint64(v, 1)
	case 2:
		return u(1)
	default:
		p, _ := mulDiv(v, u(uint64(1+g.rng.Intn(999))), u(1000))
		if p.IsZero() {
			return u(1)
		}
		return p
	}
}

func (g *moneyGen) pool() Address {
	if g.rng.Intn(4) == 0 {
		return testAddr(g.rng.Intn(mpValidators))
	}
	return testAddr(mpValidators + g.rng.Intn(mpProviders))
}

// genTx makes one random money transaction; it deliberately includes ones that must fail.
func (g *moneyGen) genTx() []byte {
	r := g.rng
	who := r.Intn(mpUsers)
	acc, _ := GetAccount(g.kv, testAddr(who))
	switch r.Intn(9) {
	case 0: // a provider adds to its own pool
		prov := mpValidators + r.Intn(mpProviders)
		pacc, _ := GetAccount(g.kv, testAddr(prov))
		g.stats["stake"]++
		return g.tx(prov, &Stake{Amount: g.part(pacc.Balance), Roles: RoleProvider})
	case 1, 2:
		g.stats["delegate"]++
		return g.tx(who, &Delegate{Staker: g.pool(), Amount: g.part(acc.Balance)})
	case 3, 4:
		pool := g.pool()
		if r.Intn(3) == 0 {
			pool = testAddr(who)
		}
		d, _ := GetDelegation(g.kv, pool, testAddr(who))
		held := zero()
		if d != nil {
			held = d.Amount
		}
		if pool == testAddr(who) {
			g.stats["unstake"]++
			return g.tx(who, &Unstake{Amount: g.part(held)})
		}
		g.stats["undelegate"]++
		return g.tx(who, &Undelegate{Staker: pool, Amount: g.part(held)})
	case 5: // a provider withdraws earnings
		prov := mpValidators + r.Intn(mpProviders)
		amount := zero() // all
		if p, _ := GetProvider(g.kv, testAddr(prov)); p != nil && r.Intn(2) == 0 {
			amount = g.part(p.Earnings)
		}
		g.stats["withdraw"]++
		return g.tx(prov, &Withdraw{Amount: amount})
	case 6, 7: // a client submits a job
		client := mpValidators + mpProviders + r.Intn(mpUsers-mpValidators-mpProviders)
		g.stats["submit"]++
		return g.tx(client, &SubmitJob{Spec: jspec(uint64(g.height) + 2 + uint64(r.Intn(4)))})
	default:
		g.stats["transfer"]++
		return g.tx(who, &Transfer{To: testAddr(r.Intn(mpUsers)), Amount: g.part(acc.Balance)})
	}
}

// results makes providers answer about half their running assignments; the rest no-show and
// are slashed when their deadline passes.
func (g *moneyGen) results(deliver func([]byte)) {
	for i := 0; i < mpProviders; i++ {
		prov := testAddr(mpValidators + i)
		jobs, err := ListProviderJobs(g.kv, prov)
		if err != nil {
			g.t.Fatal(err)
		}
		for _, pj := range jobs {
			if pj.Job.Assignments[pj.Slot].Status == AssignRunning && g.rng.Intn(2) == 0 {
				deliver(g.tx(mpValidators+i, &SubmitResult{JobID: pj.Job.ID, ResultCID: "bafyresult"}))
			}
		}
	}
}

func (g *moneyGen) genBlock() *simBlock {
	r := g.rng
	g.height++
	g.time += 1 + uint64(r.Intn(30))
	if r.Intn(40) == 0 {
		g.time += 31 * day
	}
	b := &simBlock{height: g.height, time: g.time}
	vals, err := ListValidators(g.kv)
	if err != nil {
		g.t.Fatal(err)
	}
	var total int64
	for _, v := range vals {
		total += v.Power
	}
	for _, v := range vals {
		b.votes = append(b.votes, Vote{ConsAddress: v.ConsAddress, Power: v.Power, Signed: v.ConsAddress[0]%4 != 0 || r.Intn(3) == 0})
	}
	// Evidence: now and then one validator double-signs; rarely two at one height, which can
	// make a coordinated attack.
	if r.Intn(40) == 0 && len(vals) > 1 {
		h := 1 + r.Int63n(g.height)
		for k := 0; k < 1+r.Intn(2); k++ {
			v := vals[r.Intn(len(vals))]
			b.mis = append(b.mis, Misbehavior{Kind: DuplicateVote, ConsAddress: v.ConsAddress, Height: h, Power: v.Power, TotalPower: total})
			g.stats["evidence"]++
		}
	}
	blk := &Block{ChainID: testChain, Height: b.height, Time: b.time, Votes: b.votes, Misbehavior: b.mis}
	evs, err := g.m.BeginBlock(blk)
	if err != nil {
		g.t.Fatalf("height %d: BeginBlock: %v", g.height, err)
	}
	g.count(evs)
	deliver := func(raw []byte) {
		tx, err := DecodeTx(raw)
		if err != nil {
			g.t.Fatal(err)
		}
		b.txs, b.sigOK = append(b.txs, raw), append(b.sigOK, true)
		evs, err := g.m.DeliverTx(blk, tx)
		if CodeOf(err) == CodeInternal {
			g.t.Fatalf("height %d: internal error: %v", g.height, err)
		}
		g.stats[fmt.Sprintf("%s %s", tx.Msg.Type(), CodeOf(err))]++
		g.count(evs)
	}
	g.results(deliver)
	for n := r.Intn(12); n > 0; n-- {
		deliver(g.genTx()) // generated against the state the earlier txs left
	}
	_, evs, err = g.m.EndBlock(blk)
	if err != nil {
		g.t.Fatalf("height %d: EndBlock halts the chain: %v", g.height, err)
	}
	g.count(evs)
	g.check()
	g.hashes = append(g.hashes, stateHash(g.kv))
	return b
}

func (g *moneyGen) count(evs []Event) {
	for _, e := range evs {
		switch e.Type {
		case "slash", "slash_unbonding", "reward", "tombstone", "coordinated_attack", "withdraw", "unbond_complete":
			g.stats["event "+e.Type]++
		}
	}
}

// check asserts the money invariants after a block.
func (g *moneyGen) check() {
	t := g.t
	sup, err := CheckSupply(g.kv)
	if err != nil {
		t.Fatalf("height %d: %v", g.height, err)
	}
	minted := sup.Minted
	// What each account holds: balance, stake value in every pool, unbonding, earnings.
	held := map[Address]*uint256.Int{}
	add := func(a Address, v *uint256.Int) {
		if held[a] == nil {
			held[a] = zero()
		}
		if err := addTo(held[a], v); err != nil {
			t.Fatalf("height %d: %s holds more than 2^256: %v", g.height, a, err)
		}
	}
	for i := 0; i < mpUsers; i++ {
		a := testAddr(i)
		acc, err := GetAccount(g.kv, a)
		if err != nil {
			t.Fatal(err)
		}
		add(a, acc.Balance)
		if p, _ := GetProvider(g.kv, a); p != nil {
			add(a, p.Earnings)
		}
		ubs, err := ListUnbondings(g.kv, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, ub := range ubs {
			add(a, ub.Amount)
		}
	}
	stakers, err := ListStakers(g.kv)
	if err != nil {
		t.Fatal(err)
	}
	shareSum := map[Address]*uint256.Int{}
	err = iteratePrefix(g.kv, []byte{prefixDelegation}, func(k, v []byte) bool {
		var pool, who Address
		copy(pool[:], k[1:1+AddressLen])
		copy(who[:], k[1+AddressLen:])
		d, err := GetDelegation(g.kv, pool, who)
		if err != nil || d == nil {
			t.Fatalf("height %d: delegation %s→%s: %v", g.height, who, pool, err)
		}
		add(who, d.Amount)
		if shareSum[pool] == nil {
			shareSum[pool] = zero()
		}
		if err := addTo(shareSum[pool], d.Shares); err != nil {
			t.Fatalf("height %d: pool %s's shares pass 2^256", g.height, pool)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for a, v := range held {
		if v.Gt(minted) {
			t.Fatalf("height %d: %s holds %s, more than the %s ever minted", g.height, a, FormatCIRO(v), FormatCIRO(minted))
		}
	}
	for _, st := range stakers {
		want := shareSum[st.Address]
		if want == nil {
			want = zero()
		}
		if !st.Shares.Eq(want) {
			t.Fatalf("height %d: pool %s has %s shares, its delegations %s", g.height, st.Address, st.Shares.Dec(), want.Dec())
		}
		if st.Tokens.Gt(minted) {
			t.Fatalf("height %d: pool %s holds %s, more than was minted", g.height, st.Address, FormatCIRO(st.Tokens))
		}
		if sharePriceCollapsed(st) {
			g.stats["collapsed pool-blocks"]++
		}
	}
}

func TestMoneyRandomSequencesKeepSupply(t *testing.T) {
	blocksN := 300
	if testing.Short() {
		blocksN = 120
	}
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			kv := NewMemStore()
			m := NewMachine(kv)
			gen := mpGenesis()
			if _, err := m.InitGenesis(testChain, gen); err != nil {
				t.Fatal(err)
			}
			g := &moneyGen{t: t, rng: rand.New(rand.NewSource(seed)), kv: kv, m: m, p: gen.Params, height: 1, time: 1_700_000_000, stats: map[string]int{}}
			var blocks []*simBlock
			// Block 2 registers every provider.
			g.height++
			g.time++
			first := &simBlock{height: g.height, time: g.time}
			blk := &Block{ChainID: testChain, Height: g.height, Time: g.time}
			if _, err := m.BeginBlock(blk); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < mpProviders; i++ {
				raw := g.tx(mpValidators+i, offer(CIRO(1), 3))
				tx, _ := DecodeTx(raw)
				if _, err := m.DeliverTx(blk, tx); err != nil {
					t.Fatalf("register provider %d: %v", i, err)
				}
				first.txs, first.sigOK = append(first.txs, raw), append(first.sigOK, true)
			}
			if _, _, err := m.EndBlock(blk); err != nil {
				t.Fatal(err)
			}
			g.hashes = append(g.hashes, stateHash(kv))
			blocks = append(blocks, first)
			for len(blocks) < blocksN {
				blocks = append(blocks, g.genBlock())
			}
			// The run must have exercised what it claims to.
			for _, k := range []string{"event slash", "event slash_unbonding", "event reward", "event withdraw",
				"event unbond_complete", "event tombstone", "delegate ok", "undelegate ok", "unstake ok", "stake ok",
				"withdraw ok", "submit_result ok", "delegate invalid_argument", "collapsed pool-blocks"} {
				if g.stats[k] == 0 {
					t.Errorf("the run never produced %q; stats %v", k, g.stats)
				}
			}
			t.Logf("%d blocks; stats %v", len(blocks), g.stats)
			// Replays on fresh stores, plain and under a per-block cache, reach the same states.
			for _, mode := range []string{"plain", "cache"} {
				store := NewMemStore()
				if _, err := NewMachine(store).InitGenesis(testChain, mpGenesis()); err != nil {
					t.Fatal(err)
				}
				for i, b := range blocks {
					if mode == "cache" {
						c := NewCache(store)
						execBlock(t, NewMachine(c), b)
						if err := c.Write(); err != nil {
							t.Fatal(err)
						}
					} else {
						execBlock(t, NewMachine(store), b)
					}
					if stateHash(store) != g.hashes[i] {
						t.Fatalf("%s replay: state after block %d differs", mode, i)
					}
				}
			}
		})
	}
}
