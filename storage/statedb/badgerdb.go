package statedb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/ciro-network/ciro-node/internal/badgerutil"
	"log/slog"
	"sync"
	"sync/atomic"

	corestore "cosmossdk.io/core/store"
	iavldb "github.com/cosmos/iavl/db"
	"github.com/dgraph-io/badger/v4"
)

// Errors of the DB adapter, matching the contract of iavl's db.DB.
var (
	ErrKeyEmpty    = errors.New("statedb: key cannot be empty")
	ErrValueNil    = errors.New("statedb: value cannot be nil")
	ErrBatchClosed = errors.New("statedb: batch has been written or closed")
	ErrDBClosed    = errors.New("statedb: database is closed")
)

// Key layout inside badger. Every key of the iavl DB lives under dataPrefix, so
// that the journal of oversized batches can share the database without ever
// showing up in iteration.
const (
	journalMarkerKey = "c" // value: number of journal chunks, big-endian uint64
	dataPrefix       = 'd'
	journalPrefix    = 'j' // 'j' + big-endian uint64 chunk index
)

// maxJournalChunk bounds the encoded size of one journal chunk.
const maxJournalChunk = 1 << 20

const (
	opSet    byte = 1
	opDelete byte = 2
)

// badgerOptions gives the badger options for dir (empty: in memory).
// memTableSize, when non-zero, overrides the memtable size (tests use it to
// make badger's transaction limit small and so exercise the journal).
func badgerOptions(dir string, memTableSize int64, lg *slog.Logger) badger.Options {
	var o badger.Options
	if dir == "" {
		o = badger.DefaultOptions("").WithInMemory(true).WithMemTableSize(16 << 20)
	} else {
		o = badger.DefaultOptions(dir)
	}
	if memTableSize > 0 {
		o = o.WithMemTableSize(memTableSize).WithValueThreshold(min(o.ValueThreshold, memTableSize/32))
	}
	return o.WithLogger(badgerLogger{lg}).WithBlockCacheSize(64 << 20)
}

// badgerLogger routes badger's logs to slog; badger's info chatter goes to debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug("badger: " + fmt.Sprintf(f, a...)) }

// badgerDB implements iavl's db.DB over badger/v4.
type badgerDB struct {
	db     *badger.DB
	closed atomic.Bool
	// chunkSize is the journal chunk size: well under badger's transaction
	// limit (15% of the memtable size) and its value size limit (the value
	// threshold, in memory), so that each chunk fits in one transaction.
	chunkSize int

	// journaled counts batches that went through the journal (for tests).
	journaled atomic.Int64
	// testHook, when set, is called at the named points of a journaled write;
	// a non-nil error aborts the write there, as a crash would.
	testHook func(point string) error
}

var _ iavldb.DB = (*badgerDB)(nil)

// openBadgerDB opens badger with opts and finishes any journaled batch that a
// crash interrupted.
func openBadgerDB(opts badger.Options) (*badgerDB, error) {
	if !opts.InMemory {
		if err := badgerutil.RemoveEmptyMemtables(opts.Dir); err != nil {
			return nil, fmt.Errorf("statedb: %w", err)
		}
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("statedb: open badger: %w", err)
	}
	b := &badgerDB{db: db, chunkSize: int(min(maxJournalChunk, opts.MemTableSize*15/100/4, opts.ValueThreshold/2))}
	if err := b.recoverJournal(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("statedb: recover batch journal: %w", err)
	}
	return b, nil
}

func dataKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = dataPrefix
	copy(k[1:], key)
	return k
}

func journalKey(i uint64) []byte {
	k := make([]byte, 9)
	k[0] = journalPrefix
	binary.BigEndian.PutUint64(k[1:], i)
	return k
}

// Get implements db.DB. The returned slice is a copy.
func (b *badgerDB) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrKeyEmpty
	}
	if b.closed.Load() {
		return nil, ErrDBClosed
	}
	var val []byte
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(dataKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		if err == nil && val == nil {
			val = []byte{}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("statedb: get: %w", err)
	}
	return val, nil
}

// Has implements db.DB.
func (b *badgerDB) Has(key []byte) (bool, error) {
	if len(key) == 0 {
		return false, ErrKeyEmpty
	}
	if b.closed.Load() {
		return false, ErrDBClosed
	}
	found := false
	err := b.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(dataKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("statedb: has: %w", err)
	}
	return found, nil
}

// Close implements db.DB.
func (b *badgerDB) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("statedb: close badger: %w", err)
	}
	return nil
}

