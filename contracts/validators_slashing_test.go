package contracts

import (
	"bytes"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

func consHex(i int) string { return hexStr(consAddrOf(testConsKey(i))) }

func TestValidatorSetUpdates(t *testing.T) {
	t.Run("genesis set", func(t *testing.T) {
		e := basicEnv(t)
		if vs := e.valset(); len(vs) != 2 || vs[consHex(10)] != 1000 || vs[consHex(11)] != 1000 {
			t.Fatalf("genesis set %v", vs)
		}
	})
	t.Run("power change", func(t *testing.T) {
		e := basicEnv(t)
		e.send(1, &Delegate{Staker: testAddr(10), Amount: CIRO(500)})
		up := e.endBlock()
		if p, ok := findUpdate(up, testConsKey(10)); !ok || p != 1500 || len(up) != 1 {
			t.Fatalf("updates %s", updatesString(up))
		}
	})
	t.Run("leaving gives power 0", func(t *testing.T) {
		e := basicEnv(t)
		e.send(10, &Unstake{Amount: CIRO(1000)})
		up := e.endBlock()
		if p, ok := findUpdate(up, testConsKey(10)); !ok || p != 0 || len(up) != 1 {
			t.Fatalf("updates %s, want cons 10 at 0", updatesString(up))
		}
		if _, in := e.valset()[consHex(10)]; in {
			t.Fatal("the leaver is still in the stored set")
		}
	})
	t.Run("below min stake leaves", func(t *testing.T) {
		e := basicEnv(t)
		e.send(10, &Unstake{Amount: new(uint256.Int).AddUint64(CIRO(900), 1)})
		if p, ok := findUpdate(e.endBlock(), testConsKey(10)); !ok || p != 0 {
			t.Fatal("a validator below MinValidatorStake kept its power")
		}
		e.send(10, &Stake{Amount: u(1), Roles: RoleValidator, ConsPubKey: testConsKey(10)})
		if p, ok := findUpdate(e.endBlock(), testConsKey(10)); !ok || p != 100 {
			t.Fatal("back at exactly MinValidatorStake, the validator did not return")
		}
	})
	t.Run("top-N cut with tie-break", func(t *testing.T) {
		p := testParams()
		p.MaxValidators = 2
		var stakers []GenesisStaker
		for i := 20; i < 25; i++ {
			stakers = append(stakers, genesisValidator(i, CIRO(500)))
		}
		kv := NewMemStore()
		m := NewMachine(kv)
		accs := []GenesisAccount{{Address: testAddr(1), Balance: CIRO(1000)}}
		up, err := m.InitGenesis(testChain, &Genesis{Params: p, Accounts: accs, Stakers: stakers})
		if err != nil {
			t.Fatal(err)
		}
		// Equal stakes: the two lowest consensus addresses win, updates sorted by address.
		var addrs []string
		for i := 20; i < 25; i++ {
			addrs = append(addrs, consHex(i))
		}
		sorted := append([]string(nil), addrs...)
		sortStrings(sorted)
		if len(up) != 2 || hexStr(consAddrOf(up[0].PubKey)) != sorted[0] || hexStr(consAddrOf(up[1].PubKey)) != sorted[1] {
			t.Fatalf("genesis updates %s, want %v", updatesString(up), sorted[:2])
		}
		e := &testEnv{t: t, kv: kv, m: m, p: p, height: 1, time: 1000}
		// The highest-address candidate gets one unit more than the rest and takes the place of
		// the second.
		last := -1
		for i := 20; i < 25; i++ {
			if consHex(i) == sorted[4] {
				last = i
			}
		}
		e.send(1, &Delegate{Staker: testAddr(last), Amount: u(1)})
		up = e.endBlock()
		if len(up) != 2 {
			t.Fatalf("updates %s", updatesString(up))
		}
		if p, ok := findUpdate(up, testConsKey(last)); !ok || p != 500 {
			t.Fatalf("the newcomer is missing: %s", updatesString(up))
		}
		for _, x := range up {
			if hexStr(consAddrOf(x.PubKey)) == sorted[1] && x.Power != 0 {
				t.Fatalf("the cut validator kept power: %s", updatesString(up))
			}
		}
		if !bytes.Equal(consAddrOf(up[0].PubKey), mustHex(t, minStr(sorted[1], sorted[4]))) {
			t.Fatal("updates are not sorted by consensus address")
		}
		if vs := e.valset(); len(vs) != 2 || vs[sorted[0]] != 500 || vs[sorted[4]] != 500 {
			t.Fatalf("stored set %v", vs)
		}
	})
	t.Run("MaxValidatorPower cap", func(t *testing.T) {
		p := testParams()
		p.MaxValidatorPower = 1500
		e := newTestEnv(t, p, []GenesisAccount{{Address: testAddr(1), Balance: CIRO(5000)}}, []GenesisStaker{genesisValidator(10, CIRO(1000))})
		e.send(1, &Stake{Amount: CIRO(2000), Roles: RoleValidator, ConsPubKey: testConsKey(1)})
		if p, ok := findUpdate(e.endBlock(), testConsKey(1)); !ok || p != 1500 {
			t.Fatalf("power %d, want the cap 1500", p)
		}
		e.send(1, &Stake{Amount: CIRO(2000), Roles: RoleValidator, ConsPubKey: testConsKey(1)})
		if up := e.endBlock(); len(up) != 0 {
			t.Fatalf("more stake above the cap changed power: %s", updatesString(up))
		}
	})
	t.Run("empty eligible set keeps the current set", func(t *testing.T) {
		e := newTestEnv(t, testParams(), []GenesisAccount{{Address: testAddr(10), Balance: CIRO(1)}}, []GenesisStaker{genesisValidator(10, CIRO(1000))})
		before := e.valset()
		e.send(10, &Unstake{Amount: CIRO(1000)})
		up, ev, err := e.m.EndBlock(e.block())
		if err != nil || len(up) != 0 || !hasEvent(ev, "validator_set_kept") {
			t.Fatalf("updates %s events %v err %v", updatesString(up), ev, err)
		}
		if after := e.valset(); len(after) != 1 || after[consHex(10)] != before[consHex(10)] {
			t.Fatalf("set changed: %v → %v", before, after)
		}
	})
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func minStr(a, b string) string {
	if a < b {
		return a
	}
	return b
}

func mustHex(t *testing.T, s string) []byte {
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a[:]
}

func TestDoubleSign(t *testing.T) {
	e := basicEnv(t)
	e.send(1, &Delegate{Staker: testAddr(10), Amount: CIRO(500)}) // pool 1500
	e.endBlock()
	sup0 := e.supply()
	burned0 := clone(sup0.Burned)
	tr0, _ := GetAccount(e.kv, TreasuryAddress)
	ev := Misbehavior{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: e.height - 1}
	events := e.beginBlock(5, nil, []Misbehavior{ev})
	st := e.staker(testAddr(10))
	if !st.Tokens.Eq(CIRO(1050)) {
		t.Fatalf("tokens %s, want 1050 CIRO (30%% of 1500 slashed)", FormatCIRO(st.Tokens))
	}
	if !st.Jailed || st.JailedUntil != e.time+90*day || st.Reputation != 450 || st.Slashes != 1 {
		t.Fatalf("staker after double sign %+v", st)
	}
	if !hasEvent(events, "slash") || !hasEvent(events, "jail") {
		t.Fatalf("events %v", events)
	}
	burned := new(uint256.Int).Sub(e.supply().Burned, burned0)
	tr, _ := GetAccount(e.kv, TreasuryAddress)
	if !burned.Eq(CIRO(225)) || !new(uint256.Int).Sub(tr.Balance, tr0.Balance).Eq(CIRO(225)) {
		t.Fatalf("burned %s, treasury +%s; want 225 CIRO each", burned, new(uint256.Int).Sub(tr.Balance, tr0.Balance))
	}
	// The delegator shares the slash.
	if d, _ := GetDelegation(e.kv, testAddr(10), testAddr(1)); !d.Amount.Eq(CIRO(350)) {
		t.Fatalf("delegator's stake %s, want 350 CIRO", FormatCIRO(d.Amount))
	}
	up := e.endBlock()
	if p, ok := findUpdate(up, testConsKey(10)); !ok || p != 0 || len(up) != 1 {
		t.Fatalf("EndBlock updates %s, want cons 10 removed", updatesString(up))
	}
	e.checkSupply()

	// The same evidence again, also as another kind, changes nothing.
	snap := rawDump(e.kv)
	again := ev
	again.Kind = LightClientAttack
	e.beginBlock(5, nil, []Misbehavior{ev, again})
	if after := rawDump(e.kv); after != snap {
		t.Fatal("the same evidence slashed twice")
	}
	// Evidence against an unknown key is ignored.
	e.beginBlock(5, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(77)), Height: 3}})
	if st2 := e.staker(testAddr(10)); !st2.Tokens.Eq(st.Tokens) {
		t.Fatal("unrelated evidence slashed")
	}
	e.checkSupply()
}

