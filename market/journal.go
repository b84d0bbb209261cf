package market

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Phase is where the provider agent is with one assignment. Phases only move forward.
type Phase string

// The phases of an assignment in the journal.
const (
	PhaseAccepted  Phase = "accepted"  // seen on chain, not started
	PhaseRunning   Phase = "running"   // fetching inputs or executing
	PhaseExecuted  Phase = "executed"  // result stored; OutputCID and ResultCID are set
	PhaseSending   Phase = "sending"   // SubmitResult broadcast; it may or may not have committed
	PhaseSubmitted Phase = "submitted" // SubmitResult committed
	PhaseDone      Phase = "done"      // nothing more to do (answered, settled, expired or given up)
)

// terminal phases need no more work after a restart.
func (p Phase) terminal() bool { return p == PhaseSubmitted || p == PhaseDone }

// Entry is the journal's record of one assignment.
type Entry struct {
	JobID     uint64    `json:"job_id"`
	Slot      int       `json:"slot"`
	Phase     Phase     `json:"phase"`
	OutputCID string    `json:"output_cid,omitempty"`
	ResultCID string    `json:"result_cid,omitempty"`
	Note      string    `json:"note,omitempty"`
	Time      time.Time `json:"time"`
}

// Journal is the provider agent's durable record of its assignments: an append-only JSON-lines
// file, fsynced after every record, compacted (one line per job, via a synced rename) when
// opened. A restarted agent reads it to resume in-flight jobs; together with the chain's own
// record of answered slots it keeps the agent from submitting a result twice. A torn last line
// (a crash mid-write) is ignored.
type Journal struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	entries map[uint64]Entry
}

// OpenJournal opens or creates the journal at path.
func OpenJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("market: journal dir: %w", err)
	}
	j := &Journal{path: path, entries: map[uint64]Entry{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Entry
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			j.entries[e.JobID] = e
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("market: read journal %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("market: open journal %s: %w", path, err)
	}
	if err := j.compact(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("market: open journal %s: %w", path, err)
	}
	j.f = f
	return j, nil
}

func (j *Journal) compact() error {
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("market: compact journal: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, e := range j.list() {
		b, _ := json.Marshal(e)
		w.Write(append(b, '\n'))
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(j.path))
	}
	if err != nil {
		return fmt.Errorf("market: compact journal: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (j *Journal) list() []Entry {
	out := make([]Entry, 0, len(j.entries))
	for _, e := range j.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].JobID < out[b].JobID })
	return out
}

// Record appends e durably (written and fsynced before it returns). Fields e leaves empty keep
// their journalled values.
func (j *Journal) Record(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("market: journal is closed")
	}
	old := j.entries[e.JobID]
	if e.OutputCID == "" {
		e.OutputCID = old.OutputCID
	}
	if e.ResultCID == "" {
		e.ResultCID = old.ResultCID
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("market: journal write: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("market: journal sync: %w", err)
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

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
