package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	corestore "cosmossdk.io/core/store"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/dgraph-io/badger/v4"
)

var discard = slog.New(slog.DiscardHandler)

func newMemBadger(t testing.TB, memTableSize int64) *badgerDB {
	t.Helper()
	db, err := openBadgerDB(badgerOptions("", memTableSize, discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openDiskBadger(t testing.TB, dir string, memTableSize int64) *badgerDB {
	t.Helper()
	db, err := openBadgerDB(badgerOptions(dir, memTableSize, discard))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type kv struct{ k, v string }

func collect(t testing.TB, it corestore.Iterator, err error) []kv {
	t.Helper()
	if err != nil {
		t.Fatalf("iterator: %v", err)
	}
	defer it.Close()
	var out []kv
	for ; it.Valid(); it.Next() {
		out = append(out, kv{string(it.Key()), string(it.Value())})
	}
	if err := it.Error(); err != nil {
		t.Fatalf("iterator error: %v", err)
	}
	return out
}

func b(s string) []byte {
	if s == "<nil>" {
		return nil
	}
	return []byte(s)
}

func TestAdapterIteratorBoundsMatchMemDB(t *testing.T) {
	keys := []string{"a", "aa", "ab", "b", "ba", "c", "d\x00", "d", "e", "\xff", "\xff\xff"}
	bdb := newMemBadger(t, 0)
	mdb := iavldb.NewMemDB()
	for i, k := range keys {
		v := fmt.Sprintf("v%d", i)
		bt := bdb.NewBatch()
		if err := bt.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		if err := bt.Write(); err != nil {
			t.Fatal(err)
		}
		if err := mdb.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ start, end string }{
		{"<nil>", "<nil>"},
		{"a", "<nil>"},
		{"<nil>", "c"},
		{"a", "c"},     // both present: start inclusive, end exclusive
		{"aa", "b"},    // ends on a present key
		{"a0", "bz"},   // absent bounds
		{"0", "1"},     // empty range below all keys
		{"f", "<nil>"}, // start between keys near the top
		{"<nil>", "a"}, // end is the first key: empty
		{"c", "c"},     // start == end: empty
		{"d", "d\x00"}, // one key
		{"\xff", "<nil>"},
		{"\xff\xff\xff", "<nil>"}, // start above all keys
		{"<nil>", "\xff\xff\xff"},
		{"b", "a"}, // start > end: empty
	}
	for _, tc := range cases {
		for _, reverse := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q-%q-rev=%v", tc.start, tc.end, reverse), func(t *testing.T) {
				var got, want []kv
				if reverse {
					it, err := bdb.ReverseIterator(b(tc.start), b(tc.end))
					got = collect(t, it, err)
					mit, err := mdb.ReverseIterator(b(tc.start), b(tc.end))
					want = collect(t, mit, err)
				} else {
					it, err := bdb.Iterator(b(tc.start), b(tc.end))
					got = collect(t, it, err)
					mit, err := mdb.Iterator(b(tc.start), b(tc.end))
					want = collect(t, mit, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %q, MemDB gives %q", got, want)
				}
			})
		}
	}
	// Sanity: the reference is not trivially empty.
	it, err := bdb.ReverseIterator([]byte("a"), []byte("c"))
	if got := collect(t, it, err); len(got) != 5 || got[0].k != "ba" || got[4].k != "a" {
		t.Fatalf("reverse [a,c) = %q", got)
	}
}

func TestAdapterContractErrors(t *testing.T) {
	db := newMemBadger(t, 0)
	if _, err := db.Get(nil); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("Get(nil) = %v", err)
	}
	if _, err := db.Get([]byte{}); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("Get(empty) = %v", err)
	}
	if _, err := db.Has(nil); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("Has(nil) = %v", err)
	}
	if _, err := db.Iterator([]byte{}, nil); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("Iterator(empty start) = %v", err)
	}
	if _, err := db.ReverseIterator(nil, []byte{}); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("ReverseIterator(empty end) = %v", err)
	}
	bt := db.NewBatch()
	if err := bt.Set(nil, []byte("v")); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("batch Set(nil key) = %v", err)
	}
	if err := bt.Set([]byte("k"), nil); !errors.Is(err, ErrValueNil) {
		t.Fatalf("batch Set(nil value) = %v", err)
	}
	if err := bt.Delete([]byte{}); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("batch Delete(empty) = %v", err)
	}
	// Absent key: nil value, no error; empty value reads back non-nil.
	if v, err := db.Get([]byte("absent")); v != nil || err != nil {
		t.Fatalf("Get(absent) = %q, %v", v, err)
	}
	if err := bt.Set([]byte("empty"), []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := bt.WriteSync(); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Get([]byte("empty")); v == nil || len(v) != 0 || err != nil {
		t.Fatalf("Get(empty value) = %#v, %v", v, err)
	}
	if ok, err := db.Has([]byte("empty")); !ok || err != nil {
		t.Fatalf("Has(empty value) = %v, %v", ok, err)
	}
}