func votes(signed map[int]bool) []Vote {
	var out []Vote
	for _, i := range []int{10, 11} {
		out = append(out, Vote{ConsAddress: consAddrOf(testConsKey(i)), Power: 1000, Signed: signed[i]})
	}
	return out
}

func TestDowntime(t *testing.T) {
	// testParams: window 10, min signed 50% → at most 5 missed.
	if got := maxMissed(testParams()); got != 5 {
		t.Fatalf("maxMissed = %d, want 5", got)
	}
	t.Run("six missed in a full window", func(t *testing.T) {
		e := basicEnv(t)
		for blk := 0; blk < 10; blk++ {
			miss := blk < 6
			e.beginBlock(1, votes(map[int]bool{10: !miss, 11: true}), nil)
			st := e.staker(testAddr(10))
			if blk < 9 && st.Jailed {
				t.Fatalf("jailed after %d votes, before the window was full", blk+1)
			}
		}
		st := e.staker(testAddr(10))
		if !st.Jailed || !st.Tokens.Eq(CIRO(950)) || st.Reputation != 490 || st.JailedUntil != e.time+30*day {
			t.Fatalf("after downtime %+v", st)
		}
		if st11 := e.staker(testAddr(11)); st11.Jailed || !st11.Tokens.Eq(CIRO(1000)) {
			t.Fatal("the signing validator was punished")
		}
		if p, ok := findUpdate(e.endBlock(), testConsKey(10)); !ok || p != 0 {
			t.Fatal("the jailed validator was not removed")
		}
		// Votes while jailed (until removal takes effect) are not counted again.
		for i := 0; i < 20; i++ {
			e.beginBlock(1, votes(map[int]bool{11: true}), nil)
		}
		if st := e.staker(testAddr(10)); !st.Tokens.Eq(CIRO(950)) || st.Slashes != 1 {
			t.Fatalf("slashed again while jailed: %+v", st)
		}
		e.checkSupply()
	})
	t.Run("exactly the allowance is fine, the ring slides", func(t *testing.T) {
		e := basicEnv(t)
		// Blocks 0-4 missed, 5-9 signed: 5 missed, allowed.
		for blk := 0; blk < 10; blk++ {
			e.beginBlock(1, votes(map[int]bool{10: blk >= 5, 11: true}), nil)
		}
		// Blocks 10-14 overwrite missed slots with misses: still 5.
		for blk := 10; blk < 15; blk++ {
			e.beginBlock(1, votes(map[int]bool{11: true}), nil)
		}
		if e.staker(testAddr(10)).Jailed {
			t.Fatal("jailed at exactly the allowance")
		}
		// Block 15 overwrites a signed slot with a miss: 6 in the window.
		e.beginBlock(1, votes(map[int]bool{11: true}), nil)
		if st := e.staker(testAddr(10)); !st.Jailed || !st.Tokens.Eq(CIRO(950)) {
			t.Fatalf("not jailed at 6 missed in the window: %+v", st)
		}
	})
	t.Run("signing clears old misses", func(t *testing.T) {
		e := basicEnv(t)
		for blk := 0; blk < 60; blk++ {
			e.beginBlock(1, votes(map[int]bool{10: blk%2 == 0, 11: true}), nil) // 50% missed, forever
		}
		if e.staker(testAddr(10)).Jailed {
			t.Fatal("jailed while signing half of every window")
		}
	})
}

