package simulation

import (
	"bytes"

	"github.com/google/btree"
)

// orderedKV is the in-memory store the simulated chain runs on: a B-tree, so that the state
// machine's range scans (pending jobs, deadlines, providers) cost the size of the range rather
// than a sort of the whole state, which contracts.MemStore pays on every Iterate.
type orderedKV struct {
	t *btree.BTreeG[kvItem]
}

type kvItem struct {
	k, v []byte
}

func kvLess(a, b kvItem) bool { return bytes.Compare(a.k, b.k) < 0 }

func newOrderedKV() *orderedKV { return &orderedKV{t: btree.NewG(32, kvLess)} }

func (s *orderedKV) Get(key []byte) ([]byte, error) {
	it, ok := s.t.Get(kvItem{k: key})
	if !ok {
		return nil, nil
	}
	return it.v, nil
}

func (s *orderedKV) Set(key, value []byte) error {
	s.t.ReplaceOrInsert(kvItem{k: append([]byte(nil), key...), v: append([]byte(nil), value...)})
	return nil
}

func (s *orderedKV) Delete(key []byte) error {
	s.t.Delete(kvItem{k: key})
	return nil
}

// Iterate visits [start, end) in ascending order. The state machine may write to the store
// from inside fn's caller only after Iterate returns, as contracts' KV contract requires, so
// the tree is not modified during the walk.
func (s *orderedKV) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	visit := func(it kvItem) bool { return fn(it.k, it.v) }
	switch {
	case start == nil && end == nil:
		s.t.Ascend(visit)
	case start == nil:
		s.t.AscendLessThan(kvItem{k: end}, visit)
	case end == nil:
		s.t.AscendGreaterOrEqual(kvItem{k: start}, visit)
	default:
		s.t.AscendRange(kvItem{k: start}, kvItem{k: end}, visit)
	}
	return nil
}
