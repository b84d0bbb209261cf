package contracts

import (
	"math"
	"math/big"
	"testing"

	"github.com/holiman/uint256"
)

func TestStakeWeightIsWholeCIRO(t *testing.T) {
	for _, c := range []struct {
		tokens *uint256.Int
		want   uint64
	}{
		{zero(), 0},
		{new(uint256.Int).SubUint64(CIRO(1), 1), 0}, // 0.999… CIRO weighs nothing
		{CIRO(1), 1},
		{new(uint256.Int).SubUint64(CIRO(2), 1), 1},
		{CIRO(1000), 1000},
		{HardCap, 1_000_000_000},
	} {
		if w := stakeWeight(c.tokens); !w.Eq(u(c.want)) {
			t.Errorf("stakeWeight(%s) = %s, want %d", c.tokens.Dec(), w.Dec(), c.want)
		}
	}
	// Splitting never adds weight: floor(a) + floor(b) ≤ floor(a + b), in units of 10^18.
	r := newRand(8)
	for i := 0; i < 2000; i++ {
		a, b := u(uint64(r.Int63())), u(uint64(r.Int63()))
		sum := new(uint256.Int).Add(stakeWeight(a), stakeWeight(b))
		if sum.Gt(stakeWeight(new(uint256.Int).Add(a, b))) {
			t.Fatalf("split %s + %s weighs %s, more than whole", a.Dec(), b.Dec(), sum.Dec())
		}
	}
}

// ratReward is the reward formula of docs/protocol.md in exact rationals, with the scale-down when the total passes
// the pool, floored once per staker.
func ratRewards(pool *uint256.Int, weights []uint64, factors []rewardFactors) []*big.Int {
	bp := func(v uint64) *big.Rat { return new(big.Rat).SetFrac64(int64(v), 10_000) }
	one := big.NewRat(1, 1)
	var wsum int64
	for _, w := range weights {
		wsum += int64(w)
	}
	raw := make([]*big.Rat, len(weights))
	total := new(big.Rat)
	for i, w := range weights {
		r := new(big.Rat).SetFrac64(int64(w), wsum)
		r.Mul(r, new(big.Rat).SetInt(pool.ToBig()))
		f := factors[i]
		for _, term := range []uint64{f.Performance, f.Uptime, f.GPU, f.HighUptime} {
			r.Mul(r, new(big.Rat).Add(one, bp(term)))
		}
		raw[i] = r
		total.Add(total, r)
	}
	poolRat := new(big.Rat).SetInt(pool.ToBig())
	out := make([]*big.Int, len(weights))
	for i, r := range raw {
		if total.Cmp(poolRat) > 0 {
			r = new(big.Rat).Mul(r, new(big.Rat).Quo(poolRat, total))
		}
		out[i] = new(big.Int).Quo(r.Num(), r.Denom()) // positive: Quo floors
	}
	return out
}

