package contracts

import (
	"testing"

	"github.com/holiman/uint256"
)

// The money and staking attacks, one row each, named after the attack. Each row plays the
// attack as a rational adversary would, through signed transactions where the attacker acts
// and through the same slash the job market and evidence apply where the chain acts, then
// asserts what must hold: nothing is created from nothing, the supply invariant holds with
// checked sums, and the chain keeps running.

// attackerProv, attackerAlt: the attacker's provider pool and its second account.
const (
	attackerProv = 30
	attackerAlt  = 31
)

// moneyEnv is a chain with validators 10 and 11, clients 0..4 and the attacker's provider pool
// of pool CIRO (account 30, 10 CIRO free) and a second account (31) holding alt CIRO.
func moneyEnv(t *testing.T, pool, alt uint64) *testEnv {
	t.Helper()
	var accs []GenesisAccount
	for i := 0; i < 5; i++ {
		accs = append(accs, GenesisAccount{Address: testAddr(i), Balance: CIRO(1000)})
	}
	accs = append(accs,
		GenesisAccount{Address: testAddr(10), Balance: CIRO(10)}, GenesisAccount{Address: testAddr(11), Balance: CIRO(10)},
		GenesisAccount{Address: testAddr(attackerProv), Balance: CIRO(10)}, GenesisAccount{Address: testAddr(attackerAlt), Balance: CIRO(alt)})
	stakers := []GenesisStaker{genesisValidator(10, CIRO(1000)), genesisValidator(11, CIRO(1000)),
		{Address: testAddr(attackerProv), Roles: RoleProvider, Moniker: "attacker", Stake: CIRO(pool)}}
	return newTestEnv(t, testParams(), accs, stakers)
}

// slashNow applies a fault's slash of fractionBps to staker a in the current block, as a
// no-show (10%) or other fault does.
func (e *testEnv) slashNow(a Address, fractionBps uint64, reason string) {
	e.t.Helper()
	x, err := e.m.newExec(e.kv, e.block())
	if err != nil {
		e.t.Fatal(err)
	}
	st := e.staker(a)
	if _, err := x.slash(st, fractionBps, reason); err != nil {
		e.t.Fatalf("slash: %v", err)
	}
	if err := x.st.setStaker(st); err != nil {
		e.t.Fatal(err)
	}
}

// runToEpoch runs empty blocks to the next epoch boundary and through it, failing the test if
// any block fails, as FinalizeBlock would halt the chain.
func (e *testEnv) runToEpoch(dt uint64) {
	e.t.Helper()
	for {
		e.beginBlock(dt, nil, nil)
		if _, _, err := e.m.EndBlock(e.block()); err != nil {
			e.t.Fatalf("EndBlock at height %d halts the chain: %v", e.height, err)
		}
		if uint64(e.height)%e.p.EpochBlocks == 0 {
			return
		}
	}
}

// heldBy is account i's balance plus the value of its stake in pool and its unbonding entries.
func (e *testEnv) heldBy(i int, pool Address) *uint256.Int {
	e.t.Helper()
	total := clone(e.balance(i))
	d, err := GetDelegation(e.kv, pool, testAddr(i))
	if err != nil {
		e.t.Fatalf("delegation of %d: %v", i, err)
	}
	if d != nil {
		if _, over := total.AddOverflow(total, d.Amount); over {
			e.t.Fatalf("account %d holds more than 2^256 units: CIRO was created from nothing", i)
		}
	}
	ubs, err := ListUnbondings(e.kv, testAddr(i))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ub := range ubs {
		if _, over := total.AddOverflow(total, ub.Amount); over {
			e.t.Fatalf("account %d holds more than 2^256 units: CIRO was created from nothing", i)
		}
	}
	return total
}

