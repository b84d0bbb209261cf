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

func TestAttacksMoney(t *testing.T) {
	attacks := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"share overflow mints CIRO from nothing", attackShareOverflow},
	}
	for _, a := range attacks {
		t.Run(a.name, a.run)
	}
}
