package contracts

import (
	"github.com/google/btree"
)

// KV is the storage the state machine needs. storage/ provides the Merkle store over badger
// that the node runs on; MemStore serves tests and the simulator.
type KV interface {
	// Get returns the value under key, or nil when there is none.
	Get(key []byte) ([]byte, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Iterate visits keys in [start, end) in ascending order; nil bounds are open. fn returns
	// false to stop early.
	Iterate(start, end []byte, fn func(key, value []byte) bool) error
}

// prefixEnd returns the smallest key greater than every key with the given prefix, or nil when
// there is none (a prefix of all 0xff bytes).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func iteratePrefix(kv KV, prefix []byte, fn func(key, value []byte) bool) error {
	return kv.Iterate(prefix, prefixEnd(prefix), fn)
}

// Cache buffers writes over a parent KV. Write flushes them in ascending key order, so that an
// order-sensitive Merkle tree under it gets the same inserts on every node; Discard drops them.
// Transactions run on a Cache so that a failed one leaves no trace.
type Cache struct {
	parent KV
	dirty  map[string]cacheEntry
	// keys orders the buffered keys, so that a ranged read costs the keys in its range, not
	// every buffered write: the auction reads small ranges many times in a block.
	keys *btree.BTreeG[string]
}

type cacheEntry struct {
	value   []byte
	deleted bool
}

// NewCache returns an empty write buffer over parent.
func NewCache(parent KV) *Cache {
	return &Cache{parent: parent, dirty: make(map[string]cacheEntry), keys: newKeyTree()}
}

func (c *Cache) Get(key []byte) ([]byte, error) {
	if e, ok := c.dirty[string(key)]; ok {
		if e.deleted {
			return nil, nil
		}
		return e.value, nil
	}
	return c.parent.Get(key)
}

func (c *Cache) Set(key, value []byte) error {
	c.put(string(key), cacheEntry{value: append([]byte(nil), value...)})
	return nil
}

func (c *Cache) Delete(key []byte) error {
	c.put(string(key), cacheEntry{deleted: true})
	return nil
}

func (c *Cache) put(k string, e cacheEntry) {
	if _, ok := c.dirty[k]; !ok {
		c.keys.ReplaceOrInsert(k)
	}
	c.dirty[k] = e
}

// sortedDirty lists the buffered keys in [start, end), ascending. The list is a copy, so the
// caller may write to the Cache while it walks it.
func (c *Cache) sortedDirty(start, end []byte) []string {
	return keysInRange(c.keys, start, end, -1)
}

func newKeyTree() *btree.BTreeG[string] {
	return btree.NewG(32, func(a, b string) bool { return a < b })
}

// keysInRange lists up to limit (all when negative) keys of t in [start, end), ascending. Go
// orders strings bytewise, as bytes.Compare does.
func keysInRange(t *btree.BTreeG[string], start, end []byte, limit int) []string {
	var out []string
	visit := func(k string) bool {
		if end != nil && k >= string(end) {
			return false
		}
		out = append(out, k)
		return limit < 0 || len(out) < limit
	}
	if start == nil {
		t.Ascend(visit)
	} else {
		t.AscendGreaterOrEqual(string(start), visit)
	}
	return out
}

// Iterate merges the buffered writes with the parent's keys, in ascending order.
func (c *Cache) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	dirty := c.sortedDirty(start, end)
	i := 0
	stopped := false
	// emitDirtyBelow emits buffered keys that sort before limit (all of them when limit is nil).
	emitDirtyBelow := func(limit []byte) bool {
		for i < len(dirty) && (limit == nil || dirty[i] < string(limit)) {
			e := c.dirty[dirty[i]]
			k := dirty[i]
			i++
			if !e.deleted && !fn([]byte(k), e.value) {
				return false
			}
		}
		return true
	}
	err := c.parent.Iterate(start, end, func(key, value []byte) bool {
		if !emitDirtyBelow(key) {
			stopped = true
			return false
		}
		if _, shadowed := c.dirty[string(key)]; shadowed {
			return true // emitted (or deleted) from the buffer in its turn
		}
		if !fn(key, value) {
			stopped = true
			return false
		}
		return true
	})
	if err != nil || stopped {
		return err
	}
	// Buffered keys past the parent's last key, and one equal to it, are still due.
	emitDirtyBelow(nil)
	return nil
}

// Write flushes the buffered writes to the parent in ascending key order and empties the buffer.
func (c *Cache) Write() error {
	for _, k := range c.sortedDirty(nil, nil) {
		e := c.dirty[k]
		var err error
		if e.deleted {
			err = c.parent.Delete([]byte(k))
		} else {
			err = c.parent.Set([]byte(k), e.value)
		}
		if err != nil {
			return err
		}
	}
	clear(c.dirty)
	c.keys.Clear(false)
	return nil
}

// Discard drops the buffered writes.
func (c *Cache) Discard() {
	clear(c.dirty)
	c.keys.Clear(false)
}

// MemStore is an in-memory KV for tests and the simulator. It is not a Merkle store.
type MemStore struct {
	data map[string][]byte
	keys *btree.BTreeG[string]
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{data: make(map[string][]byte), keys: newKeyTree()} }

func (m *MemStore) Get(key []byte) ([]byte, error) { return m.data[string(key)], nil }

func (m *MemStore) Set(key, value []byte) error {
	if _, ok := m.data[string(key)]; !ok {
		m.keys.ReplaceOrInsert(string(key))
	}
	m.data[string(key)] = append([]byte(nil), value...)
	return nil
}

func (m *MemStore) Delete(key []byte) error {
	if _, ok := m.data[string(key)]; ok {
		delete(m.data, string(key))
		m.keys.Delete(string(key))
	}
	return nil
}

// memIterBatch is how many keys Iterate copies out of the tree at a time: fn may write to the
// store between batches, and an early stop costs at most one batch.
const memIterBatch = 64

func (m *MemStore) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	from := start
	for {
		batch := keysInRange(m.keys, from, end, memIterBatch)
		for _, k := range batch {
			v, ok := m.data[k]
			if !ok {
				continue // deleted by fn since the batch was copied
			}
			if !fn([]byte(k), v) {
				return nil
			}
		}
		if len(batch) < memIterBatch {
			return nil
		}
		from = append([]byte(batch[len(batch)-1]), 0)
	}
}
