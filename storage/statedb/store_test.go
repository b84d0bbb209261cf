package statedb

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func commit(t testing.TB, s *Store) ([]byte, int64) {
	t.Helper()
	h, v, err := s.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return h, v
}

func get(t testing.TB, s *Store, k string) string {
	t.Helper()
	v, err := s.Get([]byte(k))
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// applyBlock applies a deterministic pseudo-random block of writes for height h.
func applyBlock(t testing.TB, s *Store, h int64, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(h), 7))
	for range n {
		k := fmt.Appendf(nil, "key-%04d", rng.IntN(2000))
		if rng.IntN(5) == 0 {
			must(t, s.Delete(k))
			continue
		}
		v := make([]byte, 8+rng.IntN(64))
		for i := range v {
			v[i] = byte(rng.IntN(256))
		}
		must(t, s.Set(k, v))
	}
}

func TestEmptyStore(t *testing.T) {
	s := openStore(t, Options{})
	empty := sha256.Sum256(nil)
	if s.Version() != 0 || !bytes.Equal(s.LastHash(), empty[:]) || !bytes.Equal(s.WorkingHash(), empty[:]) {
		t.Fatalf("empty store: version %d, last %x, working %x", s.Version(), s.LastHash(), s.WorkingHash())
	}
	if v, err := s.GetAt([]byte("k"), 0); v != nil || err != nil {
		t.Fatalf("GetAt on empty store = %q, %v", v, err)
	}
	if _, err := s.GetAt([]byte("k"), 1); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("GetAt(v1) on empty store = %v", err)
	}
	n := 0
	must(t, s.Iterate(nil, nil, func(_, _ []byte) bool { n++; return true }))
	must(t, s.IterateAt(0, nil, nil, func(_, _ []byte) bool { n++; return true }))
	if n != 0 {
		t.Fatalf("empty store iterated %d keys", n)
	}
	if _, _, err := s.Prove([]byte("k"), 0); err == nil {
		t.Fatal("Prove on an empty store succeeded")
	}
	// Committing nothing still makes version 1, with the empty hash.
	h, v := commit(t, s)
	if v != 1 || !bytes.Equal(h, empty[:]) {
		t.Fatalf("first empty commit = %x, %d", h, v)
	}
}

func TestWorkingStateAndCommit(t *testing.T) {
	s := openStore(t, Options{})
	must(t, s.Set([]byte("a"), []byte("1")))
	must(t, s.Set([]byte("b"), []byte("2")))
	if err := s.Set([]byte("e"), []byte{}); !errors.Is(err, ErrValueEmpty) {
		t.Fatalf("Set(empty value) = %v", err)
	}
	if got := get(t, s, "a"); got != "1" {
		t.Fatalf("a = %s", got)
	}
	if v, _ := s.Get([]byte("e")); v != nil {
		t.Fatalf("refused empty value was stored: %#v", v)
	}
	// Committed reads do not see the working tree.
	if v, err := s.GetAt([]byte("a"), 0); v != nil || err != nil {
		t.Fatalf("GetAt sees uncommitted a: %q, %v", v, err)
	}
	working := s.WorkingHash()
	h1, v1 := commit(t, s)
	if v1 != 1 || !bytes.Equal(h1, working) || !bytes.Equal(s.LastHash(), h1) || s.Version() != 1 {
		t.Fatalf("commit: v%d %x, working was %x, LastHash %x", v1, h1, working, s.LastHash())
	}
	must(t, s.Delete([]byte("a")))
	must(t, s.Delete([]byte("absent")))
	must(t, s.Set([]byte("b"), []byte("22")))
	if get(t, s, "a") != "<nil>" || get(t, s, "b") != "22" {
		t.Fatal("working state not updated")
	}
	if v, _ := s.GetAt([]byte("b"), 0); string(v) != "2" {
		t.Fatalf("GetAt(b, latest) = %q, want committed 2", v)
	}
	if bytes.Equal(s.WorkingHash(), h1) {
		t.Fatal("working hash did not change")
	}
	h2, v2 := commit(t, s)
	if v2 != 2 || bytes.Equal(h1, h2) {
		t.Fatalf("second commit v%d %x", v2, h2)
	}
	if v, _ := s.GetAt([]byte("a"), 1); string(v) != "1" {
		t.Fatalf("GetAt(a, 1) = %q", v)
	}
	if v, _ := s.GetAt([]byte("a"), 2); v != nil {
		t.Fatalf("GetAt(a, 2) = %q", v)
	}
	if _, err := s.GetAt([]byte("a"), 3); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("GetAt(future) = %v", err)
	}
	// Returned values are copies.
	v, _ := s.Get([]byte("b"))
	v[0] = 'X'
	if get(t, s, "b") != "22" {
		t.Fatal("Get returned the tree's buffer")
	}
	// Input slices may be reused by the caller.
	buf := []byte("val")
	must(t, s.Set([]byte("c"), buf))
	buf[0] = 'X'
	if get(t, s, "c") != "val" {
		t.Fatal("Set kept the caller's buffer")
	}
	if err := s.Set(nil, []byte("x")); !errors.Is(err, ErrKeyEmpty) {
		t.Fatalf("Set(nil key) = %v", err)
	}
	if err := s.Set([]byte("k"), nil); !errors.Is(err, ErrValueNil) {
		t.Fatalf("Set(nil value) = %v", err)
	}
}