func TestSplitRewardsAgainstRationals(t *testing.T) {
	none := rewardFactors{}
	full := rewardFactors{Performance: 5000, Uptime: 3000, GPU: 7000, HighUptime: 2500}
	cases := []struct {
		name    string
		pool    *uint256.Int
		weights []uint64
		factors []rewardFactors
		want    []uint64 // nil: only the rational check
	}{
		{"equal thirds floor", u(10), []uint64{1, 1, 1}, []rewardFactors{none, none, none}, []uint64{3, 3, 3}},
		{"one staker takes the pool", u(1_000_003), []uint64{7}, []rewardFactors{none}, []uint64{1_000_003}},
		{"one staker with a bonus takes no more", u(1_000_003), []uint64{7}, []rewardFactors{full}, []uint64{1_000_003}},
		{"bonus doubles the share", u(300), []uint64{1, 1}, []rewardFactors{none, {GPU: 7000, HighUptime: 2500, Uptime: 3000}}, nil},
		{"perf half", u(1000), []uint64{10, 10}, []rewardFactors{{Performance: 5000}, none}, []uint64{600, 400}},
		{"no weight pays nothing", u(1000), []uint64{0, 0}, []rewardFactors{full, none}, []uint64{0, 0}},
		{"mixed", CIRO(8), []uint64{15_848_931, 251, 1, 2_511}, []rewardFactors{none, full, {Uptime: 2999}, {Performance: 3888, GPU: 3000}}, nil},
		{"dust", u(7), []uint64{3, 5, 11}, []rewardFactors{{Uptime: 1}, none, {Performance: 1}}, nil},
	}
	r := newRand(11)
	for i := 0; i < 300; i++ {
		n := 1 + r.Intn(8)
		c := struct {
			name    string
			pool    *uint256.Int
			weights []uint64
			factors []rewardFactors
			want    []uint64
		}{name: "random", pool: u(uint64(r.Int63()))}
		if r.Intn(3) == 0 {
			c.pool, _ = mulDiv(HardCap, u(uint64(r.Intn(1000))), u(1000))
		}
		for j := 0; j < n; j++ {
			c.weights = append(c.weights, uint64(r.Intn(15_848_932)))
			c.factors = append(c.factors, rewardFactors{Performance: uint64(r.Intn(5001)), Uptime: uint64(r.Intn(3001)) * uint64(r.Intn(2)),
				GPU: 1000 * uint64(r.Intn(8)), HighUptime: 2500 * uint64(r.Intn(2))})
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		ws := make([]*uint256.Int, len(c.weights))
		ms := make([]uint64, len(c.weights))
		var wsum uint64
		for i, w := range c.weights {
			ws[i], ms[i] = u(w), c.factors[i].mult()
			wsum += w
		}
		got, err := splitRewards(c.pool, ws, ms)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		paid := zero()
		for _, g := range got {
			paid.Add(paid, g)
		}
		if paid.Gt(c.pool) {
			t.Fatalf("%s: paid %s of a pool of %s", c.name, paid.Dec(), c.pool.Dec())
		}
		// Each floor loses less than a unit, so at most n-1 units stay behind when anyone weighs.
		if wsum > 0 && new(uint256.Int).Sub(c.pool, paid).Uint64() >= uint64(len(got)) {
			t.Fatalf("%s: paid %s of %s: more than rounding dust left", c.name, paid.Dec(), c.pool.Dec())
		}
		if wsum == 0 {
			continue
		}
		want := ratRewards(c.pool, c.weights, c.factors)
		for i := range got {
			if got[i].ToBig().Cmp(want[i]) != 0 {
				t.Fatalf("%s: staker %d gets %s, the rational formula floors to %s", c.name, i, got[i].Dec(), want[i])
			}
			if c.want != nil && got[i].Uint64() != c.want[i] {
				t.Fatalf("%s: staker %d gets %s, want %d", c.name, i, got[i].Dec(), c.want[i])
			}
		}
	}
}

func TestBonusTerms(t *testing.T) {
	for _, c := range []struct{ completed, failed, want uint64 }{
		{0, 0, 0}, {1, 0, 5000}, {0, 5, 0}, {7, 2, 3888}, {2, 1, 3333}, {math.MaxUint64, math.MaxUint64, 2500},
	} {
		if got := successBps(c.completed, c.failed); got != c.want {
			t.Errorf("successBps(%d, %d) = %d, want %d", c.completed, c.failed, got, c.want)
		}
	}
	for _, c := range []struct {
		counter      uint64
		missed       uint32
		window       uint64
		uptime, high uint64
	}{
		{0, 0, 10, 0, 0},
		{10, 0, 10, 3000, 2500},
		{25, 3, 10, 2100, 0},      // counted over the window, not the whole counter
		{3, 1, 10, 2000, 0},       // a young record: over the blocks observed
		{1000, 10, 1000, 2970, 0}, // exactly 99% is not more than 99%
		{1000, 9, 1000, 2973, 2500},
		{10, 10, 10, 0, 0},
	} {
		up, high := uptimeBps(&SigningInfo{Counter: c.counter, Missed: c.missed}, c.window)
		if up != c.uptime || high != c.high {
			t.Errorf("uptimeBps(counter %d, missed %d, window %d) = %d, %d; want %d, %d", c.counter, c.missed, c.window, up, high, c.uptime, c.high)
		}
	}
	if m := (rewardFactors{}).mult(); m != multOne.Uint64() {
		t.Fatalf("no-bonus multiplier %d", m)
	}
}

// rewardEnv is a chain with epochs of 5 blocks and these stakers:
//
//	10: validator, 1000 CIRO, a perfect signing record
//	11: validator, 3000 CIRO, 7 of the last 10 blocks signed
//	12: validator, 500.5 CIRO, no signing record; delegator 0 holds 100 CIRO of it
//	13: provider, 250 CIRO, 4 GPUs, 7 verified jobs paid and 2 faults (the minimum is 7)
//	14: validator, 800 CIRO, jailed
//	15: provider, 0.9 CIRO: weighs nothing
//	16: provider, 40 CIRO, tombstoned
//	17: provider, 64 CIRO, no provider record
func rewardEnv(t *testing.T, inflation *uint256.Int) *testEnv {
	p := testParams()
	p.EpochBlocks = 5
	p.InflationPerEpoch = inflation
	p.BonusMinVerifiedJobs = 7
	half := new(uint256.Int).Div(OneCIRO, u(2))
	accs := []GenesisAccount{{Address: testAddr(0), Balance: CIRO(1000)}}
	stakers := []GenesisStaker{
		genesisValidator(10, CIRO(1000)),
		genesisValidator(11, CIRO(3000)),
		genesisValidator(12, new(uint256.Int).Add(CIRO(500), half)),
		{Address: testAddr(13), Roles: RoleProvider, Stake: CIRO(250)},
		genesisValidator(14, CIRO(800)),
		{Address: testAddr(15), Roles: RoleProvider, Stake: new(uint256.Int).Div(CIRO(9), u(10))},
		{Address: testAddr(16), Roles: RoleProvider, Stake: CIRO(40)},
		{Address: testAddr(17), Roles: RoleProvider, Stake: CIRO(64)},
	}
	e := newTestEnv(t, p, accs, stakers)
	e.send(0, &Delegate{Staker: testAddr(12), Amount: CIRO(100)})
	st := state{kv: e.kv}
	window := int(p.SignedBlocksWindow)
	perfect := &SigningInfo{Counter: 10, Bitmap: make([]byte, (window+7)/8)}
	seven := &SigningInfo{Counter: 25, Missed: 3, Bitmap: make([]byte, (window+7)/8)}
	for a, info := range map[Address]*SigningInfo{testAddr(10): perfect, testAddr(11): seven} {
		if err := e.kv.Set(signingKey(a), info.encode()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.setProvider(&Provider{Address: testAddr(13), GPUCount: 4, Capacity: 1, Earnings: zero(), Completed: 7, Failed: 2}); err != nil {
		t.Fatal(err)
	}
	// 7 verified jobs paid and 2 faults; 17 has no provider record, so its verified record
	// below (past the minimum) earns nothing.
	for a, r := range map[Address]*VerifiedRecord{testAddr(13): {Completed: 7, Failed: 2}, testAddr(17): {Completed: 50}} {
		if err := st.setVerifiedRecord(a, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		i   int
		set func(*Staker)
	}{{14, func(s *Staker) { s.Jailed = true }}, {16, func(s *Staker) { s.Tombstoned = true }}} {
		s := e.staker(testAddr(c.i))
		c.set(s)
		if err := st.setStaker(s); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// runToEpoch ends the current block and runs empty blocks (no votes) until one that closes
// an epoch has ended, then begins the next; it returns the epoch block's EndBlock events.
func runToEpoch(e *testEnv) []Event {
	e.t.Helper()
	for {
		_, evs, err := e.m.EndBlock(e.block())
		if err != nil {
			e.t.Fatal(err)
		}
		closed := uint64(e.height)%e.p.EpochBlocks == 0
		e.beginBlock(1, nil, nil)
		if closed {
			return evs
		}
	}
}

func eventAttr(ev Event, key string) string {
	for _, a := range ev.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

func TestEpochRewardsTable(t *testing.T) {
	pool := new(uint256.Int).AddUint64(CIRO(1000), 7)
	e := rewardEnv(t, pool)
	before := map[int]*uint256.Int{}
	for _, i := range []int{10, 11, 12, 13, 14, 15, 16, 17} {
		before[i] = clone(e.staker(testAddr(i)).Tokens)
	}
	delegBefore, _ := GetDelegation(e.kv, testAddr(12), testAddr(0))
	mintedBefore := clone(e.supply().Minted)
	evs := runToEpoch(e)

	// The independent computation: whole CIRO as the weight, the bonus terms from the records set up above, the formula of docs/protocol.md in rationals.
	paidIdx := []int{10, 11, 12, 13, 17}
	factors := map[int]rewardFactors{
		10: {Uptime: 3000, HighUptime: 2500},
		11: {Uptime: 2100},
		12: {},
		13: {Performance: 3888, GPU: 3000}, // floor(5000 × 7/9); 3 additional GPUs
		17: {},
	}
	var weights []uint64
	var fs []rewardFactors
	for _, i := range paidIdx {
		weights = append(weights, new(big.Int).Quo(before[i].ToBig(), OneCIRO.ToBig()).Uint64())
		fs = append(fs, factors[i])
	}
	want := ratRewards(pool, weights, fs)

	rewards := map[string]string{}
	var epochEv *Event
	for k, ev := range evs {
		switch ev.Type {
		case "reward":
			rewards[eventAttr(ev, "staker")] = eventAttr(ev, "amount")
		case "epoch_rewards":
			epochEv = &evs[k]
		case "inflation_capped":
			t.Fatal("the pool was capped far below the hard cap")
		}
	}
	if epochEv == nil {
		t.Fatalf("no epoch_rewards event at height %d: %v", e.height, evs)
	}
	paid := new(big.Int)
	for k, i := range paidIdx {
		got := new(big.Int).Sub(e.staker(testAddr(i)).Tokens.ToBig(), before[i].ToBig())
		if got.Cmp(want[k]) != 0 {
			t.Errorf("staker %d: rewarded %s, the formula floors to %s", i, got, want[k])
		}
		if rewards[testAddr(i).String()] != want[k].String() {
			t.Errorf("staker %d: reward event says %q, want %s", i, rewards[testAddr(i).String()], want[k])
		}
		paid.Add(paid, got)
		t.Logf("staker %d: stake %s, weight %d, factors %+v: reward %s", i, FormatCIRO(before[i]), weights[k], fs[k], FormatCIRO(u256(got)))
	}
	for _, i := range []int{14, 15, 16} { // jailed, under 1 CIRO, tombstoned
		if !e.staker(testAddr(i)).Tokens.Eq(before[i]) {
			t.Errorf("staker %d was paid: %s → %s", i, before[i].Dec(), e.staker(testAddr(i)).Tokens.Dec())
		}
		if _, ok := rewards[testAddr(i).String()]; ok {
			t.Errorf("staker %d has a reward event", i)
		}
	}
	if len(rewards) != len(paidIdx) {
		t.Errorf("%d reward events, want %d", len(rewards), len(paidIdx))
	}
	if g := paid.Cmp(pool.ToBig()); g > 0 {
		t.Fatalf("paid %s of a pool of %s", paid, pool.Dec())
	}
	if eventAttr(*epochEv, "epoch") != "1" || eventAttr(*epochEv, "pool") != pool.Dec() || eventAttr(*epochEv, "paid") != paid.String() ||
		eventAttr(*epochEv, "stakers") != "5" || eventAttr(*epochEv, "undistributed") != new(big.Int).Sub(pool.ToBig(), paid).String() {
		t.Fatalf("epoch_rewards event %v; paid %s", epochEv.Attrs, paid)
	}
	if d := new(big.Int).Sub(pool.ToBig(), paid); d.Cmp(big.NewInt(int64(len(paidIdx)))) >= 0 {
		t.Fatalf("%s left undistributed: more than rounding", d)
	}
	minted := new(big.Int).Sub(e.supply().Minted.ToBig(), mintedBefore.ToBig())
	if minted.Cmp(paid) != 0 {
		t.Fatalf("minted %s, paid %s: the undistributed rest must not be minted", minted, paid)
	}
	e.checkSupply()
	// The delegator's share of 12 rose by its share of 12's reward, shares unchanged.
	delegAfter, _ := GetDelegation(e.kv, testAddr(12), testAddr(0))
	if !delegAfter.Shares.Eq(delegBefore.Shares) {
		t.Fatal("a reward changed the delegator's shares")
	}
	st12 := e.staker(testAddr(12))
	wantVal := new(big.Int).Quo(new(big.Int).Mul(delegAfter.Shares.ToBig(), st12.Tokens.ToBig()), st12.Shares.ToBig())
	if delegAfter.Amount.ToBig().Cmp(wantVal) != 0 || !delegAfter.Amount.Gt(delegBefore.Amount) {
		t.Fatalf("delegation worth %s → %s, want %s", delegBefore.Amount.Dec(), delegAfter.Amount.Dec(), wantVal)
	}
	// No rewards between epochs.
	mid := clone(e.supply().Minted)
	for uint64(e.height)%e.p.EpochBlocks != e.p.EpochBlocks-1 {
		if _, evs, _ := e.m.EndBlock(e.block()); hasEvent(evs, "epoch_rewards") {
			t.Fatalf("rewards at height %d, not an epoch end", e.height)
		}
		e.beginBlock(1, nil, nil)
	}
	if !e.supply().Minted.Eq(mid) {
		t.Fatal("minted between epochs")
	}
	second := false
	for _, ev := range runToEpoch(e) {
		second = second || ev.Type == "epoch_rewards" && eventAttr(ev, "epoch") == "2"
	}
	if !second {
		t.Fatal("no second epoch")
	}
	e.checkSupply()
}

func TestEpochRewardsLinearInStake(t *testing.T) {
	p := testParams()
	p.EpochBlocks = 3
	p.InflationPerEpoch = CIRO(1000)
	e := newTestEnv(t, p, nil, []GenesisStaker{genesisValidator(10, CIRO(2000)), genesisValidator(11, CIRO(1000))})
	b10, b11 := clone(e.staker(testAddr(10)).Tokens), clone(e.staker(testAddr(11)).Tokens)
	runToEpoch(e)
	r10 := new(uint256.Int).Sub(e.staker(testAddr(10)).Tokens, b10)
	r11 := new(uint256.Int).Sub(e.staker(testAddr(11)).Tokens, b11)
	// No bonus differs (no signing records), so twice the stake earns twice, to the unit.
	if twice := new(uint256.Int).Lsh(r11, 1); new(uint256.Int).Sub(r10, twice).GtUint64(1) && new(uint256.Int).Sub(twice, r10).GtUint64(1) {
		t.Fatalf("twice the stake earned %s against %s: want twice", r10.Dec(), r11.Dec())
	}
}

func TestEpochRewardsHardCap(t *testing.T) {
	p := testParams()
	p.EpochBlocks = 2
	p.InflationPerEpoch = CIRO(8)
	room := new(uint256.Int).AddUint64(CIRO(5), 123) // what is left under the cap after genesis
	rest := new(uint256.Int).Sub(HardCap, CIRO(2000))
	rest.Sub(rest, room)
	e := newTestEnv(t, p, []GenesisAccount{{Address: testAddr(0), Balance: rest}},
		[]GenesisStaker{genesisValidator(10, CIRO(1000)), genesisValidator(11, CIRO(1000))})
	for epoch := 1; epoch <= 4; epoch++ {
		minted := clone(e.supply().Minted)
		left := new(uint256.Int).Sub(HardCap, minted)
		evs := runToEpoch(e)
		var capped, summary *Event
		for k := range evs {
			switch evs[k].Type {
			case "inflation_capped":
				capped = &evs[k]
			case "epoch_rewards":
				summary = &evs[k]
			}
		}
		if capped == nil || summary == nil {
			t.Fatalf("epoch %d: want inflation_capped and epoch_rewards events, got %v", epoch, evs)
		}
		if eventAttr(*capped, "requested") != CIRO(8).Dec() || eventAttr(*capped, "pool") != left.Dec() || eventAttr(*summary, "pool") != left.Dec() {
			t.Fatalf("epoch %d: %v %v, want a pool of %s", epoch, capped.Attrs, summary.Attrs, left.Dec())
		}
		paid, err := ParseAmount(eventAttr(*summary, "paid"))
		if err != nil {
			t.Fatal(err)
		}
		if now := e.supply().Minted; !now.Eq(new(uint256.Int).Add(minted, paid)) || now.Gt(HardCap) {
			t.Fatalf("epoch %d: minted %s → %s, paid %s", epoch, minted.Dec(), now.Dec(), paid.Dec())
		}
		if epoch == 1 && (paid.IsZero() || new(uint256.Int).Sub(left, paid).Uint64() >= 2) {
			t.Fatalf("epoch 1: paid %s of the %s left under the cap", paid.Dec(), left.Dec())
		}
		e.checkSupply()
	}
	// Someone at the cap still transacts and stakes; nothing mints.
	e.send(0, &Transfer{To: testAddr(1), Amount: CIRO(1)})
	runToEpoch(e)
	e.checkSupply()
	if e.supply().Minted.Gt(HardCap) {
		t.Fatal("minted past the hard cap")
	}
}

func TestEpochRewardsOffAndDeterministic(t *testing.T) {
	// EpochBlocks 0 or no inflation: nothing happens.
	for _, c := range []struct {
		blocks    uint64
		inflation *uint256.Int
	}{{0, CIRO(8)}, {2, nil}, {2, zero()}} {
		p := testParams()
		p.EpochBlocks, p.InflationPerEpoch = c.blocks, c.inflation
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		e := newTestEnv(t, p, nil, []GenesisStaker{genesisValidator(10, CIRO(1000))})
		minted := clone(e.supply().Minted)
		for i := 0; i < 6; i++ {
			if _, evs, _ := e.m.EndBlock(e.block()); hasEvent(evs, "epoch_rewards") {
				t.Fatalf("rewards with epoch_blocks %d, inflation %v", c.blocks, c.inflation)
			}
			e.beginBlock(1, nil, nil)
		}
		if !e.supply().Minted.Eq(minted) {
			t.Fatal("minted with rewards off")
		}
	}
	p := testParams()
	p.InflationPerEpoch = new(uint256.Int).AddUint64(HardCap, 1)
	if p.Validate() == nil {
		t.Fatal("inflation above the hard cap validated")
	}
	// The same blocks give the same state and events.
	run := func() (string, string) {
		e := rewardEnv(t, CIRO(77))
		var evs []Event
		for i := 0; i < 3; i++ {
			evs = append(evs, runToEpoch(e)...)
		}
		return rawDump(e.kv), renderEvents(evs)
	}
	s1, ev1 := run()
	s2, ev2 := run()
	if s1 != s2 || ev1 != ev2 {
		t.Fatal("two runs of the same blocks differ")
	}
}

func u256(b *big.Int) *uint256.Int { v, _ := uint256.FromBig(b); return v }
