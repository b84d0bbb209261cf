package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/holiman/uint256"
)

// countingKV counts the writes that reach a store, to prove that refused transactions write
// nothing.
type countingKV struct {
	KV
	writes int
}

func (c *countingKV) Set(k, v []byte) error { c.writes++; return c.KV.Set(k, v) }
func (c *countingKV) Delete(k []byte) error { c.writes++; return c.KV.Delete(k) }

// simBlock is one generated block: everything a replay needs.
type simBlock struct {
	height int64
	time   uint64
	votes  []Vote
	mis    []Misbehavior
	txs    [][]byte
	sigOK  []bool // the signature verdict, found once by the generator; replays reuse it
}

// simTrace is what executing blocks produced, for comparing replays.
type simTrace struct {
	perBlock []string // per block: codes, events and updates, rendered
	hashes   [][32]byte
	final    string
}

const (
	simUsers      = 20 // accounts 0..15 are funded, 16..19 are empty
	simGenesisVal = 4
)

func simGenesis() *Genesis {
	p := testParams()
	p.MaxValidators = 5
	p.EpochBlocks = 7 // epochs pay rewards many times during a run
	p.InflationPerEpoch = CIRO(40)
	g := &Genesis{Params: p}
	for i := 0; i < 16; i++ {
		g.Accounts = append(g.Accounts, GenesisAccount{Address: testAddr(i), Balance: CIRO(2000)})
	}
	for i := 0; i < simGenesisVal; i++ {
		g.Stakers = append(g.Stakers, genesisValidator(i, CIRO(500)))
	}
	return g
}

func renderEvents(evs []Event) string {
	var sb strings.Builder
	for _, e := range evs {
		sb.WriteString(e.Type)
		for _, a := range e.Attrs {
			sb.WriteString("," + a.Key + "=" + a.Value)
		}
		sb.WriteString(";")
	}
	return sb.String()
}

// execBlock runs a block through BeginBlock, DeliverTx (decode and signature first, as
// consensus does) and EndBlock, returning the rendered outcome and the updates.
func execBlock(t *testing.T, m *Machine, b *simBlock) (string, []ValidatorUpdate) {
	blk := &Block{ChainID: testChain, Height: b.height, Time: b.time, Votes: b.votes, Misbehavior: b.mis}
	var sb strings.Builder
	evs, err := m.BeginBlock(blk)
	if err != nil {
		t.Fatalf("height %d: BeginBlock: %v", b.height, err)
	}
	sb.WriteString("begin:" + renderEvents(evs) + "\n")
	for i, raw := range b.txs {
		tx, err := DecodeTx(raw)
		if err == nil && !b.sigOK[i] {
			err = ErrBadSignature
		}
		if err != nil {
			fmt.Fprintf(&sb, "reject %s\n", CodeOf(err))
			continue
		}
		evs, err := m.DeliverTx(blk, tx)
		if IsInternal(err) || CodeOf(err) == CodeInternal {
			t.Fatalf("height %d: DeliverTx internal error: %v", b.height, err)
		}
		fmt.Fprintf(&sb, "tx %s %s\n", CodeOf(err), renderEvents(evs))
	}
	up, evs, err := m.EndBlock(blk)
	if err != nil {
		t.Fatalf("height %d: EndBlock: %v", b.height, err)
	}
	fmt.Fprintf(&sb, "end:%s %s\n", renderEvents(evs), updatesString(up))
	return sb.String(), up
}