func TestIterate(t *testing.T) {
	s := openStore(t, Options{})
	for _, k := range []string{"a", "b", "c", "d"} {
		must(t, s.Set([]byte(k), []byte("v"+k)))
	}
	commit(t, s)
	must(t, s.Set([]byte("bb"), []byte("vbb")))
	must(t, s.Delete([]byte("c")))
	keys := func(iter func(fn func(k, v []byte) bool) error) string {
		var out []string
		must(t, iter(func(k, v []byte) bool {
			if string(v) != "v"+string(k) {
				t.Fatalf("value of %s = %s", k, v)
			}
			out = append(out, string(k))
			return true
		}))
		return fmt.Sprint(out)
	}
	cases := []struct {
		start, end         []byte
		working, committed string
	}{
		{nil, nil, "[a b bb d]", "[a b c d]"},
		{[]byte("b"), []byte("d"), "[b bb]", "[b c]"},
		{[]byte{}, []byte("bb"), "[a b]", "[a b]"},
		{[]byte("bb"), nil, "[bb d]", "[c d]"},
		{[]byte("c"), []byte("b"), "[]", "[]"},
	}
	for _, c := range cases {
		got := keys(func(fn func(k, v []byte) bool) error { return s.Iterate(c.start, c.end, fn) })
		if got != c.working {
			t.Errorf("Iterate(%q,%q) = %s, want %s", c.start, c.end, got, c.working)
		}
		got = keys(func(fn func(k, v []byte) bool) error { return s.IterateAt(0, c.start, c.end, fn) })
		if got != c.committed {
			t.Errorf("IterateAt(%q,%q) = %s, want %s", c.start, c.end, got, c.committed)
		}
	}
	n := 0
	must(t, s.Iterate(nil, nil, func(_, _ []byte) bool { n++; return n < 2 }))
	if n != 2 {
		t.Fatalf("early stop visited %d keys", n)
	}
}

func TestSameOpsSameHash(t *testing.T) {
	a := openStore(t, Options{})
	b := openStore(t, Options{Dir: t.TempDir(), CacheSize: 10})
	for h := int64(1); h <= 20; h++ {
		applyBlock(t, a, h, 300)
		applyBlock(t, b, h, 300)
		if !bytes.Equal(a.WorkingHash(), b.WorkingHash()) {
			t.Fatalf("height %d: working hashes differ", h)
		}
		ha, va := commit(t, a)
		hb, vb := commit(t, b)
		if va != h || vb != h || !bytes.Equal(ha, hb) {
			t.Fatalf("height %d: %d %x vs %d %x", h, va, ha, vb, hb)
		}
	}
	// A different order of the same final writes is still the same state, but
	// a different set of writes is not.
	must(t, a.Set([]byte("extra"), []byte("1")))
	if bytes.Equal(a.WorkingHash(), b.WorkingHash()) {
		t.Fatal("different states have the same hash")
	}
}