func TestUnjail(t *testing.T) {
	// jailed: validator 10 misses a whole downtime window (testParams: 10 blocks, at most 5
	// missed), so it is slashed 5% and jailed for DowntimeJailSeconds.
	jailed := func(t *testing.T) *testEnv {
		e := basicEnv(t)
		for i := 0; i < 10; i++ {
			e.beginBlock(1, votes(map[int]bool{11: true}), nil)
			e.endBlock()
		}
		if !e.staker(testAddr(10)).Jailed {
			t.Fatal("not jailed after missing a whole window")
		}
		return e
	}
	t.Run("too early", func(t *testing.T) {
		e := jailed(t)
		until := e.staker(testAddr(10)).JailedUntil
		e.beginBlock(e.p.DowntimeJailSeconds-1, nil, nil)
		err := e.deliver(e.tx(10, &Unjail{}))
		wantCode(t, err, CodeTooEarly)
		if !strings.Contains(err.Error(), strconv.FormatUint(until, 10)) {
			t.Fatalf("message %q does not say until when", err)
		}
		if !e.staker(testAddr(10)).Jailed {
			t.Fatal("unjailed early")
		}
	})
	t.Run("on time, back in the set", func(t *testing.T) {
		e := jailed(t)
		e.beginBlock(e.p.DowntimeJailSeconds, nil, nil)
		e.send(10, &Unjail{})
		if e.staker(testAddr(10)).Jailed {
			t.Fatal("still jailed")
		}
		if p, ok := findUpdate(e.endBlock(), testConsKey(10)); !ok || p != 950 {
			t.Fatalf("back with power %d, want 950", p)
		}
		wantCode(t, e.deliver(e.tx(10, &Unjail{})), CodeNotJailed)
	})
	t.Run("tombstoned", func(t *testing.T) {
		e := jailed(t)
		st := e.staker(testAddr(10))
		st.Tombstoned = true
		if err := (state{kv: e.kv}).setStaker(st); err != nil {
			t.Fatal(err)
		}
		e.beginBlock(365*day, nil, nil)
		wantCode(t, e.deliver(e.tx(10, &Unjail{})), CodeTombstoned)
		// Tombstoned stakers are not slashed again either.
		snap := e.staker(testAddr(10)).Tokens
		e.beginBlock(1, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: 9}})
		if !e.staker(testAddr(10)).Tokens.Eq(snap) {
			t.Fatal("a tombstoned staker was slashed")
		}
	})
	t.Run("double signing is for good", func(t *testing.T) {
		e := basicEnv(t)
		e.beginBlock(1, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: 1}})
		e.endBlock()
		if st := e.staker(testAddr(10)); !st.Tombstoned || !st.Jailed {
			t.Fatalf("double signer %+v, want tombstoned", st)
		}
		e.beginBlock(10*365*day, nil, nil)
		wantCode(t, e.deliver(e.tx(10, &Unjail{})), CodeTombstoned)
		wantCode(t, e.deliver(e.tx(10, &Stake{Amount: CIRO(1), Roles: RoleProvider})), CodeTombstoned)
		wantCode(t, e.deliver(e.tx(1, &Delegate{Staker: testAddr(10), Amount: CIRO(1)})), CodeTombstoned)
		if _, ok := e.valset()[hexStr(consAddrOf(testConsKey(10)))]; ok {
			t.Fatal("a tombstoned validator is still in the set")
		}
	})
	t.Run("not a staker", func(t *testing.T) {
		e := basicEnv(t)
		wantCode(t, e.deliver(e.tx(1, &Unjail{})), CodeNotFound)
		wantCode(t, e.deliver(e.tx(11, &Unjail{})), CodeNotJailed)
	})
}