// NewBatch implements db.DB.
func (b *badgerDB) NewBatch() corestore.Batch { return &badgerBatch{db: b, ops: []batchOp{}} }

// NewBatchWithSize implements db.DB. The size is only a hint; iavl passes its
// flush threshold here, which can be huge, so nothing is preallocated from it.
func (b *badgerDB) NewBatchWithSize(int) corestore.Batch { return b.NewBatch() }

// Iterator implements db.DB.
func (b *badgerDB) Iterator(start, end []byte) (corestore.Iterator, error) {
	return b.newIterator(start, end, false)
}

// ReverseIterator implements db.DB.
func (b *badgerDB) ReverseIterator(start, end []byte) (corestore.Iterator, error) {
	return b.newIterator(start, end, true)
}

func (b *badgerDB) newIterator(start, end []byte, reverse bool) (*badgerIterator, error) {
	if (start != nil && len(start) == 0) || (end != nil && len(end) == 0) {
		return nil, ErrKeyEmpty
	}
	if b.closed.Load() {
		return nil, ErrDBClosed
	}
	txn := b.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{
		PrefetchValues: false,
		Reverse:        reverse,
		Prefix:         []byte{dataPrefix},
	})
	bi := &badgerIterator{
		txn: txn, it: it, reverse: reverse,
		start: bytes.Clone(start), end: bytes.Clone(end),
	}
	if !reverse {
		if start == nil {
			it.Seek([]byte{dataPrefix})
		} else {
			it.Seek(dataKey(start))
		}
	} else {
		if end == nil {
			// In reverse mode Seek lands on the largest key <= the target:
			// the first key after the data prefix is above every data key.
			it.Seek([]byte{dataPrefix + 1})
		} else {
			target := dataKey(end)
			it.Seek(target)
			if it.Valid() && bytes.Equal(it.Item().Key(), target) {
				it.Next() // end is exclusive
			}
		}
	}
	bi.load()
	return bi, nil
}

// badgerIterator implements corestore.Iterator over a read-only badger
// transaction, so it sees a consistent snapshot taken at creation.
type badgerIterator struct {
	txn        *badger.Txn
	it         *badger.Iterator
	reverse    bool
	start, end []byte

	valid      bool
	key, value []byte
	err        error
}

var _ corestore.Iterator = (*badgerIterator)(nil)

// load positions the iterator's copy of key and value on badger's cursor, or
// marks it invalid when the cursor left the domain.
func (bi *badgerIterator) load() {
	bi.valid = false
	bi.key, bi.value = nil, nil
	if bi.err != nil || !bi.it.Valid() {
		return
	}
	item := bi.it.Item()
	k := item.Key()[1:]
	if !bi.reverse && bi.end != nil && bytes.Compare(k, bi.end) >= 0 {
		return
	}
	if bi.reverse && bi.start != nil && bytes.Compare(k, bi.start) < 0 {
		return
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		bi.err = fmt.Errorf("statedb: iterator value: %w", err)
		return
	}
	if v == nil {
		v = []byte{}
	}
	bi.key = bytes.Clone(k)
	bi.value = v
	bi.valid = true
}

// Domain implements corestore.Iterator.
func (bi *badgerIterator) Domain() ([]byte, []byte) { return bi.start, bi.end }

// Valid implements corestore.Iterator.
func (bi *badgerIterator) Valid() bool { return bi.valid }

// Next implements corestore.Iterator.
func (bi *badgerIterator) Next() {
	bi.assertValid()
	bi.it.Next()
	bi.load()
}

// Key implements corestore.Iterator. The slice is the caller's to keep.
func (bi *badgerIterator) Key() []byte {
	bi.assertValid()
	return bi.key
}

// Value implements corestore.Iterator. The slice is the caller's to keep.
func (bi *badgerIterator) Value() []byte {
	bi.assertValid()
	return bi.value
}

// Error implements corestore.Iterator.
func (bi *badgerIterator) Error() error { return bi.err }

// Close implements corestore.Iterator. It is idempotent.
func (bi *badgerIterator) Close() error {
	if bi.it != nil {
		bi.it.Close()
		bi.txn.Discard()
		bi.it, bi.txn = nil, nil
	}
	bi.valid = false
	return nil
}

func (bi *badgerIterator) assertValid() {
	if !bi.valid {
		panic("statedb: iterator is invalid")
	}
}

type batchOp struct {
	op         byte
	key, value []byte
}