func TestReopenKeepsVersionAndHash(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	must(t, err)
	var hashes [][]byte
	for h := int64(1); h <= 5; h++ {
		applyBlock(t, s, h, 200)
		hash, _ := commit(t, s)
		hashes = append(hashes, hash)
	}
	want := get(t, s, "key-0001")
	applyBlock(t, s, 99, 200) // uncommitted: lost on close
	must(t, s.Close())
	if err := s.Set([]byte("k"), []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close = %v", err)
	}
	must(t, s.Close())

	s = openStore(t, Options{Dir: dir})
	if s.Version() != 5 || !bytes.Equal(s.LastHash(), hashes[4]) || !bytes.Equal(s.WorkingHash(), hashes[4]) {
		t.Fatalf("reopened at v%d %x, want v5 %x", s.Version(), s.LastHash(), hashes[4])
	}
	if got := get(t, s, "key-0001"); got != want {
		t.Fatalf("key-0001 = %q after reopen, want %q", got, want)
	}
	for v := int64(1); v <= 5; v++ {
		_, proof, err := s.Prove([]byte("key-0001"), v)
		must(t, err)
		val, _ := s.GetAt([]byte("key-0001"), v)
		if err := VerifyProof(hashes[v-1], []byte("key-0001"), val, proof); err != nil {
			t.Fatalf("version %d after reopen: %v", v, err)
		}
	}
	// The chain goes on from where it was.
	applyBlock(t, s, 6, 200)
	if _, v := commit(t, s); v != 6 {
		t.Fatalf("next commit is v%d", v)
	}
}

func TestRollback(t *testing.T) {
	s := openStore(t, Options{})
	must(t, s.Set([]byte("a"), []byte("1")))
	s.Rollback() // before any commit: back to empty
	empty := sha256.Sum256(nil)
	if get(t, s, "a") != "<nil>" || !bytes.Equal(s.WorkingHash(), empty[:]) {
		t.Fatal("rollback before first commit kept writes")
	}
	must(t, s.Set([]byte("a"), []byte("1")))
	h1, _ := commit(t, s)
	must(t, s.Set([]byte("a"), []byte("2")))
	must(t, s.Set([]byte("b"), []byte("2")))
	must(t, s.Delete([]byte("a")))
	s.Rollback()
	if get(t, s, "a") != "1" || get(t, s, "b") != "<nil>" || !bytes.Equal(s.WorkingHash(), h1) {
		t.Fatal("rollback did not restore the last commit")
	}
	h2, v := commit(t, s)
	if v != 2 || !bytes.Equal(h1, h2) {
		t.Fatalf("commit after rollback: v%d %x, want the unchanged hash %x", v, h2, h1)
	}
}

func TestProofs(t *testing.T) {
	s := openStore(t, Options{})
	for i := range 100 {
		must(t, s.Set(fmt.Appendf(nil, "k%03d", i*2), fmt.Appendf(nil, "v%d", i)))
	}
	root1, _ := commit(t, s)
	must(t, s.Set([]byte("k000"), []byte("changed")))
	must(t, s.Set([]byte("k001"), []byte("new")))
	root2, _ := commit(t, s)

	// Existence at the latest and at an older version.
	val, proof, err := s.Prove([]byte("k000"), 0)
	must(t, err)
	if string(val) != "changed" || proof.GetExist() == nil {
		t.Fatalf("Prove(k000) = %q, %v", val, proof)
	}
	must(t, VerifyProof(root2, []byte("k000"), val, proof))
	old, oldProof, err := s.Prove([]byte("k000"), 1)
	must(t, err)
	if string(old) != "v0" {
		t.Fatalf("Prove(k000, 1) = %q", old)
	}
	must(t, VerifyProof(root1, []byte("k000"), old, oldProof))

	// Non-existence: between keys, below all, above all; and k001 at version 1.
	for _, c := range []struct {
		key string
		ver int64
	}{{"k051", 0}, {"a", 0}, {"z", 0}, {"k001", 1}} {
		v, p, err := s.Prove([]byte(c.key), c.ver)
		must(t, err)
		if v != nil || p.GetNonexist() == nil {
			t.Fatalf("Prove(%s) = %q, %v", c.key, v, p)
		}
		root := root2
		if c.ver == 1 {
			root = root1
		}
		must(t, VerifyProof(root, []byte(c.key), nil, p))
		// The absence proof is no proof of presence, nor valid for another root.
		if VerifyProof(root, []byte(c.key), []byte("x"), p) == nil {
			t.Fatalf("non-existence proof of %s verified as existence", c.key)
		}
	}
	_, p1, err := s.Prove([]byte("k001"), 1)
	must(t, err)
	if err := VerifyProof(root2, []byte("k001"), nil, p1); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("v1 absence of k001 verified against v2 root: %v", err)
	}

	// Tampering fails.
	if err := VerifyProof(root2, []byte("k000"), []byte("changeD"), proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("tampered value verified: %v", err)
	}
	if err := VerifyProof(root1, []byte("k000"), val, proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("proof verified against the wrong root: %v", err)
	}
	if err := VerifyProof(root2, []byte("k002"), val, proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("proof verified for another key: %v", err)
	}
	if err := VerifyProof(root2, []byte("k000"), nil, proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("existence proof verified as absence: %v", err)
	}
	if err := VerifyProof(root2, []byte("k000"), val, nil); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("nil proof: %v", err)
	}
	bad := bytes.Clone(root2)
	bad[0] ^= 1
	if err := VerifyProof(bad, []byte("k000"), val, proof); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("flipped root verified: %v", err)
	}
	// Proofs never see the working tree.
	must(t, s.Set([]byte("k051"), []byte("uncommitted")))
	if v, p, err := s.Prove([]byte("k051"), 0); err != nil || v != nil || p.GetNonexist() == nil {
		t.Fatalf("Prove saw the working tree: %q, %v", v, err)
	}
}

