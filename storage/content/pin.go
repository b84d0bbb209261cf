package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	ipld "github.com/ipfs/go-ipld-format"
)

// PinKind labels why content is kept. GC treats every kind alike.
type PinKind string

// The pin kinds of the protocol's content.
const (
	PinModel  PinKind = "model"
	PinInput  PinKind = "input"
	PinResult PinKind = "result"
)

func (k PinKind) valid() bool { return k == PinModel || k == PinInput || k == PinResult }

// Pin keeps a DAG (recursively) from GC.
type Pin struct {
	CID     cid.Cid   `json:"-"`
	Kind    PinKind   `json:"kind"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

var pinPrefix = ds.NewKey("/ciro/pins")

func pinKey(c cid.Cid) ds.Key { return pinPrefix.ChildString(c.String()) }

// Pin fetches the whole DAG under c if it is not local, then pins it.
func (s *Store) Pin(ctx context.Context, c cid.Cid, kind PinKind, name string) error {
	if !kind.valid() {
		return fmt.Errorf("%w: %q", ErrBadPinKind, kind)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	if err := s.fetch(ctx, c, nil); err != nil {
		return err
	}
	return s.writePin(ctx, Pin{CID: c, Kind: kind, Name: name})
}

func (s *Store) writePin(ctx context.Context, p Pin) error {
	if p.Created.IsZero() {
		p.Created = time.Now().UTC()
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("content: encode pin: %w", err)
	}
	k := pinKey(p.CID)
	if err := s.ds.Put(ctx, k, b); err != nil {
		return fmt.Errorf("content: write pin %s: %w", p.CID, err)
	}
	// Pins must survive a crash even without SyncWrites.
	if err := s.ds.Sync(ctx, k); err != nil {
		return fmt.Errorf("content: sync pin %s: %w", p.CID, err)
	}
	return nil
}

// Unpin removes the pin of c; its blocks go at the next GC unless another pin holds them.
func (s *Store) Unpin(ctx context.Context, c cid.Cid) error {
	k := pinKey(c)
	ok, err := s.ds.Has(ctx, k)
	if err != nil {
		return fmt.Errorf("content: unpin %s: %w", c, err)
	}
	if !ok {
		return fmt.Errorf("%w: no pin for %s", ErrNotFound, c)
	}
	if err := s.ds.Delete(ctx, k); err != nil {
		return fmt.Errorf("content: unpin %s: %w", c, err)
	}
	return s.ds.Sync(ctx, k)
}

// Pins lists the pins, sorted by CID.
func (s *Store) Pins(ctx context.Context) ([]Pin, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: pinPrefix.String()})
	if err != nil {
		return nil, fmt.Errorf("content: list pins: %w", err)
	}
	defer res.Close()
	var out []Pin
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("content: list pins: %w", r.Error)
		}
		c, err := cid.Decode(ds.RawKey(r.Key).BaseNamespace())
		if err != nil {
			s.log.Warn("skipping corrupt pin key", "key", r.Key)
			continue
		}
		p := Pin{CID: c}
		if err := json.Unmarshal(r.Value, &p); err != nil {
			s.log.Warn("skipping corrupt pin", "cid", c, "err", err)
			continue
		}
		p.CID = c
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CID.String() < out[j].CID.String() })
	return out, nil
}

// GCResult reports one garbage collection.
type GCResult struct {
	Kept       int
	Removed    int
	FreedBytes int64
}

// GC deletes every block that no pin reaches, then lets badger reclaim the space. Imports,
// fetches and pins wait while it runs.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var res GCResult
	pins, err := s.Pins(ctx)
	if err != nil {
		return res, err
	}
	live := map[string]struct{}{} // by multihash: the blockstore keys blocks by multihash
	for _, p := range pins {
		if err := s.mark(ctx, p.CID, live); err != nil {
			return res, err
		}
	}
	keys, err := s.bs.AllKeysChan(ctx)
	if err != nil {
		return res, fmt.Errorf("content: gc: list blocks: %w", err)
	}
	var dead []cid.Cid
	for c := range keys {
		if _, ok := live[string(c.Hash())]; ok {
			res.Kept++
		} else {
			dead = append(dead, c)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for _, c := range dead {
		if n, err := s.bs.GetSize(ctx, c); err == nil {
			res.FreedBytes += int64(n)
		}
		if err := s.bs.DeleteBlock(ctx, c); err != nil {
			return res, fmt.Errorf("content: gc: delete %s: %w", c, err)
		}
		res.Removed++
	}
	if res.Removed > 0 {
		// Badger frees value-log space lazily; nothing to rewrite is not an error.
		if err := s.ds.CollectGarbage(ctx); err != nil {
			s.log.Debug("badger value-log gc", "err", err)
		}
	}
	return res, nil
}

// mark adds every block reachable from root, among those stored, to live. A pinned DAG with
// missing blocks (an interrupted Pin) keeps what it has.
func (s *Store) mark(ctx context.Context, root cid.Cid, live map[string]struct{}) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := live[string(c.Hash())]; ok {
			continue
		}
		live[string(c.Hash())] = struct{}{}
		if c.Type() != cid.DagProtobuf {
			continue
		}
		b, err := s.bs.Get(ctx, c)
		if errors.Is(err, ipld.ErrNotFound{}) || ipld.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("content: gc: read %s: %w", c, err)
		}
		nd, err := merkledag.DecodeProtobufBlock(b)
		if err != nil {
			continue // not ours to interpret; the block itself stays
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return nil
}
