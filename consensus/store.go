package consensus

import (
	"errors"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/ciro-network/ciro-node/contracts"
)

// StateStore is the versioned Merkle store the application keeps its state in. Writes go to a
// working tree; Commit makes them a new version whose root hash is the app hash. storage's
// statedb implements it over badger.
type StateStore interface {
	contracts.KV
	// WorkingHash is the root hash including uncommitted writes.
	WorkingHash() []byte
	// Commit saves the working tree as the next version.
	Commit() (hash []byte, version int64, err error)
	// Rollback drops uncommitted writes.
	Rollback()
	// Version is the last committed version, which the app keeps equal to the block height.
	Version() int64
	// LastHash is the root hash of the last committed version.
	LastHash() []byte
	// GetAt and IterateAt read a committed version (0 means the latest).
	GetAt(key []byte, version int64) ([]byte, error)
	IterateAt(version int64, start, end []byte, fn func(key, value []byte) bool) error
	// Prove reads a committed key with an ICS23 proof of its presence or absence.
	Prove(key []byte, version int64) ([]byte, *ics23.CommitmentProof, error)
	// ReaderAt reads a committed version (0 means the latest) without holding the store's
	// lock, so that a query's scan runs beside block execution rather than stalling it.
	ReaderAt(version int64) (StateReader, error)
}

// StateReader reads one committed version of a StateStore.
type StateReader = interface {
	Get(key []byte) ([]byte, error)
	Iterate(start, end []byte, fn func(key, value []byte) bool) error
}

// readerView is a StateReader as a read-only contracts.KV.
type readerView struct{ StateReader }

func (readerView) Set(_, _ []byte) error { return errReadOnly }
func (readerView) Delete(_ []byte) error { return errReadOnly }

var errReadOnly = errors.New("consensus: committed state is read-only")

// committedView reads one committed version of a StateStore as a read-only contracts.KV, so
// that CheckTx and queries never see a block that is still executing.
type committedView struct {
	store   StateStore
	version int64
}

func (v committedView) Get(key []byte) ([]byte, error) { return v.store.GetAt(key, v.version) }
func (v committedView) Set(_, _ []byte) error          { return errReadOnly }
func (v committedView) Delete(_ []byte) error          { return errReadOnly }
func (v committedView) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	return v.store.IterateAt(v.version, start, end, fn)
}
