package contracts

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"
)

// refIterate is what Iterate must visit: the reference map's keys in [start, end), ascending,
// stopping after limit items (limit < 0: all).
func refIterate(ref map[string]string, start, end []byte, limit int) []string {
	var keys []string
	for k := range ref {
		if start != nil && k < string(start) {
			continue
		}
		if end != nil && k >= string(end) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if limit >= 0 && len(out) == limit {
			break
		}
		out = append(out, fmt.Sprintf("%x=%s", k, ref[k]))
	}
	return out
}

func kvIterate(t *testing.T, kv KV, start, end []byte, limit int) []string {
	t.Helper()
	var out []string
	var last []byte
	err := kv.Iterate(start, end, func(k, v []byte) bool {
		if last != nil && bytes.Compare(k, last) <= 0 {
			t.Fatalf("keys out of order: %x after %x", k, last)
		}
		last = append([]byte(nil), k...)
		if limit >= 0 && len(out) == limit {
			t.Fatalf("Iterate called fn again after it returned false")
		}
		out = append(out, fmt.Sprintf("%x=%s", k, v))
		return limit < 0 || len(out) < limit
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var keyAlphabet = []byte{0x00, 0x01, 0x7f, 0x80, 0xff}

func randKey(rng *rand.Rand) []byte {
	k := make([]byte, rng.Intn(4))
	for i := range k {
		k[i] = keyAlphabet[rng.Intn(len(keyAlphabet))]
	}
	return k
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestCacheMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	ops := 0
	for round := 0; round < 40; round++ {
		parent := NewMemStore()
		parentRef := map[string]string{}
		for i := 0; i < rng.Intn(30); i++ {
			k, v := randKey(rng), fmt.Sprintf("p%d", i)
			_ = parent.Set(k, []byte(v))
			parentRef[string(k)] = v
		}
		// Two levels, as DeliverTx stacks them: outer over the store, inner over outer.
		outer := NewCache(parent)
		outerRef := copyMap(parentRef)
		inner := NewCache(outer)
		innerRef := copyMap(outerRef)
		for step := 0; step < 300; step++ {
			ops++
			var kv KV = inner
			ref := innerRef
			if rng.Intn(4) == 0 {
				kv, ref = outer, outerRef // writes below the inner cache show through it
			}
			switch op := rng.Intn(10); {
			case op < 3:
				k, v := randKey(rng), fmt.Sprintf("v%d.%d", round, step)
				_ = kv.Set(k, []byte(v))
				ref[string(k)] = v
				if kv == KV(outer) {
					if _, shadowed := innerDirty(inner, k); !shadowed {
						innerRef[string(k)] = v
					}
				}
			case op < 5:
				k := randKey(rng)
				_ = kv.Delete(k)
				delete(ref, string(k))
				if kv == KV(outer) {
					if _, shadowed := innerDirty(inner, k); !shadowed {
						delete(innerRef, string(k))
					}
				}
			case op < 6:
				k := randKey(rng)
				got, _ := kv.Get(k)
				want, ok := ref[string(k)]
				if (got != nil) != ok || string(got) != want {
					t.Fatalf("round %d step %d: Get(%x) = %q, want %q (present %v)", round, step, k, got, want, ok)
				}
			case op < 9:
				var start, end []byte
				if rng.Intn(3) > 0 {
					start = randKey(rng)
				}
				if rng.Intn(3) > 0 {
					end = randKey(rng)
				}
				limit := -1
				if rng.Intn(2) == 0 {
					limit = 1 + rng.Intn(4)
				}
				got, want := kvIterate(t, kv, start, end, limit), refIterate(ref, start, end, limit)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("round %d step %d: Iterate(%x, %x, limit %d)\n got  %v\n want %v", round, step, start, end, limit, got, want)
				}
			default:
				if rng.Intn(2) == 0 {
					if err := inner.Write(); err != nil {
						t.Fatal(err)
					}
					outerRef = copyMap(innerRef)
				} else {
					inner.Discard()
					innerRef = copyMap(outerRef)
				}
			}
			// The store under both caches never changes until the outer one is written.
			if step%50 == 0 {
				if got, want := kvIterate(t, parent, nil, nil, -1), refIterate(parentRef, nil, nil, -1); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("the parent changed before Write")
				}
			}
		}
		if err := inner.Write(); err != nil {
			t.Fatal(err)
		}
		if err := outer.Write(); err != nil {
			t.Fatal(err)
		}
		if got, want := kvIterate(t, parent, nil, nil, -1), refIterate(innerRef, nil, nil, -1); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: after Write\n got  %v\n want %v", round, got, want)
		}
		if len(inner.dirty) != 0 || len(outer.dirty) != 0 {
			t.Fatal("Write left buffered entries")
		}
	}
	t.Logf("%d cache operations checked", ops)
}

func innerDirty(c *Cache, k []byte) (cacheEntry, bool) {
	e, ok := c.dirty[string(k)]
	return e, ok
}

// recordingKV logs the writes it receives.
type recordingKV struct {
	*MemStore
	log []string
}

func (r *recordingKV) Set(k, v []byte) error {
	r.log = append(r.log, fmt.Sprintf("set %x", k))
	return r.MemStore.Set(k, v)
}

func (r *recordingKV) Delete(k []byte) error {
	r.log = append(r.log, fmt.Sprintf("del %x", k))
	return r.MemStore.Delete(k)
}

func TestCacheWriteOrderIsAscending(t *testing.T) {
	rec := &recordingKV{MemStore: NewMemStore()}
	c := NewCache(rec)
	for _, k := range []string{"\xff", "b", "a\x00", "a", "\x00"} {
		_ = c.Set([]byte(k), []byte("x"))
	}
	_ = c.Delete([]byte("a\x00"))
	if err := c.Write(); err != nil {
		t.Fatal(err)
	}
	want := "[set 00 set 61 del 6100 set 62 set ff]"
	if got := fmt.Sprint(rec.log); got != want {
		t.Fatalf("write order %s, want %s", got, want)
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := map[string][]byte{
		"\x01":         {0x02},
		"\x01\xff":     {0x02},
		"\x01\x02\xff": {0x01, 0x03},
		"\xff\xff":     nil,
		"":             nil,
	}
	for in, want := range cases {
		if got := prefixEnd([]byte(in)); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("prefixEnd(%x) = %x, want %x", in, got, want)
		}
	}
}
