package market

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/ciro-network/ciro-node/internal/badgerutil"
)

// Phase is where the provider agent is with one assignment. Phases only move forward.
type Phase string

// The phases of an assignment in the journal.
const (
	PhaseAccepted  Phase = "accepted"  // seen on chain, not started
	PhaseRunning   Phase = "running"   // fetching inputs or executing
	PhaseExecuted  Phase = "executed"  // result stored; OutputCID and ResultCID are set
	PhaseSending   Phase = "sending"   // SubmitResult or CommitResult broadcast; it may or may not have committed
	PhaseCommitted Phase = "committed" // a redundant slot's seal committed; the reveal is due
	PhaseSubmitted Phase = "submitted" // SubmitResult committed
	PhaseDone      Phase = "done"      // nothing more to do (answered, settled, expired or given up)
)

// terminal phases need no more work after a restart.
func (p Phase) terminal() bool { return p == PhaseSubmitted || p == PhaseDone }

// Entry is the journal's record of one assignment.
type Entry struct {
	JobID     uint64 `json:"job_id"`
	Slot      int    `json:"slot"`
	Phase     Phase  `json:"phase"`
	OutputCID string `json:"output_cid,omitempty"`
	ResultCID string `json:"result_cid,omitempty"`
	// Salt is the hex salt of a redundant slot's seal, journalled before the seal is sent: a
	// provider that loses it cannot reveal and is slashed like a wrong result.
	Salt string    `json:"salt,omitempty"`
	Note string    `json:"note,omitempty"`
	Time time.Time `json:"time"`
}

// Journal is the provider agent's durable record of its assignments, one record per job in a
// badger/v4 database opened with synchronous writes: Record returns once the entry is on disk.
// A restarted agent reads it to resume in-flight jobs; together with the chain's own record of
// answered slots it keeps the agent from submitting a result twice. The entries are also held
// in memory for reads.
type Journal struct {
	mu      sync.Mutex
	db      *badger.DB
	entries map[uint64]Entry
}

// journalPrefix keys a job's entry: journalPrefix, then the job id as 8 big-endian bytes.
const journalPrefix = "job/"

func journalKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(journalPrefix), id)
}

// OpenJournal opens or creates the journal database in the directory dir.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("market: journal dir: %w", err)
	}
	// A SIGKILL can leave an empty memtable file that badger then refuses to open.
	if err := badgerutil.RemoveEmptyMemtables(dir); err != nil {
		return nil, fmt.Errorf("market: journal %s: %w", dir, err)
	}
	// The journal is a few hundred bytes per job: small tables and value-log files keep its
	// footprint in step with that.
	opts := badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).
		WithMemTableSize(4 << 20).WithValueThreshold(64 << 10).WithValueLogFileSize(16 << 20).WithBlockCacheSize(1 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("market: open journal %s: %w", dir, err)
	}
	j := &Journal{db: db, entries: map[uint64]Entry{}}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(journalPrefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e Entry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("entry %x: %w", it.Item().Key(), err)
			}
			j.entries[e.JobID] = e
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("market: read journal %s: %w", dir, err)
	}
	return j, nil
}

func (j *Journal) list() []Entry {
	out := make([]Entry, 0, len(j.entries))
	for _, e := range j.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].JobID < out[b].JobID })
	return out
}

// Record stores e durably (written and synced before it returns). Fields e leaves empty keep
// their journalled values.
func (j *Journal) Record(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.db == nil {
		return fmt.Errorf("market: journal is closed")
	}
	old := j.entries[e.JobID]
	if e.OutputCID == "" {
		e.OutputCID = old.OutputCID
	}
	if e.ResultCID == "" {
		e.ResultCID = old.ResultCID
	}
	if e.Salt == "" {
		e.Salt = old.Salt
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := j.db.Update(func(txn *badger.Txn) error { return txn.Set(journalKey(e.JobID), b) }); err != nil {
		return fmt.Errorf("market: journal write: %w", err)
	}
	j.entries[e.JobID] = e
	return nil
}

// Get returns the journalled entry of a job.
func (j *Journal) Get(id uint64) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[id]
	return e, ok
}

// Entries lists every entry in job-id order.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.list()
}

// Close closes the database.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.db == nil {
		return nil
	}
	err := j.db.Close()
	j.db = nil
	return err
}
