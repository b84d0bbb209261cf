package contracts

import (
	"bytes"
	"sort"
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
}

type cacheEntry struct {
	value   []byte
	deleted bool
}

// NewCache returns an empty write buffer over parent.
func NewCache(parent KV) *Cache {
	return &Cache{parent: parent, dirty: make(map[string]cacheEntry)}
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
	c.dirty[string(key)] = cacheEntry{value: append([]byte(nil), value...)}
	return nil
}

func (c *Cache) Delete(key []byte) error {
	c.dirty[string(key)] = cacheEntry{deleted: true}
	return nil
}

func (c *Cache) sortedDirty(start, end []byte) []string {
	keys := make([]string, 0, len(c.dirty))
	for k := range c.dirty {
		kb := []byte(k)
		if start != nil && bytes.Compare(kb, start) < 0 {
			continue
		}
		if end != nil && bytes.Compare(kb, end) >= 0 {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
	return nil
}

// Discard drops the buffered writes.
func (c *Cache) Discard() { clear(c.dirty) }

// MemStore is an in-memory KV for tests and the simulator. It is not a Merkle store.
type MemStore struct {
	data map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{data: make(map[string][]byte)} }

func (m *MemStore) Get(key []byte) ([]byte, error) { return m.data[string(key)], nil }

func (m *MemStore) Set(key, value []byte) error {
	m.data[string(key)] = append([]byte(nil), value...)
	return nil
}

func (m *MemStore) Delete(key []byte) error {
	delete(m.data, string(key))
	return nil
}

func (m *MemStore) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	keys := make([]string, 0, len(m.data))
	lo, hi := string(start), string(end) // Go orders strings bytewise, as bytes.Compare does
	for k := range m.data {
		if (start == nil || k >= lo) && (end == nil || k < hi) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), m.data[k]) {
			return nil
		}
	}
	return nil
}
