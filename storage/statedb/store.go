package statedb

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/cosmos/iavl"
	ics23 "github.com/cosmos/ics23/go"
)

// Errors of the Store.
var (
	ErrClosed          = errors.New("statedb: store is closed")
	ErrVersionNotFound = errors.New("statedb: version not available")
	ErrInvalidProof    = errors.New("statedb: invalid proof")
	// ErrValueEmpty: the Store refuses empty values, because ICS23 cannot
	// prove an empty leaf, nor so the absence of a key next to one.
	ErrValueEmpty = errors.New("statedb: value cannot be empty")
)

// DefaultCacheSize is the iavl node cache size used when Options.CacheSize is zero.
const DefaultCacheSize = 100_000

// noFlush is iavl's batch flush threshold: high enough that iavl never flushes
// part of a version early, so each SaveVersion reaches badger as one atomic batch.
const noFlush = math.MaxInt / 2

// memTableSizeOverride, when non-zero, replaces badger's memtable size (tests
// shrink it to push commits through the batch journal).
var memTableSizeOverride int64

// Options configure Open.
type Options struct {
	Dir        string       // badger directory; empty means in-memory badger (tests, simulation)
	CacheSize  int          // iavl node cache; zero means DefaultCacheSize
	KeepRecent int64        // committed versions kept; older ones pruned after each Commit; zero keeps all
	Logger     *slog.Logger // nil means discard
}

// Store is a versioned Merkle key-value store: an IAVL tree over badger. It
// has one working (uncommitted) state, changed by Set and Delete and read by
// Get and Iterate, and committed versions 1, 2, ... made by Commit and read by
// GetAt, IterateAt and Prove. It is safe for concurrent use; every method
// holds one mutex, so callbacks of Iterate and IterateAt must not call back
// into the Store.
type Store struct {
	mu         sync.Mutex
	db         *badgerDB
	tree       *iavl.MutableTree
	keepRecent int64
	log        *slog.Logger
}

// Open opens (or creates) the store in opts.Dir and loads its latest
// committed version.
func Open(opts Options) (*Store, error) {
	if opts.KeepRecent < 0 {
		return nil, fmt.Errorf("statedb: KeepRecent %d is negative", opts.KeepRecent)
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("statedb: CacheSize %d is negative", opts.CacheSize)
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	cacheSize := opts.CacheSize
	if cacheSize == 0 {
		cacheSize = DefaultCacheSize
	}
	db, err := openBadgerDB(badgerOptions(opts.Dir, memTableSizeOverride, lg))
	if err != nil {
		return nil, err
	}
	// The fast-node index is skipped: reads walk the tree (through the node
	// cache), and every byte iavl writes belongs to a versioned node, so a
	// version is written by exactly one batch.
	tree := iavl.NewMutableTree(db, cacheSize, true, lg,
		iavl.SyncOption(opts.Dir != ""),
		iavl.FlushThresholdOption(noFlush),
	)
	if _, err := tree.Load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("statedb: load latest version: %w", err)
	}
	lg.Debug("statedb opened", "dir", opts.Dir, "version", tree.Version())
	return &Store{db: db, tree: tree, keepRecent: opts.KeepRecent, log: lg}, nil
}

// Get reads key from the working state; it returns nil, nil when key is absent.
func (s *Store) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrKeyEmpty
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil, ErrClosed
	}
	v, err := s.tree.Get(key)
	if err != nil {
		return nil, fmt.Errorf("statedb: get: %w", err)
	}
	return bytes.Clone(v), nil
}

// Set writes key in the working state. value must be non-empty (see ErrValueEmpty).
func (s *Store) Set(key, value []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	if value == nil {
		return ErrValueNil
	}
	if len(value) == 0 {
		return ErrValueEmpty
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return ErrClosed
	}
	if _, err := s.tree.Set(bytes.Clone(key), bytes.Clone(value)); err != nil {
		return fmt.Errorf("statedb: set: %w", err)
	}
	return nil
}

