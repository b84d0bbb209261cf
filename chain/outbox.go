package chain

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/dgraph-io/badger/v4"

	"github.com/ciro-network/ciro-node/chain/checkpoint"
	"github.com/ciro-network/ciro-node/internal/badgerutil"
)

// State is where a checkpoint stands in the outbox.
type State uint8

const (
	// Pending: not yet sent, or to be sent again.
	Pending State = iota + 1
	// Sent: a transaction carrying it was signed and its hash written before it was sent; it may
	// or may not have reached Starknet.
	Sent
	// Confirmed: the transaction succeeded and is ACCEPTED_ON_L2.
	Confirmed
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Sent:
		return "sent"
	case Confirmed:
		return "confirmed"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Record is one checkpoint in the outbox and what became of it.
type Record struct {
	Nonce      uint64 `json:"nonce"`
	Submission []byte `json:"submission"` // checkpoint.Submission.MarshalBinary
	Digest     string `json:"digest"`
	State      State  `json:"state"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"last_error,omitempty"`
	// Set when Sent: the transaction and the account nonce it used.
	TxHash       string `json:"tx_hash,omitempty"`
	AccountNonce uint64 `json:"account_nonce,omitempty"`
	// Set when Confirmed.
	Fee     string          `json:"fee_fri,omitempty"`
	Block   uint64          `json:"block,omitempty"`
	Receipt json.RawMessage `json:"receipt,omitempty"`
	// Elsewhere is set when the registry already held this checkpoint, relayed by someone else,
	// before this relayer sent it: it is confirmed with no invoke of ours.
	Elsewhere bool `json:"landed_elsewhere,omitempty"`
}

// decodeRecord reads a stored record; the bytes come from disk, so they are checked.
func decodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("outbox: decode record: %w", err)
	}
	if r.State < Pending || r.State > Confirmed {
		return nil, fmt.Errorf("outbox: record %d has unknown state %d", r.Nonce, r.State)
	}
	sub, err := checkpoint.UnmarshalSubmission(r.Submission)
	if err != nil {
		return nil, fmt.Errorf("outbox: record %d: %w", r.Nonce, err)
	}
	if sub.Checkpoint.Nonce != r.Nonce {
		return nil, fmt.Errorf("outbox: record %d holds checkpoint %d", r.Nonce, sub.Checkpoint.Nonce)
	}
	return &r, nil
}

// ErrConflict is returned when a checkpoint is enqueued under a nonce that already holds a
// different checkpoint.
var ErrConflict = errors.New("outbox: a different checkpoint already holds this nonce")

// Outbox is the relayer's durable queue of checkpoints, in badger, keyed by checkpoint nonce.
// Every change is one badger transaction, synced before it returns, so a SIGKILL leaves each
// record either before or after a change.
type Outbox struct {
	db *badger.DB
}

// OpenOutbox opens (or creates) the outbox in dir.
func OpenOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := badgerutil.RemoveEmptyMemtables(dir); err != nil {
		return nil, err
	}
	opts := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).
		WithMemTableSize(8 << 20).WithNumVersionsToKeep(1)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", dir, err)
	}
	return &Outbox{db: db}, nil
}

// Close closes the database.
func (o *Outbox) Close() error { return o.db.Close() }

func recordKey(nonce uint64) []byte {
	k := []byte("cp/\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint64(k[3:], nonce)
	return k
}

// Put enqueues a signed checkpoint. Enqueuing the same checkpoint again is a no-op, so a node
// may enqueue on every restart without care.
func (o *Outbox) Put(sub *checkpoint.Submission) error {
	raw, err := sub.MarshalBinary()
	if err != nil {
		return err
	}
	digest := sub.Checkpoint.Digest().String()
	return o.db.Update(func(txn *badger.Txn) error {
		key := recordKey(sub.Checkpoint.Nonce)
		item, err := txn.Get(key)
		if err == nil {
			var old *Record
			if err := item.Value(func(v []byte) error { old, err = decodeRecord(v); return err }); err != nil {
				return err
			}
			if old.Digest != digest {
				return fmt.Errorf("%w: nonce %d holds %s, not %s", ErrConflict, sub.Checkpoint.Nonce, old.Digest, digest)
			}
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		rec := Record{Nonce: sub.Checkpoint.Nonce, Submission: raw, Digest: digest, State: Pending}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return txn.Set(key, b)
	})
}

// update applies fn to the records of nonces in one transaction.
func (o *Outbox) update(nonces []uint64, fn func(*Record)) error {
	return o.db.Update(func(txn *badger.Txn) error {
		for _, n := range nonces {
			item, err := txn.Get(recordKey(n))
			if err != nil {
				return fmt.Errorf("outbox: record %d: %w", n, err)
			}
			var rec *Record
			if err := item.Value(func(v []byte) error { rec, err = decodeRecord(v); return err }); err != nil {
				return err
			}
			fn(rec)
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := txn.Set(recordKey(n), b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Records lists every record in nonce order.
func (o *Outbox) Records() ([]*Record, error) {
	var out []*Record
	err := o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("cp/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec *Record
			var derr error
			if err := it.Item().Value(func(v []byte) error { rec, derr = decodeRecord(v); return derr }); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}

// Status summarises the outbox, for an operator's `checkpoint status`.
type Status struct {
	Pending   int `json:"pending"`
	Sent      int `json:"sent"`
	Confirmed int `json:"confirmed"`
	// LastConfirmed is the highest confirmed checkpoint nonce, with its invoke and block.
	LastConfirmed uint64 `json:"last_confirmed"`
	LastTxHash    string `json:"last_tx_hash,omitempty"`
	LastBlock     uint64 `json:"last_block,omitempty"`
}

// Status reads the outbox's summary.
func (o *Outbox) Status() (Status, error) {
	var st Status
	recs, err := o.Records()
	if err != nil {
		return st, err
	}
	for _, r := range recs {
		switch r.State {
		case Pending:
			st.Pending++
		case Sent:
			st.Sent++
		case Confirmed:
			st.Confirmed++
			if r.Nonce >= st.LastConfirmed {
				st.LastConfirmed, st.LastTxHash, st.LastBlock = r.Nonce, r.TxHash, r.Block
			}
		}
	}
	return st, nil
}
