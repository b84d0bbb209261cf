package contracts

import (
	"bytes"
	"testing"
)

// The money records' decoders: what decodes re-encodes to the same bytes, and what does not
// decode is malformed.

func FuzzDecodeUnbonding(f *testing.F) {
	f.Add((&Unbonding{Delegator: testAddr(1), Staker: testAddr(2), Amount: CIRO(5), CompletesAt: 99, Height: 7, Seq: 3}).encode())
	f.Add((&Unbonding{Amount: maxU256}).encode())
	f.Fuzz(func(t *testing.T, raw []byte) {
		u, err := decodeUnbonding(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := u.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}

func FuzzDecodeFaultTally(f *testing.F) {
	f.Add((&FaultTally{Power: 10, TotalPower: 30, Coordinated: true}).encode())
	f.Add((&FaultTally{}).encode())
	f.Fuzz(func(t *testing.T, raw []byte) {
		ft, err := decodeFaultTally(raw)
		if err != nil {
			wantCode(t, err, CodeMalformed)
			return
		}
		if enc := ft.encode(); !bytes.Equal(enc, raw) {
			t.Fatalf("not canonical:\n in  %x\n out %x", raw, enc)
		}
	})
}

// Unbonding entries and their by-pool index come and go together: a matured entry leaves no
// index behind, and a slash that empties an entry removes both.
func TestUnbondingIndexFollowsEntries(t *testing.T) {
	e := basicEnv(t)
	e.send(1, &Delegate{Staker: testAddr(10), Amount: CIRO(100)})
	e.endBlock()
	e.beginBlock(5, nil, nil)
	start := e.height
	e.send(1, &Undelegate{Staker: testAddr(10), Amount: CIRO(40)})
	e.send(10, &Unstake{Amount: CIRO(100)})
	count := func(prefix byte) int {
		n := 0
		if err := iteratePrefix(e.kv, []byte{prefix}, func(_, _ []byte) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(prefixUnbonding) != 2 || count(prefixUnbondingByStaker) != 2 {
		t.Fatalf("%d entries, %d index keys; want 2 and 2", count(prefixUnbonding), count(prefixUnbondingByStaker))
	}
	for _, ub := range append(mustUnbondings(t, e, 1), mustUnbondings(t, e, 10)...) {
		if ub.Height != uint64(start) {
			t.Fatalf("entry started at %d, want %d", ub.Height, start)
		}
	}
	// A 100% slash for a fault at the start height empties both entries and their index.
	x, err := e.m.newExec(e.kv, e.block())
	if err != nil {
		t.Fatal(err)
	}
	st := e.staker(testAddr(10))
	taken, err := x.slashAtHeight(st, 10_000, uint64(start), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := x.st.setStaker(st); err != nil {
		t.Fatal(err)
	}
	if want := CIRO(1100); !taken.Eq(want) {
		t.Fatalf("took %s, want the pool's 960 CIRO and the entries' 140", FormatCIRO(taken))
	}
	if count(prefixUnbonding) != 0 || count(prefixUnbondingByStaker) != 0 {
		t.Fatal("an emptied entry or its index is left behind")
	}
	e.checkSupply()
	// Entries that mature leave no index behind either.
	e.endBlock()
	e.beginBlock(5, nil, nil)
	e.send(11, &Unstake{Amount: CIRO(10)})
	e.endBlock()
	e.beginBlock(e.p.UnbondingSeconds[TierNone]+1, nil, nil)
	if count(prefixUnbonding) != 0 || count(prefixUnbondingByStaker) != 0 {
		t.Fatal("a matured entry or its index is left behind")
	}
	e.checkSupply()
}

func mustUnbondings(t *testing.T, e *testEnv, i int) []*Unbonding {
	t.Helper()
	l, err := ListUnbondings(e.kv, testAddr(i))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The coordinated attack rule's edges: evidence without powers is a lone double sign; one
// validator past a third of the power is a coordinated attack by itself; exactly a third is not.
func TestCoordinatedAttackThreshold(t *testing.T) {
	for _, c := range []struct {
		name        string
		power, tot  int64
		wantTokens  *uintT
		coordinated bool
	}{
		{"no powers reported", 0, 0, CIRO(700), false},
		{"exactly a third", 1000, 3000, CIRO(700), false},
		{"past a third", 1001, 3000, zero(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := basicEnv(t)
			evs := e.beginBlock(1, nil, []Misbehavior{{Kind: DuplicateVote, ConsAddress: consAddrOf(testConsKey(10)), Height: 1, Power: c.power, TotalPower: c.tot}})
			st := e.staker(testAddr(10))
			if !st.Tokens.Eq(c.wantTokens) || !st.Tombstoned || hasEvent(evs, "coordinated_attack") != c.coordinated {
				t.Fatalf("pool %s, tombstoned %v, events %s", FormatCIRO(st.Tokens), st.Tombstoned, renderEvents(evs))
			}
			e.checkSupply()
		})
	}
}