// attackShareOverflow: slash a pool 10% at a time to a few units, then delegate, so that each
// delegation mints shares at an absurd rate; after a few rounds the attacker sizes a
// delegation, from an account with few shares, to carry the pool's total shares just past
// 2^256. On unchecked arithmetic the total wraps to a small number while that account's own
// shares do not, so its shares claim more than the whole supply; it cashes out.
func attackShareOverflow(t *testing.T) {
	e := moneyEnv(t, 675, 1000)
	pool := testAddr(attackerProv)
	attacker := func() *uint256.Int {
		a, b := e.heldBy(attackerProv, pool), e.heldBy(attackerAlt, pool)
		if _, over := a.AddOverflow(a, b); over {
			t.Fatal("the attacker holds more than 2^256")
		}
		return a
	}
	before := attacker()
	two256m1 := new(uint256.Int).SetAllOne()
	for round := 0; round < 8; round++ {
		for st := e.staker(pool); st.Tokens.GtUint64(9); st = e.staker(pool) {
			e.slashNow(pool, 1000, "no_show")
		}
		st := e.staker(pool)
		from, amount := attackerAlt, CIRO(1)
		// Would 1 CIRO's shares pass 2^256? Then size the delegation to land just past it, from
		// the account whose own shares are fewest.
		room := new(uint256.Int).Sub(two256m1, st.Shares)
		if minted, over := mulDiv(amount, st.Shares, st.Tokens); over || minted.Gt(room) {
			amount, _ = mulDiv(room, st.Tokens, st.Shares)
			amount.AddUint64(amount, 1) // mints room < shares ≤ room + shares/tokens + 1
			from = attackerProv
		}
		err := e.deliver(e.tx(from, &Delegate{Staker: pool, Amount: amount}))
		if err != nil {
			wantCode(t, err, CodeInvalidArgument) // the collapsed pool refuses it
			break
		}
		if e.staker(pool).Shares.Lt(st.Shares) {
			break // the total wrapped past 2^256: cash out
		}
		if round == 7 {
			t.Fatal("the pool still took delegations after 8 rounds of collapse")
		}
	}
	// Cash out whatever the shares claim to be worth, up to 100 million CIRO each.
	for _, i := range []int{attackerProv, attackerAlt} {
		if d, _ := GetDelegation(e.kv, pool, testAddr(i)); d != nil && !d.Amount.IsZero() {
			want := CIRO(100_000_000)
			if d.Amount.Lt(want) {
				want = d.Amount
			}
			_ = e.deliver(e.tx(i, &Undelegate{Staker: pool, Amount: want}))
		}
	}
	e.beginBlock(e.p.UnbondingSeconds[TierNone]+1, nil, nil) // every unbonding matures
	e.endBlock()
	if got := attacker(); got.Gt(before) {
		t.Fatalf("the attacker holds %s, more than the %s it started with", FormatCIRO(got), FormatCIRO(before))
	}
	e.checkSupply()
	e.runToEpoch(1)
	e.checkSupply()
}

// stakeAndUnbonding is what a's pool holds plus every unbonding entry from it.
func (e *testEnv) stakeAndUnbonding(a Address) *uint256.Int {
	e.t.Helper()
	total := clone(e.staker(a).Tokens)
	err := iteratePrefix(e.kv, []byte{prefixUnbonding}, func(_, v []byte) bool {
		ub, err := decodeUnbonding(v)
		if err != nil {
			e.t.Fatal(err)
		}
		if ub.Staker == a {
			total.Add(total, ub.Amount)
		}
		return true
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return total
}

// attackUnstakeBeforeNoShow: a provider wins a job, unstakes its whole pool at once, then does
// not answer. The no-show's 10% slash must still find the stake it had when it took the job.
func attackUnstakeBeforeNoShow(t *testing.T) {
	e := newJobEnv(t, jobParams(), enterprise())
	e.register(0, offer(CIRO(1), 1))
	id, _ := e.submit(0, jspec(6))
	e.step()
	if j := e.job(id); len(j.Assignments) != 1 || j.Assignments[0].Provider != pa(0) {
		t.Fatalf("job not assigned to the provider: %+v", j.Assignments)
	}
	e.step()
	// Unstake everything it may (a collateral lock may keep part of it in the pool).
	_ = e.deliver(e.tx(provBase, &Unstake{Amount: enterprise()}))
	for e.job(id).Assignments[0].Status == AssignRunning {
		e.step()
	}
	want := bps(enterprise(), 10_000-e.p.NoShowSlashBps)
	if got := e.stakeAndUnbonding(pa(0)); got.Gt(want) {
		t.Fatalf("after the no-show the provider keeps %s of %s; the 10%% slash should leave %s", FormatCIRO(got), FormatCIRO(enterprise()), FormatCIRO(want))
	}
	e.checkSupply()
}

// attackUnbondBeforeEvidence: a validator double-signs, then it and its delegator unbond
// everything before the evidence is committed. The slash must follow the unbonding entries
// that left after the fault, and spare one that left before it.
func attackUnbondBeforeEvidence(t *testing.T) {
	e := basicEnv(t)
	val := testAddr(10)
	e.send(1, &Delegate{Staker: val, Amount: CIRO(500)})
	e.send(2, &Delegate{Staker: val, Amount: CIRO(100)})
	e.endBlock()
	e.beginBlock(5, nil, nil)
	e.send(2, &Undelegate{Staker: val, Amount: CIRO(100)}) // leaves before the fault
	e.endBlock()
	e.beginBlock(5, nil, nil)
	fault := e.height // the double sign
	e.endBlock()
	e.beginBlock(5, nil, nil)
	e.send(10, &Unstake{Amount: CIRO(1000)})
	e.send(1, &Undelegate{Staker: val, Amount: CIRO(500)})
	e.endBlock()
	e.beginBlock(5, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: fault, Power: 1600, TotalPower: 10_000}})
	e.endBlock()
	for _, c := range []struct {
		who  int
		want *uint256.Int
	}{{10, CIRO(700)}, {1, CIRO(350)}, {2, CIRO(100)}} {
		l, err := ListUnbondings(e.kv, testAddr(c.who))
		if err != nil || len(l) != 1 {
			t.Fatalf("unbondings of %d: %v %v", c.who, l, err)
		}
		if !l[0].Amount.Eq(c.want) {
			t.Errorf("account %d unbonds %s, want %s", c.who, FormatCIRO(l[0].Amount), FormatCIRO(c.want))
		}
	}
	e.checkSupply()
}