// Delete removes key from the working state; deleting an absent key is no error.
func (s *Store) Delete(key []byte) error {
	if len(key) == 0 {
		return ErrKeyEmpty
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return ErrClosed
	}
	if _, _, err := s.tree.Remove(key); err != nil {
		return fmt.Errorf("statedb: delete: %w", err)
	}
	return nil
}

// Iterate visits working-state keys in [start, end) ascending (nil or empty
// bounds are open); fn returns false to stop. fn gets copies it may keep.
func (s *Store) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return ErrClosed
	}
	return iterate(s.tree.ImmutableTree, start, end, fn)
}

func iterate(t *iavl.ImmutableTree, start, end []byte, fn func(key, value []byte) bool) error {
	if len(start) == 0 {
		start = nil
	}
	if len(end) == 0 {
		end = nil
	}
	if start != nil && end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	itr, err := t.Iterator(start, end, true)
	if err != nil {
		return fmt.Errorf("statedb: iterator: %w", err)
	}
	for ; itr.Valid(); itr.Next() {
		if !fn(bytes.Clone(itr.Key()), bytes.Clone(itr.Value())) {
			break
		}
	}
	err = itr.Error()
	if cerr := itr.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("statedb: iterate: %w", err)
	}
	return nil
}

// WorkingHash is the root hash of the working state, uncommitted changes included.
func (s *Store) WorkingHash() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil
	}
	return bytes.Clone(s.tree.WorkingHash())
}

// Commit saves the working state as the next version (the first is 1) and
// returns its root hash, then prunes versions older than the KeepRecent most
// recent. The new version is durable when Commit returns. If only pruning
// fails, Commit returns the new hash and version along with the error; the
// versions left unpruned are pruned by a later Commit.
func (s *Store) Commit() (hash []byte, version int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil, 0, ErrClosed
	}
	hash, version, err = s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("statedb: save version: %w", err)
	}
	if s.keepRecent > 0 && version > s.keepRecent {
		if err := s.tree.DeleteVersionsTo(version - s.keepRecent); err != nil {
			return bytes.Clone(hash), version, fmt.Errorf("statedb: prune to version %d: %w", version-s.keepRecent, err)
		}
	}
	return bytes.Clone(hash), version, nil
}

// Rollback discards uncommitted changes, back to the last committed version.
func (s *Store) Rollback() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree != nil {
		s.tree.Rollback()
	}
}

// Version is the last committed version (0 when nothing was committed).
func (s *Store) Version() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return 0
	}
	return s.tree.Version()
}

// LastHash is the root hash of the last committed version (the hash of the
// empty tree, SHA-256 of nothing, when nothing was committed).
func (s *Store) LastHash() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil
	}
	return bytes.Clone(s.tree.Hash())
}

// committed returns the tree of committed version (0 = latest committed), or
// nil when nothing was committed and version is 0. Callers hold s.mu.
func (s *Store) committed(version int64) (*iavl.ImmutableTree, error) {
	if s.tree == nil {
		return nil, ErrClosed
	}
	latest := s.tree.Version()
	if version < 0 || version > latest {
		return nil, fmt.Errorf("%w: %d (latest %d)", ErrVersionNotFound, version, latest)
	}
	if version == 0 {
		if latest == 0 {
			return nil, nil
		}
		version = latest
	}
	if !s.tree.VersionExists(version) {
		return nil, fmt.Errorf("%w: %d was pruned", ErrVersionNotFound, version)
	}
	t, err := s.tree.GetImmutable(version)
	if err != nil {
		return nil, fmt.Errorf("%w: %d: %w", ErrVersionNotFound, version, err)
	}
	return t, nil
}

