package contracts

import (
	"testing"

	"github.com/holiman/uint256"
)

func feeParts(p Params) (burned, treasury *uint256.Int) {
	burned = bps(p.MinTxFee, p.FeeBurnBps)
	return burned, new(uint256.Int).Sub(p.MinTxFee, burned)
}

func TestTransferAndBurn(t *testing.T) {
	cases := []struct {
		name    string
		msg     func() Msg
		code    Code
		fromDec *uint256.Int // what the sender loses beyond the fee
		toInc   *uint256.Int // what account 2 gains
		burnInc *uint256.Int // burned beyond the fee's share
	}{
		{"transfer", func() Msg { return &Transfer{To: testAddr(2), Amount: CIRO(10)} }, CodeOK, CIRO(10), CIRO(10), zero()},
		{"transfer one unit", func() Msg { return &Transfer{To: testAddr(2), Amount: u(1)} }, CodeOK, u(1), u(1), zero()},
		{"transfer all but the fee", func() Msg {
			return &Transfer{To: testAddr(2), Amount: new(uint256.Int).Sub(CIRO(1000), u(1000))}
		}, CodeOK, new(uint256.Int).Sub(CIRO(1000), u(1000)), new(uint256.Int).Sub(CIRO(1000), u(1000)), zero()},
		{"transfer one too many", func() Msg {
			return &Transfer{To: testAddr(2), Amount: new(uint256.Int).Sub(CIRO(1000), u(999))}
		}, CodeInsufficientFunds, zero(), zero(), zero()},
		{"transfer to a new account", func() Msg { return &Transfer{To: testAddr(50), Amount: u(7)} }, CodeOK, u(7), zero(), zero()},
		{"burn", func() Msg { return &Burn{Amount: CIRO(3)} }, CodeOK, CIRO(3), zero(), CIRO(3)},
		{"burn too much", func() Msg { return &Burn{Amount: CIRO(1001)} }, CodeInsufficientFunds, zero(), zero(), zero()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := basicEnv(t)
			from0, to0, burned0 := e.balance(1), e.balance(2), clone(e.supply().Burned)
			tr0, _ := GetAccount(e.kv, TreasuryAddress)
			err := e.deliver(e.tx(1, c.msg()))
			wantCode(t, err, c.code)
			fb, ft := feeParts(e.p)
			wantFrom := new(uint256.Int).Sub(from0, e.p.MinTxFee)
			wantFrom.Sub(wantFrom, c.fromDec)
			if got := e.balance(1); !got.Eq(wantFrom) {
				t.Errorf("sender balance %s, want %s", got, wantFrom)
			}
			if got := e.balance(2); !got.Eq(new(uint256.Int).Add(to0, c.toInc)) {
				t.Errorf("account 2 balance %s, want %s", got, new(uint256.Int).Add(to0, c.toInc))
			}
			wantBurned := new(uint256.Int).Add(burned0, fb)
			wantBurned.Add(wantBurned, c.burnInc)
			if got := e.supply().Burned; !got.Eq(wantBurned) {
				t.Errorf("burned %s, want %s", got, wantBurned)
			}
			tr, _ := GetAccount(e.kv, TreasuryAddress)
			if got := new(uint256.Int).Sub(tr.Balance, tr0.Balance); !got.Eq(ft) {
				t.Errorf("treasury gained %s, want %s", got, ft)
			}
			if e.account(1).Nonce != 1 {
				t.Errorf("nonce %d, want 1", e.account(1).Nonce)
			}
			e.checkSupply()
		})
	}
	t.Run("new account credited", func(t *testing.T) {
		e := basicEnv(t)
		e.send(1, &Transfer{To: testAddr(50), Amount: u(7)})
		if got := e.balance(50); !got.Eq(u(7)) {
			t.Fatalf("new account has %s", got)
		}
	})
	t.Run("self transfer", func(t *testing.T) {
		e := basicEnv(t)
		before := e.balance(1)
		e.send(1, &Transfer{To: testAddr(1), Amount: CIRO(999)})
		if got := e.balance(1); !got.Eq(new(uint256.Int).Sub(before, e.p.MinTxFee)) {
			t.Fatalf("self transfer changed the balance by more than the fee: %s", got)
		}
	})
}