// stateHash hashes every key and value, length-prefixed, in key order.
func stateHash(kv KV) [32]byte {
	h := sha256.New()
	var n [8]byte
	_ = kv.Iterate(nil, nil, func(k, v []byte) bool {
		binary.BigEndian.PutUint32(n[:4], uint32(len(k)))
		binary.BigEndian.PutUint32(n[4:], uint32(len(v)))
		h.Write(n[:])
		h.Write(k)
		h.Write(v)
		return true
	})
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// simGen generates random blocks against a live chain, so that most transactions are
// plausible, and checks the invariants after every block.
type simGen struct {
	t       *testing.T
	rng     *rand.Rand
	kv      *countingKV
	m       *Machine
	p       Params
	height  int64
	time    uint64
	cometVS map[string]int64 // the validator set as CometBFT would track it from the updates
	pastEv  []Misbehavior
	hashes  [][32]byte // state after each block
	stats   map[string]int
}

func newSimGen(t *testing.T, seed int64) *simGen {
	store := NewMemStore()
	kv := &countingKV{KV: store}
	m := NewMachine(kv)
	g := simGenesis()
	up, err := m.InitGenesis(testChain, g)
	if err != nil {
		t.Fatal(err)
	}
	s := &simGen{t: t, rng: rand.New(rand.NewSource(seed)), kv: kv, m: m, p: g.Params, height: 1, time: 1_700_000_000,
		cometVS: map[string]int64{}, stats: map[string]int{}}
	s.applyUpdates(up)
	return s
}

func (s *simGen) applyUpdates(up []ValidatorUpdate) {
	for i, u := range up {
		if i > 0 && bytes.Compare(consAddrOf(up[i-1].PubKey), consAddrOf(u.PubKey)) >= 0 {
			s.t.Fatalf("updates not strictly ordered by address: %s", updatesString(up))
		}
		a := hexStr(consAddrOf(u.PubKey))
		if u.Power == 0 {
			if _, ok := s.cometVS[a]; !ok {
				s.t.Fatalf("removal of %s, which is not in the set", a)
			}
			delete(s.cometVS, a)
		} else {
			s.cometVS[a] = u.Power
		}
	}
}

func (s *simGen) amount(max *uint256.Int) *uint256.Int {
	r := s.rng
	switch r.Intn(12) {
	case 0:
		return zero()
	case 1:
		return u(1)
	case 2:
		return clone(max)
	case 3:
		return new(uint256.Int).AddUint64(max, 1)
	case 4:
		return clone(maxU256)
	case 5:
		if max.IsZero() {
			return u(1)
		}
		return new(uint256.Int).SubUint64(max, 1)
	case 6, 7:
		return CIRO(uint64(r.Intn(600)))
	case 8:
		return u(uint64(r.Int63n(1_000_000)))
	default:
		if max.IsZero() || !max.IsUint64() && max.Gt(CIRO(1_000_000)) {
			return CIRO(uint64(r.Intn(100)))
		}
		if max.IsUint64() {
			return u(1 + uint64(r.Int63n(int64(max.Uint64()>>1)+1)))
		}
		v, _ := mulDiv(max, u(uint64(r.Intn(1000))), u(1000))
		return v
	}
}

// genTx makes one random transaction from the current state.
func (s *simGen) genTx() []byte {
	r := s.rng
	who := r.Intn(simUsers)
	acc, _ := GetAccount(s.kv, testAddr(who))
	target := testAddr(r.Intn(simUsers + 2)) // sometimes nobody's staker
	var msg Msg
	kind := TxType(1 + r.Intn(7))
	s.stats[kind.String()]++
	switch kind {
	case TxTransfer:
		msg = &Transfer{To: testAddr(r.Intn(simUsers + 3)), Amount: s.amount(acc.Balance)}
	case TxBurn:
		msg = &Burn{Amount: s.amount(acc.Balance)}
	case TxStake:
		m := &Stake{Amount: s.amount(acc.Balance), Roles: uint8(1 + r.Intn(3)), Moniker: fmt.Sprintf("u%d", who)}
		if r.Intn(30) == 0 {
			m.Roles = uint8(r.Intn(8))
		}
		if m.Roles&RoleValidator != 0 {
			m.ConsPubKey = testConsKey(who)
			if r.Intn(15) == 0 {
				m.ConsPubKey = testConsKey(r.Intn(simUsers)) // maybe someone else's
			}
		}
		msg = m
	case TxUnstake, TxUndelegate:
		staker := target
		if kind == TxUnstake || r.Intn(3) == 0 {
			staker = testAddr(who)
		}
		d, _ := GetDelegation(s.kv, staker, testAddr(who))
		held := zero()
		if d != nil {
			held = d.Amount
		}
		if kind == TxUnstake {
			msg = &Unstake{Amount: s.amount(held)}
		} else {
			msg = &Undelegate{Staker: staker, Amount: s.amount(held)}
		}
	case TxDelegate:
		msg = &Delegate{Staker: target, Amount: s.amount(acc.Balance)}
	case TxUnjail:
		msg = &Unjail{}
	}
	nonce := acc.Nonce
	switch r.Intn(25) {
	case 0:
		nonce++
	case 1:
		if nonce > 0 {
			nonce--
		}
	}
	fee := clone(s.p.MinTxFee)
	switch r.Intn(30) {
	case 0:
		fee = new(uint256.Int).SubUint64(fee, 1)
	case 1:
		fee = CIRO(uint64(r.Intn(3)))
	}
	chain := testChain
	if r.Intn(40) == 0 {
		chain = "ciro-other"
	}
	tx := signedTx(testKey(who), chain, nonce, fee, msg)
	raw := tx.Encode()
	if r.Intn(60) == 0 {
		raw[r.Intn(len(raw))] ^= byte(1 + r.Intn(255)) // a corrupted tx: rejected before DeliverTx
	}
	return raw
}

// deliverChecked executes one generated tx on the generator's chain, checking that refused
// transactions write nothing and accepted ones take exactly one nonce.
func (s *simGen) deliverChecked(blk *Block, raw []byte) (sigOK bool) {
	tx, err := DecodeTx(raw)
	if err == nil {
		if enc := tx.Encode(); !bytes.Equal(enc, raw) {
			s.t.Fatal("a decoded tx re-encodes differently")
		}
		err = tx.VerifySignature()
		sigOK = err == nil
	}
	if err != nil {
		s.stats["rejected before delivery"]++
		return sigOK
	}
	before, _ := GetAccount(s.kv, tx.Sender())
	writes := s.kv.writes
	_, err = s.m.DeliverTx(blk, tx)
	after, _ := GetAccount(s.kv, tx.Sender())
	code := CodeOf(err)
	s.stats["code "+code.String()]++
	if code == CodeInternal {
		s.t.Fatalf("internal error: %v", err)
	}
	if err != nil {
		var e *Error
		if !errorsAs(err, &e) || e.Msg == "" {
			s.t.Fatalf("error without a message: %v", err)
		}
	}
	switch {
	case after.Nonce == before.Nonce:
		if err == nil || s.kv.writes != writes {
			s.t.Fatalf("nonce unchanged but err=%v, %d writes", err, s.kv.writes-writes)
		}
		switch code {
		case CodeWrongChain, CodeReplayedNonce, CodeOutOfOrderNonce, CodeFeeTooLow, CodeInsufficientFunds, CodeInvalidArgument:
		default:
			s.t.Fatalf("refused at admission with %s", code)
		}
	case after.Nonce == before.Nonce+1:
	default:
		s.t.Fatalf("nonce went from %d to %d", before.Nonce, after.Nonce)
	}
	return sigOK
}

func (s *simGen) genBlock(txCount int) *simBlock {
	r := s.rng
	s.height++
	switch n := r.Intn(100); {
	case n == 0:
		s.time += 91 * day
	case n < 3:
		s.time += 31 * day
	default:
		s.time += 1 + uint64(r.Intn(12))
	}
	b := &simBlock{height: s.height, time: s.time}
	// Votes: the current set signs, some validators flakily.
	vals, err := ListValidators(s.kv)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, v := range vals {
		p := 95
		if v.ConsAddress[0]%3 == 0 {
			p = 35
		}
		b.votes = append(b.votes, Vote{ConsAddress: v.ConsAddress, Power: v.Power, Signed: r.Intn(100) < p})
	}
	if r.Intn(20) == 0 {
		b.votes = append(b.votes, Vote{ConsAddress: consAddrOf(testConsKey(99)), Power: 5, Signed: false})
	}
	for r.Intn(12) == 0 {
		var ev Misbehavior
		if len(s.pastEv) > 0 && r.Intn(3) == 0 {
			ev = s.pastEv[r.Intn(len(s.pastEv))] // the same evidence again
		} else {
			ev = Misbehavior{Kind: MisbehaviorKind(1 + r.Intn(2)), ConsAddress: consAddrOf(testConsKey(r.Intn(simUsers + 1))),
				Height: 1 + r.Int63n(s.height)}
			s.pastEv = append(s.pastEv, ev)
		}
		b.mis = append(b.mis, ev)
		s.stats["evidence"]++
	}
	blk := &Block{ChainID: testChain, Height: b.height, Time: b.time, Votes: b.votes, Misbehavior: b.mis}
	if _, err := s.m.BeginBlock(blk); err != nil {
		s.t.Fatalf("BeginBlock: %v", err)
	}
	for i := 0; i < txCount; i++ {
		raw := s.genTx()
		b.txs = append(b.txs, raw)
		b.sigOK = append(b.sigOK, s.deliverChecked(blk, raw))
	}
	up, evs, err := s.m.EndBlock(blk)
	if err != nil {
		s.t.Fatalf("EndBlock: %v", err)
	}
	if hasEvent(evs, "validator_set_kept") {
		s.stats["validator set kept"]++
	}
	s.checkRewards(evs)
	s.applyUpdates(up)
	s.checkInvariants()
	s.hashes = append(s.hashes, stateHash(s.kv))
	return b
}

// checkRewards checks a block's epoch rewards against its events: they come exactly at epoch
// ends, pay no more than the pool, only unjailed stakers, and the reward events add up.
func (s *simGen) checkRewards(evs []Event) {
	t := s.t
	var summary *Event
	paid := zero()
	for i, ev := range evs {
		switch ev.Type {
		case "epoch_rewards":
			summary = &evs[i]
		case "reward":
			a, err := ParseAddress(eventAttr(ev, "staker"))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := GetStaker(s.kv, a)
			if st == nil || st.Jailed || st.Tombstoned {
				t.Fatalf("height %d: reward to %s, which is jailed, tombstoned or gone", s.height, a)
			}
			amt, _ := ParseAmount(eventAttr(ev, "amount"))
			paid.Add(paid, amt)
			s.stats["reward"]++
		}
	}
	if (summary != nil) != (uint64(s.height)%s.p.EpochBlocks == 0) {
		t.Fatalf("height %d: epoch_rewards event %v at the wrong height", s.height, summary)
	}
	if summary == nil {
		return
	}
	s.stats["epoch rewards"]++
	pool, _ := ParseAmount(eventAttr(*summary, "pool"))
	if eventAttr(*summary, "paid") != paid.Dec() || paid.Gt(pool) || pool.Gt(s.p.InflationPerEpoch) {
		t.Fatalf("height %d: epoch_rewards %v, reward events add up to %s", s.height, summary.Attrs, paid.Dec())
	}
}

func (s *simGen) checkInvariants() {
	t := s.t
	if _, err := CheckSupply(s.kv); err != nil {
		t.Fatalf("height %d: %v", s.height, err)
	}
	vals, err := ListValidators(s.kv)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) == 0 || len(vals) > int(s.p.MaxValidators) || len(vals) != len(s.cometVS) {
		t.Fatalf("height %d: %d validators stored, %d tracked from updates", s.height, len(vals), len(s.cometVS))
	}
	for _, v := range vals {
		if s.cometVS[hexStr(v.ConsAddress)] != v.Power || v.Power <= 0 || uint64(v.Power) > s.p.MaxValidatorPower || v.Staker == nil {
			t.Fatalf("height %d: stored validator %x power %d, tracked %d", s.height, v.ConsAddress, v.Power, s.cometVS[hexStr(v.ConsAddress)])
		}
	}
	// Delegation shares add up to each pool's shares.
	sums := map[Address]*uint256.Int{}
	err = iteratePrefix(s.kv, []byte{prefixDelegation}, func(k, v []byte) bool {
		var a Address
		copy(a[:], k[1:1+AddressLen])
		d := newDecoder(v)
		sh := d.amount()
		if d.finish() != nil || sh.IsZero() {
			t.Fatalf("bad delegation record %x", v)
		}
		if sums[a] == nil {
			sums[a] = zero()
		}
		sums[a].Add(sums[a], sh)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	stakers, err := ListStakers(s.kv)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stakers {
		want := sums[st.Address]
		if want == nil {
			want = zero()
		}
		if !st.Shares.Eq(want) {
			t.Fatalf("height %d: staker %s has %s shares, delegations hold %s", s.height, st.Address, st.Shares, want)
		}
		if st.Shares.IsZero() && !st.Tokens.IsZero() {
			t.Fatalf("height %d: staker %s has tokens but no shares", s.height, st.Address)
		}
		if st.Jailed {
			s.stats["jailed staker-blocks"]++
		}
	}
}

func replay(t *testing.T, blocks []*simBlock, mode string) *simTrace {
	store := NewMemStore()
	if _, err := NewMachine(store).InitGenesis(testChain, simGenesis()); err != nil {
		t.Fatal(err)
	}
	tr := &simTrace{}
	for _, b := range blocks {
		var out string
		switch mode {
		case "cache": // each block on a buffer flushed at commit, as a node's deliver state
			c := NewCache(store)
			out, _ = execBlock(t, NewMachine(c), b)
			if err := c.Write(); err != nil {
				t.Fatal(err)
			}
		default:
			out, _ = execBlock(t, NewMachine(store), b)
		}
		tr.perBlock = append(tr.perBlock, out)
		tr.hashes = append(tr.hashes, stateHash(store))
	}
	tr.final = rawDump(store)
	return tr
}

// TestRandomBlocksInvariantsAndDeterminism generates at least 10,000 random transactions of
// every type, in blocks of random size with random votes and evidence, checks the supply and
// other invariants after every block, then replays the same blocks on three fresh stores and
// requires byte-identical state, events and validator updates.
func TestRandomBlocksInvariantsAndDeterminism(t *testing.T) {
	minTxs := 10_000
	if testing.Short() {
		minTxs = 2_000
	}
	start := time.Now()
	s := newSimGen(t, 20260101)
	var blocks []*simBlock
	total := 0
	for total < minTxs {
		n := s.rng.Intn(61)
		if s.rng.Intn(10) == 0 {
			n = 0
		}
		blocks = append(blocks, s.genBlock(n))
		total += n
	}
	genTime := time.Since(start)
	// The run must have exercised what it claims to.
	for _, k := range []string{"transfer", "burn", "stake", "unstake", "delegate", "undelegate", "unjail",
		"code ok", "code insufficient_funds", "code replayed_nonce", "code out_of_order_nonce", "code fee_too_low",
		"code wrong_chain", "code invalid_argument", "code not_found", "code not_jailed",
		"rejected before delivery", "evidence", "jailed staker-blocks", "epoch rewards", "reward"} {
		if s.stats[k] == 0 {
			t.Errorf("the random run never produced %q; stats %v", k, s.stats)
		}
	}
	sup, _ := CheckSupply(s.kv)
	t.Logf("%d txs in %d blocks, generated and checked in %v; burned %s; stats %v", total, len(blocks), genTime, FormatCIRO(sup.Burned), s.stats)

	// Replay on a fresh store, and on a fresh store under a per-block Cache: both must match the
	// generating run state for state, and each other in events, codes and updates.
	genFinal := rawDump(s.kv.KV.(*MemStore))
	plain := replay(t, blocks, "plain")
	cached := replay(t, blocks, "cache")
	for i := range blocks {
		if plain.hashes[i] != s.hashes[i] || cached.hashes[i] != s.hashes[i] {
			t.Fatalf("state after block %d differs between runs", i)
		}
		if plain.perBlock[i] != cached.perBlock[i] {
			t.Fatalf("block %d: outcomes differ:\n%s\nvs\n%s", i, plain.perBlock[i], cached.perBlock[i])
		}
	}
	if plain.final != genFinal || cached.final != genFinal {
		t.Fatal("final state differs between runs")
	}
	t.Logf("total %v", time.Since(start))
}