func TestPruningKeepsRecent(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		t.Run(fmt.Sprintf("disk=%v", dir != ""), func(t *testing.T) {
			s := openStore(t, Options{Dir: dir, KeepRecent: 3})
			var hashes [][]byte
			for h := int64(1); h <= 10; h++ {
				must(t, s.Set([]byte("height"), fmt.Appendf(nil, "%d", h)))
				applyBlock(t, s, h, 100)
				hash, _ := commit(t, s)
				hashes = append(hashes, hash)
			}
			for v := int64(1); v <= 10; v++ {
				got, err := s.GetAt([]byte("height"), v)
				if v <= 7 {
					if !errors.Is(err, ErrVersionNotFound) {
						t.Fatalf("version %d not pruned: %q, %v", v, got, err)
					}
					if err := s.IterateAt(v, nil, nil, func(_, _ []byte) bool { return true }); !errors.Is(err, ErrVersionNotFound) {
						t.Fatalf("IterateAt(%d) after pruning = %v", v, err)
					}
					continue
				}
				if err != nil || string(got) != fmt.Sprint(v) {
					t.Fatalf("kept version %d: %q, %v", v, got, err)
				}
				_, proof, err := s.Prove([]byte("height"), v)
				must(t, err)
				must(t, VerifyProof(hashes[v-1], []byte("height"), got, proof))
			}
			// Pruned data is really gone from the database: fewer stored
			// nodes than an unpruned store with the same history.
			full := openStore(t, Options{})
			for h := int64(1); h <= 10; h++ {
				must(t, full.Set([]byte("height"), fmt.Appendf(nil, "%d", h)))
				applyBlock(t, full, h, 100)
				hash, _ := commit(t, full)
				if !bytes.Equal(hash, hashes[h-1]) {
					t.Fatalf("pruning changed the hash of version %d", h)
				}
			}
			if np, nf := countKeys(t, s.db), countKeys(t, full.db); np >= nf {
				t.Fatalf("pruned store holds %d keys, unpruned %d", np, nf)
			}
		})
	}
}

func countKeys(t testing.TB, db *badgerDB) int {
	it, err := db.Iterator(nil, nil)
	return len(collect(t, it, err))
}

func TestConcurrentUse(t *testing.T) {
	s := openStore(t, Options{KeepRecent: 2})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := s.Version()
				if v == 0 {
					continue
				}
				// The latest committed version always holds its own height.
				val, proof, err := s.Prove([]byte("height"), 0)
				if err != nil {
					t.Error(err)
					return
				}
				if n := 0; s.IterateAt(0, nil, nil, func(_, _ []byte) bool { n++; return true }) != nil {
					t.Error("IterateAt failed")
					return
				}
				_ = proof
				if len(val) == 0 {
					t.Error("empty height")
					return
				}
			}
		})
	}
	for h := int64(1); h <= 30; h++ {
		must(t, s.Set([]byte("height"), fmt.Appendf(nil, "%d", h)))
		applyBlock(t, s, h, 50)
		commit(t, s)
	}
	close(stop)
	wg.Wait()
}