// badgerBatch implements corestore.Batch. Its Write is atomic: a batch that
// fits in one badger transaction is committed as one; a larger one is written
// to a journal first (see writeJournaled).
type badgerBatch struct {
	mu   sync.Mutex
	db   *badgerDB
	ops  []batchOp // nil once written or closed
	size int
}

var _ corestore.Batch = (*badgerBatch)(nil)

// Set implements corestore.Batch. key and value must not be modified afterwards.
func (bb *badgerBatch) Set(key, value []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if value == nil {
		return ErrValueNil
	}
	bb.mu.Lock()
	defer bb.mu.Unlock()
	if bb.ops == nil {
		return ErrBatchClosed
	}
	bb.ops = append(bb.ops, batchOp{opSet, key, value})
	bb.size += len(key) + len(value)
	return nil
}

// Delete implements corestore.Batch.
func (bb *badgerBatch) Delete(key []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	bb.mu.Lock()
	defer bb.mu.Unlock()
	if bb.ops == nil {
		return ErrBatchClosed
	}
	bb.ops = append(bb.ops, batchOp{opDelete, key, nil})
	bb.size += len(key)
	return nil
}

// Write implements corestore.Batch.
func (bb *badgerBatch) Write() error { return bb.write(false) }

// WriteSync implements corestore.Batch: Write, then fsync badger's logs.
func (bb *badgerBatch) WriteSync() error { return bb.write(true) }

func (bb *badgerBatch) write(sync bool) error {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	if bb.ops == nil {
		return ErrBatchClosed
	}
	ops := bb.ops
	bb.ops, bb.size = nil, 0
	if bb.db.closed.Load() {
		return ErrDBClosed
	}
	if len(ops) == 0 {
		return nil
	}
	err := bb.db.writeTxn(ops)
	if errors.Is(err, badger.ErrTxnTooBig) {
		err = bb.db.writeJournaled(ops)
	}
	if err != nil {
		return fmt.Errorf("statedb: write batch: %w", err)
	}
	if sync {
		if err := bb.db.db.Sync(); err != nil {
			return fmt.Errorf("statedb: sync: %w", err)
		}
	}
	return nil
}

// Close implements corestore.Batch. It is idempotent.
func (bb *badgerBatch) Close() error {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	bb.ops, bb.size = nil, 0
	return nil
}

// GetByteSize implements corestore.Batch: the total size of keys and values.
func (bb *badgerBatch) GetByteSize() (int, error) {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	if bb.ops == nil {
		return 0, ErrBatchClosed
	}
	return bb.size, nil
}