// attackUnjailAfterDoubleSign: a double signer waits out its jail and unjails, back in the set
// with 70% of its stake.
func attackUnjailAfterDoubleSign(t *testing.T) {
	e := basicEnv(t)
	e.beginBlock(1, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: 1}})
	e.endBlock()
	e.beginBlock(e.p.DoubleSignJailSeconds+1, nil, nil)
	wantCode(t, e.deliver(e.tx(10, &Unjail{})), CodeTombstoned)
	e.endBlock()
	if _, ok := e.valset()[hexStr(consAddrOf(testConsKey(10)))]; ok {
		t.Fatal("the double signer is back in the validator set")
	}
}

// attackCoordinatedDoubleSign: validators holding more than a third of the power (2,000 of
// 5,000 here: the evidence reports the whole set's power, most of it honest) double-sign
// at one height, enough to fork the chain, and lose only the 30% of a lone double sign. The
// second one's evidence arrives a block after the first.
func attackCoordinatedDoubleSign(t *testing.T) {
	e := basicEnv(t)
	e.endBlock()
	fault := e.height
	e.beginBlock(5, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: fault, Power: 1000, TotalPower: 5000}})
	e.endBlock()
	if st := e.staker(testAddr(10)); !st.Tokens.Eq(CIRO(700)) {
		t.Fatalf("a lone double sign took the pool to %s, want 700 CIRO", FormatCIRO(st.Tokens))
	}
	e.beginBlock(5, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(11)), Height: fault, Power: 1000, TotalPower: 5000}})
	for _, i := range []int{10, 11} {
		if st := e.staker(testAddr(i)); !st.Tokens.IsZero() || !st.Tombstoned {
			t.Errorf("validator %d after a coordinated attack: %s left, tombstoned %v; want nothing left", i, FormatCIRO(st.Tokens), st.Tombstoned)
		}
	}
	e.checkSupply()
}