func TestStake(t *testing.T) {
	t.Run("new provider", func(t *testing.T) {
		e := basicEnv(t)
		e.send(1, &Stake{Amount: CIRO(60), Roles: RoleProvider, Moniker: "p1"})
		st := e.staker(testAddr(1))
		if st == nil || !st.Tokens.Eq(CIRO(60)) || !st.Shares.Eq(CIRO(60)) || st.Moniker != "p1" ||
			st.Roles != RoleProvider || st.Reputation != e.p.InitialReputation || st.ConsAddress() != nil {
			t.Fatalf("staker %+v", st)
		}
		d, _ := GetDelegation(e.kv, testAddr(1), testAddr(1))
		if !d.Shares.Eq(CIRO(60)) || !d.Amount.Eq(CIRO(60)) {
			t.Fatalf("self delegation %+v", d)
		}
		if got := e.balance(1); !got.Eq(new(uint256.Int).Sub(CIRO(940), e.p.MinTxFee)) {
			t.Fatalf("balance %s", got)
		}
		// A second stake adds to the pool, keeps the moniker when none is given, adds a role.
		e.send(1, &Stake{Amount: CIRO(40), Roles: RoleValidator, ConsPubKey: testConsKey(1)})
		st = e.staker(testAddr(1))
		if !st.Tokens.Eq(CIRO(100)) || st.Moniker != "p1" || st.Roles != RoleValidator|RoleProvider {
			t.Fatalf("after second stake %+v", st)
		}
		if up := e.endBlock(); len(up) != 1 || up[0].Power != 100 {
			t.Fatalf("updates %s, want the new validator at 100", updatesString(up))
		}
		e.checkSupply()
	})
	t.Run("validator joins the set", func(t *testing.T) {
		e := basicEnv(t)
		e.send(1, &Stake{Amount: CIRO(250), Roles: RoleValidator, ConsPubKey: testConsKey(1)})
		up := e.endBlock()
		if p, ok := findUpdate(up, testConsKey(1)); !ok || p != 250 || len(up) != 1 {
			t.Fatalf("updates %s, want only the joiner at 250", updatesString(up))
		}
		if e.valset()[hexStr(consAddrOf(testConsKey(1)))] != 250 {
			t.Fatal("the stored set lacks the joiner")
		}
		if up := e.endBlock(); len(up) != 0 {
			t.Fatalf("an unchanged set sends updates: %s", updatesString(up))
		}
	})
	t.Run("duplicate consensus key", func(t *testing.T) {
		e := basicEnv(t)
		bal := e.balance(1)
		err := e.deliver(e.tx(1, &Stake{Amount: CIRO(200), Roles: RoleValidator, ConsPubKey: testConsKey(10)}))
		wantCode(t, err, CodeInvalidArgument)
		if e.staker(testAddr(1)) != nil {
			t.Fatal("a staker record was left behind")
		}
		if got := e.balance(1); !got.Eq(new(uint256.Int).Sub(bal, e.p.MinTxFee)) {
			t.Fatalf("balance %s: only the fee should be gone", got)
		}
		if len(e.endBlock()) != 0 {
			t.Fatal("the set changed")
		}
		// Key rotation is refused too.
		wantCode(t, e.deliver(e.tx(10, &Stake{Amount: u(1), Roles: RoleValidator, ConsPubKey: testConsKey(99)})), CodeInvalidArgument)
		e.checkSupply()
	})
	t.Run("failed stake leaves nothing behind", func(t *testing.T) {
		e := basicEnv(t)
		// stake writes the staker record and the key index before the debit fails.
		err := e.deliver(e.tx(1, &Stake{Amount: CIRO(2000), Roles: RoleValidator, ConsPubKey: testConsKey(1)}))
		wantCode(t, err, CodeInsufficientFunds)
		// The state must equal that of a chain where 1 paid a fee for a message that wrote
		// nothing at all.
		ref := basicEnv(t)
		wantCode(t, ref.deliver(ref.tx(1, &Undelegate{Staker: testAddr(10), Amount: u(1)})), CodeInsufficientFunds)
		if got, want := rawDump(e.kv), rawDump(ref.kv); got != want {
			t.Fatalf("the failed stake left writes behind:\n%s\nwant\n%s", got, want)
		}
		// The consensus key is still free.
		e.send(2, &Stake{Amount: CIRO(200), Roles: RoleValidator, ConsPubKey: testConsKey(1)})
	})
	t.Run("tombstoned cannot stake", func(t *testing.T) {
		e := basicEnv(t)
		st := e.staker(testAddr(10))
		st.Tombstoned = true
		_ = state{kv: e.kv}.setStaker(st)
		wantCode(t, e.deliver(e.tx(10, &Stake{Amount: u(1), Roles: RoleProvider})), CodeTombstoned)
		wantCode(t, e.deliver(e.tx(1, &Delegate{Staker: testAddr(10), Amount: u(1)})), CodeTombstoned)
	})
	t.Run("delegate to nobody", func(t *testing.T) {
		e := basicEnv(t)
		wantCode(t, e.deliver(e.tx(1, &Delegate{Staker: testAddr(40), Amount: u(1)})), CodeNotFound)
		wantCode(t, e.deliver(e.tx(1, &Unstake{Amount: u(1)})), CodeNotFound)
	})
}