// GetAt reads key at a committed version (0 = latest committed); nil, nil
// when absent. A version that is pruned or not yet committed gives an error
// wrapping ErrVersionNotFound.
func (s *Store) GetAt(key []byte, version int64) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrKeyEmpty
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.committed(version)
	if err != nil || t == nil {
		return nil, err
	}
	v, err := t.Get(key)
	if err != nil {
		return nil, fmt.Errorf("statedb: get at %d: %w", version, err)
	}
	return bytes.Clone(v), nil
}

// IterateAt is Iterate over a committed version (0 = latest committed).
func (s *Store) IterateAt(version int64, start, end []byte, fn func(key, value []byte) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.committed(version)
	if err != nil || t == nil {
		return err
	}
	return iterate(t, start, end, fn)
}

// Prove returns the value of key at a committed version (0 = latest) with an
// ICS23 existence proof, or nil with a non-existence proof when key is
// absent. There is no proof in an empty tree.
func (s *Store) Prove(key []byte, version int64) (value []byte, proof *ics23.CommitmentProof, err error) {
	if len(key) == 0 {
		return nil, nil, ErrKeyEmpty
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.committed(version)
	if err != nil {
		return nil, nil, err
	}
	if t == nil || t.Size() == 0 {
		return nil, nil, fmt.Errorf("statedb: prove: the tree at version %d is empty", version)
	}
	value, err = t.Get(key)
	if err != nil {
		return nil, nil, fmt.Errorf("statedb: prove: get: %w", err)
	}
	if value != nil {
		proof, err = t.GetMembershipProof(key)
	} else {
		proof, err = t.GetNonMembershipProof(key)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("statedb: prove: %w", err)
	}
	return bytes.Clone(value), proof, nil
}

// Close closes the store; uncommitted changes are lost. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil
	}
	terr := s.tree.Close()
	s.tree = nil
	derr := s.db.Close()
	if terr != nil {
		return fmt.Errorf("statedb: close tree: %w", terr)
	}
	return derr
}

// VerifyProof checks an existence proof (value non-nil) or a non-existence
// proof (value nil) of key against root, using ics23.IavlSpec. It returns nil
// when the proof holds and an error wrapping ErrInvalidProof otherwise.
func VerifyProof(root, key, value []byte, proof *ics23.CommitmentProof) error {
	if proof == nil {
		return fmt.Errorf("%w: no proof", ErrInvalidProof)
	}
	if value != nil {
		if !ics23.VerifyMembership(ics23.IavlSpec, root, proof, key, value) {
			return fmt.Errorf("%w: existence of key %x", ErrInvalidProof, key)
		}
		return nil
	}
	if !ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, key) {
		return fmt.Errorf("%w: non-existence of key %x", ErrInvalidProof, key)
	}
	return nil
}

// Reader reads one committed version. It is the same type as consensus's StateReader, so that
// the Store satisfies consensus's StateStore without either package importing the other.
type Reader = interface {
	Get(key []byte) ([]byte, error)
	Iterate(start, end []byte, fn func(key, value []byte) bool) error
}

// ReaderAt returns a reader of a committed version (0 = latest committed) that holds no lock
// of the Store: a committed IAVL version is immutable, so a long scan of it (a query) runs
// alongside block execution instead of stalling it. Reads of a version pruned meanwhile fail.
func (s *Store) ReaderAt(version int64) (Reader, error) {
	s.mu.Lock()
	t, err := s.committed(version)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return emptyReader{}, nil
	}
	return snapshot{t: t}, nil
}

type snapshot struct{ t *iavl.ImmutableTree }

func (r snapshot) Get(key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, ErrKeyEmpty
	}
	v, err := r.t.Get(key)
	if err != nil {
		return nil, fmt.Errorf("statedb: get: %w", err)
	}
	return bytes.Clone(v), nil
}

func (r snapshot) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return iterate(r.t, start, end, fn)
}

type emptyReader struct{}

func (emptyReader) Get([]byte) ([]byte, error)                                 { return nil, nil }
func (emptyReader) Iterate([]byte, []byte, func(key, value []byte) bool) error { return nil }