// penaltyRef is the graduated penalty of docs/protocol.md, P = S_base × (1 + sev²/(1 − sev)) × history with S_base = 5%,
// exactly, in rationals.
func penaltyRef(stake *uint256.Int, sevBps, histBps uint64) *big.Rat {
	sev := big.NewRat(int64(sevBps), 10_000)
	hist := big.NewRat(int64(histBps), 10_000)
	one := big.NewRat(1, 1)
	sev2 := new(big.Rat).Mul(sev, sev)
	f := new(big.Rat).Add(one, new(big.Rat).Quo(sev2, new(big.Rat).Sub(one, sev)))
	p := new(big.Rat).SetInt(stake.ToBig())
	p.Mul(p, big.NewRat(5, 100))
	p.Mul(p, f)
	return p.Mul(p, hist)
}

func TestGraduatedPenalty(t *testing.T) {
	stake := CIRO(1000)
	cases := []struct {
		sev, hist uint64
		want      *uint256.Int // nil: check against the reference only
		code      Code
	}{
		{0, 10_000, CIRO(50), CodeOK},
		{0, 20_000, CIRO(100), CodeOK},
		{0, 30_000, CIRO(150), CodeOK},
		{5000, 10_000, CIRO(75), CodeOK},
		{9000, 10_000, CIRO(455), CodeOK},
		{9000, 20_000, CIRO(910), CodeOK},
		{9000, 30_000, CIRO(1000), CodeOK}, // 1365 capped at the stake
		{3333, 17_500, nil, CodeOK},
		{1, 10_001, nil, CodeOK},
		{8999, 29_999, nil, CodeOK},
		{9001, 10_000, nil, CodeInvalidArgument},
		{0, 9_999, nil, CodeInvalidArgument},
		{0, 30_001, nil, CodeInvalidArgument},
	}
	for _, c := range cases {
		got, err := GraduatedPenalty(stake, c.sev, c.hist)
		if CodeOf(err) != c.code {
			t.Fatalf("sev %d hist %d: code %s, want %s (%v)", c.sev, c.hist, CodeOf(err), c.code, err)
		}
		if err != nil {
			assertSentence(t, err, strconv.FormatUint(map[bool]uint64{true: c.sev, false: c.hist}[c.sev > 9000], 10))
			continue
		}
		if c.want != nil && !got.Eq(c.want) {
			t.Errorf("sev %d hist %d: %s, want %s", c.sev, c.hist, FormatCIRO(got), FormatCIRO(c.want))
		}
		checkPenalty(t, stake, c.sev, c.hist, got)
	}
	rng := newRand(3)
	for i := 0; i < 5000; i++ {
		var st *uint256.Int
		switch rng.Intn(3) {
		case 0:
			st = u(uint64(rng.Int63n(1_000_000)))
		case 1:
			st = new(uint256.Int).Mul(u(uint64(rng.Int63())), u(uint64(rng.Int63())))
		default:
			st = new(uint256.Int).Rsh(maxU256, uint(rng.Intn(256)))
		}
		sev, hist := uint64(rng.Intn(9001)), uint64(10_000+rng.Intn(20_001))
		got, err := GraduatedPenalty(st, sev, hist)
		if err != nil {
			t.Fatal(err)
		}
		checkPenalty(t, st, sev, hist, got)
	}
}