// setPool forces a staker's pool to tokens/shares, as a slash (or future rewards) would, and
// keeps the supply invariant by moving the difference to or from the treasury.
// rewardPool mints amount into a's pool, as an epoch reward does.
func rewardPool(t *testing.T, e *testEnv, a Address, amount *uint256.Int) {
	t.Helper()
	x, err := e.m.newExec(e.kv, e.block())
	if err != nil {
		t.Fatal(err)
	}
	st := e.staker(a)
	st.Tokens.Add(st.Tokens, amount)
	if err := x.recordMint(amount); err != nil {
		t.Fatal(err)
	}
	if err := x.st.setStaker(st); err != nil {
		t.Fatal(err)
	}
}

func setPool(t *testing.T, e *testEnv, a Address, tokens *uint256.Int) {
	t.Helper()
	x, err := e.m.newExec(e.kv, e.block())
	if err != nil {
		t.Fatal(err)
	}
	st := e.staker(a)
	if tokens.Gt(st.Tokens) {
		t.Fatal("setPool only lowers")
	}
	cut := new(uint256.Int).Sub(st.Tokens, tokens)
	st.Tokens = clone(tokens)
	if err := x.splitBurnTreasury(cut, x.params.SlashBurnBps); err != nil { // as a slash does
		t.Fatal(err)
	}
	if err := x.st.setStaker(st); err != nil {
		t.Fatal(err)
	}
}

func lastUnbonding(t *testing.T, e *testEnv, who Address) *Unbonding {
	t.Helper()
	l, err := ListUnbondings(e.kv, who)
	if err != nil || len(l) == 0 {
		t.Fatalf("no unbonding for %s: %v", who, err)
	}
	return l[len(l)-1]
}

func TestDelegationShareMath(t *testing.T) {
	// Pool: provider 5 stakes 10 units, then is slashed to 7, so a share is worth 0.7.
	setup := func(t *testing.T) *testEnv {
		e := basicEnv(t)
		e.send(1, &Stake{Amount: u(10), Roles: RoleProvider})
		setPool(t, e, testAddr(1), u(7))
		return e
	}
	t.Run("delegate mints floor(a*S/T)", func(t *testing.T) {
		e := setup(t)
		e.send(2, &Delegate{Staker: testAddr(1), Amount: u(5)}) // 5*10/7 = 7.14 → 7
		d, _ := GetDelegation(e.kv, testAddr(1), testAddr(2))
		if !d.Shares.Eq(u(7)) || !d.Amount.Eq(u(4)) { // 7 shares × 12/17 = 4.94 → 4
			t.Fatalf("delegation %+v", d)
		}
		st := e.staker(testAddr(1))
		if !st.Tokens.Eq(u(12)) || !st.Shares.Eq(u(17)) {
			t.Fatalf("pool %s/%s", st.Tokens, st.Shares)
		}
		e.checkSupply()
	})
	t.Run("undelegating everything returns exactly the stake", func(t *testing.T) {
		e := setup(t)
		e.send(2, &Delegate{Staker: testAddr(1), Amount: u(5)})
		d, _ := GetDelegation(e.kv, testAddr(1), testAddr(2))
		e.send(2, &Undelegate{Staker: testAddr(1), Amount: d.Amount})
		if ub := lastUnbonding(t, e, testAddr(2)); !ub.Amount.Eq(d.Amount) {
			t.Fatalf("unbonding %s, want %s", ub.Amount, d.Amount)
		}
		if d2, _ := GetDelegation(e.kv, testAddr(1), testAddr(2)); !d2.Shares.IsZero() {
			t.Fatalf("shares left: %s", d2.Shares)
		}
		// The last holder takes every remaining token, rounding dust included.
		st := e.staker(testAddr(1))
		own, _ := GetDelegation(e.kv, testAddr(1), testAddr(1))
		if !own.Shares.Eq(st.Shares) {
			t.Fatal("provider is not the last holder")
		}
		e.send(1, &Unstake{Amount: own.Amount})
		ub := lastUnbonding(t, e, testAddr(1))
		if !ub.Amount.Eq(st.Tokens) {
			t.Fatalf("last out got %s of %s tokens", ub.Amount, st.Tokens)
		}
		st = e.staker(testAddr(1))
		if !st.Tokens.IsZero() || !st.Shares.IsZero() {
			t.Fatalf("pool not empty: %s/%s", st.Tokens, st.Shares)
		}
		e.checkSupply()
	})
	t.Run("partial undelegate burns ceil shares", func(t *testing.T) {
		e := setup(t)
		e.send(2, &Delegate{Staker: testAddr(1), Amount: u(7)}) // 7*10/7 = 10 shares; pool 14/20
		e.send(2, &Undelegate{Staker: testAddr(1), Amount: u(3)})
		// ceil(3*20/14) = ceil(4.29) = 5 shares burned
		d, _ := GetDelegation(e.kv, testAddr(1), testAddr(2))
		st := e.staker(testAddr(1))
		if !d.Shares.Eq(u(5)) || !st.Shares.Eq(u(15)) || !st.Tokens.Eq(u(11)) {
			t.Fatalf("after partial: held %s, pool %s/%s", d.Shares, st.Tokens, st.Shares)
		}
		if ub := lastUnbonding(t, e, testAddr(2)); !ub.Amount.Eq(u(3)) {
			t.Fatalf("paid %s, want exactly the 3 asked", ub.Amount)
		}
		// More than the shares are worth is refused.
		wantCode(t, e.deliver(e.tx(2, &Undelegate{Staker: testAddr(1), Amount: new(uint256.Int).AddUint64(d.Amount, 1)})), CodeInsufficientFunds)
		e.checkSupply()
	})
	t.Run("pool slashed to zero takes no delegation", func(t *testing.T) {
		e := setup(t)
		setPool(t, e, testAddr(1), zero())
		wantCode(t, e.deliver(e.tx(2, &Delegate{Staker: testAddr(1), Amount: u(5)})), CodeInvalidArgument)
		wantCode(t, e.deliver(e.tx(1, &Unstake{Amount: u(1)})), CodeInsufficientFunds)
		e.checkSupply()
	})
}