// attackSupplyCheckWraps: balances whose true sum passes 2^256 add up, modulo 2^256, to what
// was minted, and an unchecked supply check reports the invariant as held.
func attackSupplyCheckWraps(t *testing.T) {
	e := basicEnv(t)
	st := state{kv: e.kv}
	half := new(uint256.Int).Lsh(u(1), 255)
	for _, i := range []int{40, 41} {
		if err := st.setAccount(testAddr(i), &Account{Balance: clone(half)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CheckSupply(e.kv); err == nil {
		t.Fatal("the supply check passed with 2^256 units more held than minted")
	}
}

// operatorGain runs one epoch at the default parameters with the operator's stake of 1,000
// CIRO in pools pools, next to two honest validators, and returns what the operator's accounts
// gained: balances and stake values after, less before, the Stake transactions' fees included.
func operatorGain(t *testing.T, pools int) *uint256.Int {
	p := DefaultParams()
	const first = 50 // the operator's accounts: 50 .. 50+pools-1
	accs := []GenesisAccount{{Address: testAddr(10), Balance: CIRO(10)}, {Address: testAddr(11), Balance: CIRO(10)}}
	per := CIRO(1000 / uint64(pools))
	for k := 0; k < pools; k++ {
		accs = append(accs, GenesisAccount{Address: testAddr(first + k), Balance: CIRO(1000/uint64(pools) + 1)})
	}
	e := newTestEnv(t, p, accs, []GenesisStaker{genesisValidator(10, CIRO(20_000)), genesisValidator(11, CIRO(20_000))})
	worth := func() *uint256.Int {
		total := zero()
		for k := 0; k < pools; k++ {
			total.Add(total, e.heldBy(first+k, testAddr(first+k)))
		}
		return total
	}
	before := worth()
	for k := 0; k < pools; k++ {
		e.send(first+k, &Stake{Amount: per, Roles: RoleProvider})
	}
	e.runToEpoch(1)
	after := worth()
	if !after.Gt(before) && pools == 1 {
		t.Fatalf("the single pool earned nothing in an epoch: %s → %s", before.Dec(), after.Dec())
	}
	gain := new(uint256.Int)
	if _, neg := gain.SubOverflow(after, before); neg {
		return zero()
	}
	return gain
}

// attackSplitStake: one operator splits 1,000 CIRO over ten pools of 100 to weigh more in the
// epoch rewards (under S^0.8, 390 against 251).
func attackSplitStake(t *testing.T) {
	one, ten := operatorGain(t, 1), operatorGain(t, 10)
	t.Logf("one pool of 1,000 CIRO gains %s in an epoch, ten pools of 100 gain %s", FormatCIRO(one), FormatCIRO(ten))
	if !ten.Lt(one) {
		t.Fatalf("splitting over ten pools gains %s against %s for one pool: it must lose", FormatCIRO(ten), FormatCIRO(one))
	}
}

// attackSelfDealtBonus: a provider deals itself one job with verification none, completes it
// and collects the +50% performance bonus on its epoch reward.
func attackSelfDealtBonus(t *testing.T) {
	p := jobParams()
	p.EpochBlocks = 20
	p.InflationPerEpoch = CIRO(100)
	e := newJobEnv(t, p, enterprise(), enterprise())
	e.register(0, offer(CIRO(1), 1))
	id, _ := e.submit(0, jspec(10)) // the operator's client account
	e.step()
	if j := e.job(id); len(j.Assignments) != 1 || j.Assignments[0].Provider != pa(0) {
		t.Fatalf("job not assigned to the self-dealer: %+v", j.Assignments)
	}
	e.send(provBase, &SubmitResult{JobID: id, ResultCID: "bafyresult"})
	e.register(1, offer(CIRO(1), 1)) // the honest control: same stake, same machine, no jobs
	if e.job(id).Status != JobCompleted {
		t.Fatalf("job %s", e.job(id).Status)
	}
	b0, b1 := clone(e.staker(pa(0)).Tokens), clone(e.staker(pa(1)).Tokens)
	for uint64(e.height)%p.EpochBlocks != 0 {
		e.step()
	}
	e.endBlock()
	r0 := new(uint256.Int).Sub(e.staker(pa(0)).Tokens, b0)
	r1 := new(uint256.Int).Sub(e.staker(pa(1)).Tokens, b1)
	if r1.IsZero() || r0.Gt(r1) {
		t.Fatalf("the self-dealer earned %s, the control %s: an unverified job must earn no bonus", FormatCIRO(r0), FormatCIRO(r1))
	}
}

func TestAttacksMoney(t *testing.T) {
	attacks := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"share overflow mints CIRO from nothing", attackShareOverflow},
		{"supply check wraps modulo 2^256", attackSupplyCheckWraps},
		{"unstake before the no-show slash lands", attackUnstakeBeforeNoShow},
		{"unbond before the double-sign evidence lands", attackUnbondBeforeEvidence},
		{"double signer waits out its jail", attackUnjailAfterDoubleSign},
		{"coordinated double sign costs 30%", attackCoordinatedDoubleSign},
		{"split one stake over ten pools", attackSplitStake},
		{"self-dealt unverified job earns the performance bonus", attackSelfDealtBonus},
	}
	for _, a := range attacks {
		t.Run(a.name, a.run)
	}
}