// writeTxn applies ops in one badger transaction; badger.ErrTxnTooBig means
// nothing was written and the caller must use the journal.
func (b *badgerDB) writeTxn(ops []batchOp) error {
	txn := b.db.NewTransaction(true)
	defer txn.Discard()
	for _, op := range ops {
		var err error
		if op.op == opSet {
			err = txn.Set(dataKey(op.key), op.value)
		} else {
			err = txn.Delete(dataKey(op.key))
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

// lastOps keeps, in order, only the last op of each key: applying them gives
// the same state as applying all, and reapplying them is idempotent.
func lastOps(ops []batchOp) []batchOp {
	last := make(map[string]int, len(ops))
	for i, op := range ops {
		last[string(op.key)] = i
	}
	out := make([]batchOp, 0, len(last))
	for i, op := range ops {
		if last[string(op.key)] == i {
			out = append(out, op)
		}
	}
	return out
}

func encodeOp(buf []byte, op batchOp) []byte {
	buf = append(buf, op.op)
	buf = binary.AppendUvarint(buf, uint64(len(op.key)))
	buf = append(buf, op.key...)
	if op.op == opSet {
		buf = binary.AppendUvarint(buf, uint64(len(op.value)))
		buf = append(buf, op.value...)
	}
	return buf
}

func decodeOps(chunk []byte, ops []batchOp) ([]batchOp, error) {
	readBytes := func() ([]byte, error) {
		n, w := binary.Uvarint(chunk)
		if w <= 0 || n > uint64(len(chunk)-w) {
			return nil, errors.New("corrupt journal chunk")
		}
		b := chunk[w : w+int(n)]
		chunk = chunk[w+int(n):]
		return b, nil
	}
	for len(chunk) > 0 {
		op := batchOp{op: chunk[0]}
		chunk = chunk[1:]
		var err error
		if op.key, err = readBytes(); err != nil {
			return nil, err
		}
		switch op.op {
		case opSet:
			if op.value, err = readBytes(); err != nil {
				return nil, err
			}
		case opDelete:
		default:
			return nil, fmt.Errorf("corrupt journal chunk: op %d", op.op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// writeJournaled applies a batch too large for one badger transaction
// atomically with respect to crashes:
//
//  1. the ops are written as journal chunks (not yet visible as data);
//  2. a marker holding the chunk count is committed in one transaction: from
//     here on the batch counts as written, and open replays it if need be;
//  3. the ops are applied with a WriteBatch (several transactions);
//  4. the marker is deleted, then the chunks.
//
// A crash before 2 leaves only chunks, which open discards.
func (b *badgerDB) writeJournaled(ops []batchOp) error {
	ops = lastOps(ops)
	wb := b.db.NewWriteBatch()
	var chunks uint64
	buf := make([]byte, 0, b.chunkSize)
	for i, op := range ops {
		buf = encodeOp(buf, op)
		if len(buf) >= b.chunkSize || i == len(ops)-1 {
			if err := wb.Set(journalKey(chunks), buf); err != nil {
				wb.Cancel()
				return fmt.Errorf("journal chunk: %w", err)
			}
			chunks++
			buf = make([]byte, 0, b.chunkSize)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("journal chunks: %w", err)
	}
	// The marker must never be durable before the chunks it counts.
	if err := b.db.Sync(); err != nil {
		return fmt.Errorf("journal sync: %w", err)
	}
	if err := b.hook("journal-written"); err != nil {
		return err
	}
	marker := binary.BigEndian.AppendUint64(nil, chunks)
	if err := b.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(journalMarkerKey), marker)
	}); err != nil {
		return fmt.Errorf("journal marker: %w", err)
	}
	b.journaled.Add(1)
	if err := b.hook("journal-committed"); err != nil {
		return err
	}
	return b.applyJournaled(ops, chunks)
}

func (b *badgerDB) hook(point string) error {
	if b.testHook != nil {
		return b.testHook(point)
	}
	return nil
}

// applyJournaled applies ops, which the journal holds in chunks chunks, then
// removes the journal.
func (b *badgerDB) applyJournaled(ops []batchOp, chunks uint64) error {
	wb := b.db.NewWriteBatch()
	for _, op := range ops {
		var err error
		if op.op == opSet {
			err = wb.Set(dataKey(op.key), op.value)
		} else {
			err = wb.Delete(dataKey(op.key))
		}
		if err != nil {
			wb.Cancel()
			return fmt.Errorf("journal apply: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("journal apply: %w", err)
	}
	if err := b.db.Sync(); err != nil {
		return fmt.Errorf("journal sync: %w", err)
	}
	if err := b.db.Update(func(txn *badger.Txn) error {
		return txn.Delete([]byte(journalMarkerKey))
	}); err != nil {
		return fmt.Errorf("journal marker delete: %w", err)
	}
	return b.deleteJournalChunks(chunks)
}

// deleteJournalChunks removes chunks 0..n-1, or every chunk when n is 0.
func (b *badgerDB) deleteJournalChunks(n uint64) error {
	var keys [][]byte
	if n > 0 {
		for i := range n {
			keys = append(keys, journalKey(i))
		}
	} else {
		err := b.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{journalPrefix}})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("journal scan: %w", err)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	wb := b.db.NewWriteBatch()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			wb.Cancel()
			return fmt.Errorf("journal delete: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("journal delete: %w", err)
	}
	return nil
}

// recoverJournal finishes a journaled batch whose marker was committed, and
// discards chunks of one whose marker was not.
func (b *badgerDB) recoverJournal() error {
	var marker []byte
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(journalMarkerKey))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		marker, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return err
	}
	if marker == nil {
		return b.deleteJournalChunks(0)
	}
	if len(marker) != 8 {
		return fmt.Errorf("corrupt journal marker %x", marker)
	}
	chunks := binary.BigEndian.Uint64(marker)
	var ops []batchOp
	err = b.db.View(func(txn *badger.Txn) error {
		for i := range chunks {
			item, err := txn.Get(journalKey(i))
			if err != nil {
				return fmt.Errorf("journal chunk %d of %d: %w", i, chunks, err)
			}
			chunk, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if ops, err = decodeOps(chunk, ops); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.applyJournaled(ops, chunks); err != nil {
		return err
	}
	// Also drop any stray chunks beyond the counted ones.
	return b.deleteJournalChunks(0)
}