func TestAdapterBatchLifecycle(t *testing.T) {
	db := newMemBadger(t, 0)
	bt := db.NewBatchWithSize(1 << 40) // a huge hint must not allocate
	must(t, bt.Set([]byte("a"), []byte("1")))
	must(t, bt.Set([]byte("b"), []byte("22")))
	must(t, bt.Delete([]byte("a")))
	if n, err := bt.GetByteSize(); err != nil || n != 1+1+1+2+1 {
		t.Fatalf("GetByteSize = %d, %v", n, err)
	}
	// Nothing is visible before Write.
	if v, _ := db.Get([]byte("b")); v != nil {
		t.Fatalf("batch visible before Write: %q", v)
	}
	must(t, bt.Write())
	if v, _ := db.Get([]byte("a")); v != nil {
		t.Fatalf("a = %q after set+delete in one batch", v)
	}
	if v, _ := db.Get([]byte("b")); string(v) != "22" {
		t.Fatalf("b = %q", v)
	}
	if err := bt.Set([]byte("c"), []byte("3")); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("Set after Write = %v", err)
	}
	if err := bt.Write(); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("Write after Write = %v", err)
	}
	if _, err := bt.GetByteSize(); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("GetByteSize after Write = %v", err)
	}
	must(t, bt.Close())
	must(t, bt.Close())

	// A closed, unwritten batch writes nothing.
	bt2 := db.NewBatch()
	must(t, bt2.Set([]byte("x"), []byte("x")))
	must(t, bt2.Close())
	if err := bt2.Write(); !errors.Is(err, ErrBatchClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
	if v, _ := db.Get([]byte("x")); v != nil {
		t.Fatalf("closed batch was written: %q", v)
	}
}

func TestAdapterReturnsCopies(t *testing.T) {
	db := newMemBadger(t, 0)
	bt := db.NewBatch()
	must(t, bt.Set([]byte("key1"), []byte("value1")))
	must(t, bt.Set([]byte("key2"), []byte("value2")))
	must(t, bt.Write())
	v, _ := db.Get([]byte("key1"))
	v[0] = 'X'
	if v2, _ := db.Get([]byte("key1")); string(v2) != "value1" {
		t.Fatalf("Get returned badger's buffer: %q", v2)
	}
	it, err := db.Iterator(nil, nil)
	must(t, err)
	var keys, vals [][]byte
	for ; it.Valid(); it.Next() {
		keys = append(keys, it.Key())
		vals = append(vals, it.Value())
	}
	must(t, it.Close())
	if string(keys[0]) != "key1" || string(vals[1]) != "value2" {
		t.Fatalf("iterator items changed after moving on: %q %q", keys, vals)
	}
	keys[0][0] = 'X'
	if v2, _ := db.Get([]byte("key1")); string(v2) != "value1" {
		t.Fatal("iterator key aliased the store")
	}
}

func TestAdapterIteratorSnapshotAndPanics(t *testing.T) {
	db := newMemBadger(t, 0)
	bt := db.NewBatch()
	must(t, bt.Set([]byte("a"), []byte("1")))
	must(t, bt.Write())
	it, err := db.Iterator(nil, nil)
	must(t, err)
	start, end := it.Domain()
	if start != nil || end != nil {
		t.Fatalf("Domain = %q %q", start, end)
	}
	bt = db.NewBatch()
	must(t, bt.Set([]byte("b"), []byte("2")))
	must(t, bt.Write())
	n := 0
	for ; it.Valid(); it.Next() {
		n++
	}
	if n != 1 {
		t.Fatalf("iterator saw %d keys, want the 1 of its snapshot", n)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Key on an invalid iterator did not panic")
			}
		}()
		it.Key()
	}()
	must(t, it.Close())
	must(t, it.Close())
}