// A random walk on one pool with slashes and rewards: the share price never falls except by a
// slash, shares always sum to the pool's, no holder can take out more than its shares are
// worth, and the pool never owes more than it holds.
func TestShareMathRandomWalk(t *testing.T) {
	e := basicEnv(t)
	e.send(0, &Stake{Amount: u(1000), Roles: RoleProvider})
	pool := testAddr(0)
	rng := newRand(7)
	holders := []int{0, 1, 2, 3, 4}
	for step := 0; step < 1500; step++ {
		if step%25 == 0 {
			e.beginBlock(100, nil, nil) // pays matured unbondings out, keeping the store small
		}
		st := e.staker(pool)
		h := holders[rng.Intn(len(holders))]
		d, _ := GetDelegation(e.kv, pool, testAddr(h))
		var amt *uint256.Int
		kind := rng.Intn(10)
		switch {
		case kind < 4:
			amt = u(uint64(1 + rng.Intn(5000)))
			err := e.deliver(e.tx(h, &Delegate{Staker: pool, Amount: amt}))
			if err != nil && CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("delegate: %v", err)
			}
		case kind < 9:
			if d.Amount.IsZero() {
				continue
			}
			switch rng.Intn(3) {
			case 0:
				amt = clone(d.Amount)
			case 1:
				amt = u(1)
			default:
				amt = u(1 + uint64(rng.Int63n(int64(d.Amount.Uint64()))))
			}
			if err := e.deliver(e.tx(h, &Undelegate{Staker: pool, Amount: amt})); err != nil {
				t.Fatalf("undelegate %s of %s: %v", amt, d.Amount, err)
			}
			ub := lastUnbonding(t, e, testAddr(h))
			if ub.Amount.Gt(d.Amount) && !d.Shares.Eq(st.Shares) {
				t.Fatalf("paid %s for shares worth %s", ub.Amount, d.Amount)
			}
			after := e.staker(pool)
			// price T/S must not fall: T'·S ≥ T·S' (when shares remain)
			if !after.Shares.IsZero() {
				l := new(uint256.Int).Mul(after.Tokens, st.Shares)
				r := new(uint256.Int).Mul(st.Tokens, after.Shares)
				if l.Lt(r) {
					t.Fatalf("share price fell from %s/%s to %s/%s", st.Tokens, st.Shares, after.Tokens, after.Shares)
				}
			}
		case rng.Intn(2) == 0:
			if st.Tokens.IsZero() {
				continue
			}
			setPool(t, e, pool, new(uint256.Int).Sub(st.Tokens, u(uint64(rng.Int63n(int64(st.Tokens.Uint64()/10+1))))))
		default: // a reward: the share price rises above one unit
			if st.Shares.IsZero() {
				continue
			}
			rewardPool(t, e, pool, u(uint64(rng.Int63n(int64(st.Tokens.Uint64()+10)))))
		}
		st = e.staker(pool)
		sumShares, sumValue := zero(), zero()
		for _, hh := range holders {
			d, _ := GetDelegation(e.kv, pool, testAddr(hh))
			sumShares.Add(sumShares, d.Shares)
			sumValue.Add(sumValue, d.Amount)
		}
		if !sumShares.Eq(st.Shares) {
			t.Fatalf("step %d: delegations hold %s shares, pool says %s", step, sumShares, st.Shares)
		}
		if sumValue.Gt(st.Tokens) {
			t.Fatalf("step %d: holders are owed %s, pool has %s", step, sumValue, st.Tokens)
		}
		if st.Shares.IsZero() && !st.Tokens.IsZero() {
			t.Fatalf("step %d: %s tokens with no shares", step, st.Tokens)
		}
	}
	e.checkSupply()
}