// checkPenalty compares with the exact rational, capped at the stake: the result is never above
// it, and below it by less than one unit for the outer floor plus what the inner floor (less
// than 1 bps of the factor) loses. It must also equal the documented fixed-point formula.
func checkPenalty(t *testing.T, stake *uint256.Int, sev, hist uint64, got *uint256.Int) {
	t.Helper()
	exact := penaltyRef(stake, sev, hist)
	stakeRat := new(big.Rat).SetInt(stake.ToBig())
	if exact.Cmp(stakeRat) > 0 {
		exact = stakeRat
	}
	gotRat := new(big.Rat).SetInt(got.ToBig())
	if gotRat.Cmp(exact) > 0 {
		t.Fatalf("sev %d hist %d stake %s: %s is above the exact %s", sev, hist, stake, got, exact.FloatString(3))
	}
	slack := new(big.Rat).SetInt(stake.ToBig())
	slack.Mul(slack, big.NewRat(500*int64(hist), 1_000_000_000_000))
	limit := new(big.Rat).Sub(exact, slack)
	limit.Sub(limit, big.NewRat(1, 1))
	if gotRat.Cmp(limit) < 0 {
		t.Fatalf("sev %d hist %d stake %s: %s is too far below the exact %s", sev, hist, stake, got, exact.FloatString(3))
	}
	f := 10_000 + sev*sev/(10_000-sev)
	doc := new(big.Int).Mul(stake.ToBig(), big.NewInt(int64(500*f*hist)))
	doc.Quo(doc, big.NewInt(1_000_000_000_000))
	if doc.Cmp(stake.ToBig()) > 0 {
		doc = stake.ToBig()
	}
	if got.ToBig().Cmp(doc) != 0 {
		t.Fatalf("sev %d hist %d stake %s: %s, documented formula gives %s", sev, hist, stake, got, doc)
	}
}