// TestAdapterMatchesMemDBRandomOps applies the same random operations to the
// badger adapter and to iavl's MemDB and compares every read.
func TestAdapterMatchesMemDBRandomOps(t *testing.T) {
	seeds := uint64(4)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			// A small memtable makes badger's transaction limit small, so the
			// large batches below go through the journal.
			bdb := newMemBadger(t, 4<<20)
			mdb := iavldb.NewMemDB()
			randKey := func() []byte {
				k := make([]byte, 1+rng.IntN(3))
				for i := range k {
					k[i] = "abc\x00\xff"[rng.IntN(5)]
				}
				return k
			}
			randBound := func() []byte {
				if rng.IntN(4) == 0 {
					return nil
				}
				return randKey()
			}
			for step := range 1500 {
				switch r := rng.IntN(10); {
				case step%300 == 150:
					// ~750 KiB over a fixed set of 2,500 keys: more than the
					// 614 KiB transaction limit of a 4 MiB memtable.
					bb, mb := bdb.NewBatch(), mdb.NewBatch()
					for i := range 2500 {
						k := []byte{0xfe, byte(i >> 8), byte(i)}
						if rng.IntN(10) == 0 {
							must(t, bb.Delete(k))
							must(t, mb.Delete(k))
							continue
						}
						v := make([]byte, 300)
						for j := range v {
							v[j] = byte(rng.IntN(256))
						}
						must(t, bb.Set(k, v))
						must(t, mb.Set(k, v))
					}
					must(t, bb.Write())
					must(t, mb.Write())
				case r < 4: // batch of sets and deletes
					n := 1 + rng.IntN(8)
					bb, mb := bdb.NewBatch(), mdb.NewBatch()
					for range n {
						k := randKey()
						if rng.IntN(3) == 0 {
							must(t, bb.Delete(k))
							must(t, mb.Delete(k))
							continue
						}
						v := make([]byte, rng.IntN(4))
						for i := range v {
							v[i] = byte(rng.IntN(256))
						}
						must(t, bb.Set(k, v))
						must(t, mb.Set(k, v))
					}
					if rng.IntN(2) == 0 {
						must(t, bb.Write())
						must(t, mb.Write())
					} else {
						must(t, bb.WriteSync())
						must(t, mb.WriteSync())
					}
					must(t, bb.Close())
					must(t, mb.Close())
				case r < 6:
					k := randKey()
					bv, berr := bdb.Get(k)
					mv, merr := mdb.Get(k)
					if berr != nil || merr != nil || !bytes.Equal(bv, mv) || (bv == nil) != (mv == nil) {
						t.Fatalf("step %d: Get(%q) = %q,%v; MemDB %q,%v", step, k, bv, berr, mv, merr)
					}
					bh, _ := bdb.Has(k)
					mh, _ := mdb.Has(k)
					if bh != mh {
						t.Fatalf("step %d: Has(%q) = %v; MemDB %v", step, k, bh, mh)
					}
				default:
					start, end := randBound(), randBound()
					var got, want []kv
					if rng.IntN(2) == 0 {
						it, err := bdb.Iterator(start, end)
						got = collect(t, it, err)
						mit, err := mdb.Iterator(start, end)
						want = collect(t, mit, err)
					} else {
						it, err := bdb.ReverseIterator(start, end)
						got = collect(t, it, err)
						mit, err := mdb.ReverseIterator(start, end)
						want = collect(t, mit, err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: [%q,%q) got %d items, MemDB %d", step, start, end, len(got), len(want))
					}
				}
			}
			if bdb.journaled.Load() == 0 {
				t.Fatal("no batch went through the journal")
			}
		})
	}
}

// TestAdapterJournalCrash interrupts a journaled batch before and after its
// marker commits, and checks that reopening gives none or all of it.
func TestAdapterJournalCrash(t *testing.T) {
	for _, point := range []string{"journal-written", "journal-committed"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			db := openDiskBadger(t, dir, 4<<20)
			pre := db.NewBatch()
			must(t, pre.Set([]byte("keep"), []byte("old")))
			must(t, pre.Set([]byte("gone"), []byte("old")))
			must(t, pre.WriteSync())

			crash := errors.New("simulated crash")
			db.testHook = func(p string) error {
				if p == point {
					return crash
				}
				return nil
			}
			big := db.NewBatch()
			for i := range 5000 {
				must(t, big.Set(fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{byte(i)}, 200)))
			}
			must(t, big.Set([]byte("keep"), []byte("new")))
			must(t, big.Delete([]byte("gone")))
			if err := big.Write(); !errors.Is(err, crash) {
				t.Fatalf("Write = %v, want the simulated crash", err)
			}
			must(t, db.Close())

			db = openDiskBadger(t, dir, 4<<20)
			defer db.Close()
			applied := point == "journal-committed"
			keep, _ := db.Get([]byte("keep"))
			gone, _ := db.Get([]byte("gone"))
			k0, _ := db.Get([]byte("k00000"))
			k4999, _ := db.Get([]byte("k04999"))
			if applied {
				if string(keep) != "new" || gone != nil || k0 == nil || k4999 == nil {
					t.Fatalf("committed journal not replayed: keep=%q gone=%q k0=%v k4999=%v", keep, gone, k0 != nil, k4999 != nil)
				}
			} else if string(keep) != "old" || string(gone) != "old" || k0 != nil || k4999 != nil {
				t.Fatalf("uncommitted journal leaked: keep=%q gone=%q", keep, gone)
			}
			// The journal itself is gone and never visible as data.
			it, err := db.Iterator(nil, nil)
			n := len(collect(t, it, err))
			want := 2
			if applied {
				want = 5001
			}
			if n != want {
				t.Fatalf("%d data keys after recovery, want %d", n, want)
			}
			var left int
			must(t, db.db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.DefaultIteratorOptions)
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					if k := it.Item().Key(); k[0] != dataPrefix {
						left++
					}
				}
				return nil
			}))
			if left != 0 {
				t.Fatalf("%d journal keys left after recovery", left)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