func TestTierFor(t *testing.T) {
	oneMicro := uint64(1_000_000)
	cases := []struct {
		stake *uint256.Int
		price uint64
		want  Tier
	}{
		{zero(), oneMicro, TierNone},
		{new(uint256.Int).Sub(CIRO(100), u(1)), oneMicro, TierNone},
		{CIRO(100), oneMicro, TierBasic},
		{CIRO(499), oneMicro, TierBasic},
		{CIRO(500), oneMicro, TierPremium},
		{CIRO(2500), oneMicro, TierEnterprise},
		{CIRO(10_000), oneMicro, TierInfrastructure},
		{CIRO(50_000), oneMicro, TierFleet},
		{CIRO(100_000), oneMicro, TierDatacenter},
		{CIRO(250_000), oneMicro, TierHyperscale},
		{CIRO(499_999), oneMicro, TierHyperscale},
		{CIRO(500_000), oneMicro, TierInstitutional},
		{CIRO(50), 2 * oneMicro, TierBasic},
		{new(uint256.Int).Sub(CIRO(50), u(1)), 2 * oneMicro, TierNone},
		{CIRO(1_000_000), oneMicro / 2, TierInstitutional},
		{CIRO(999_999), oneMicro / 2, TierHyperscale},
		{maxU256, oneMicro, TierInstitutional},
		{CIRO(1), 100 * oneMicro, TierBasic},
	}
	for _, c := range cases {
		if got := TierFor(c.stake, c.price); got != c.want {
			t.Errorf("TierFor(%s, %d) = %s, want %s", FormatCIRO(c.stake), c.price, got, c.want)
		}
	}
}

func TestUnbondingMaturesAtTierCooldown(t *testing.T) {
	// testParams price: 2 USD per CIRO.
	for _, stake := range []*uint256.Int{CIRO(10), CIRO(50), CIRO(250), CIRO(1250), CIRO(5000), CIRO(25_000), CIRO(50_000), CIRO(125_000), CIRO(250_000)} {
		p := testParams()
		tier := TierFor(stake, p.CIROPriceMicroUSD)
		t.Run(tier.String(), func(t *testing.T) {
			e := newTestEnv(t, p, []GenesisAccount{{Address: testAddr(1), Balance: new(uint256.Int).Add(stake, CIRO(1))}},
				[]GenesisStaker{genesisValidator(10, CIRO(1000))})
			e.send(1, &Stake{Amount: stake, Roles: RoleProvider})
			e.beginBlock(5, nil, nil)
			start := e.time
			e.send(1, &Unstake{Amount: u(1)})
			ub := lastUnbonding(t, e, testAddr(1))
			cool := p.UnbondingSeconds[tier]
			if ub.CompletesAt != start+cool {
				t.Fatalf("completes at %d, want %d + %d (%s)", ub.CompletesAt, start, cool, tier)
			}
			bal := e.balance(1)
			e.beginBlock(cool-1, nil, nil)
			if !e.balance(1).Eq(bal) {
				t.Fatal("paid out before CompletesAt")
			}
			ev := e.beginBlock(1, nil, nil)
			if got := e.balance(1); !got.Eq(new(uint256.Int).AddUint64(bal, 1)) || !hasEvent(ev, "unbond_complete") {
				t.Fatalf("at CompletesAt: balance %s (was %s)", got, bal)
			}
			if l, _ := ListUnbondings(e.kv, testAddr(1)); len(l) != 0 {
				t.Fatal("the entry was not removed")
			}
			e.checkSupply()
		})
	}
}
