package market

import (
	"context"
	"io"
	"strconv"

	"github.com/ipfs/go-cid"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/content"
)

// Chain is an agent's view of the app-chain, bound to one account key. The node implements it
// over CometBFT; tests implement it over a contracts.Machine.
type Chain interface {
	// Address is the account the chain view signs with.
	Address() contracts.Address
	// Height is the last committed height.
	Height(ctx context.Context) (int64, error)
	// Events streams chain events (FinalizeBlock/EndBlock events and tx events of successful
	// txs) from now on, in commit order. The channel closes when the subscription is lost or
	// ctx ends; agents resubscribe and catch up by query, so a lost event costs latency only.
	Events(ctx context.Context) (<-chan Event, error)
	// Job reads a job by id from committed state; nil, nil when there is none.
	Job(ctx context.Context, id uint64) (*contracts.Job, error)
	// ProviderJobs lists a provider's assignments on unsettled jobs (contracts.ListProviderJobs).
	ProviderJobs(ctx context.Context, provider contracts.Address) ([]contracts.ProviderJob, error)
	// Provider reads a provider record; nil, nil when a is not registered.
	Provider(ctx context.Context, a contracts.Address) (*contracts.Provider, error)
	// Send signs msg with the view's key, broadcasts it and waits until it commits. A committed
	// but failed tx returns a *contracts.Error with its code (contracts.CodeOf reads it).
	Send(ctx context.Context, msg contracts.Msg) (TxResult, error)
}

// TxResult is a committed, successful transaction.
type TxResult struct {
	Height int64
	// Events are the tx's own events (e.g. job_submitted with the new job_id).
	Events []Event
}

// Event is one chain event: contracts.Event flattened, with the height it committed at.
type Event struct {
	Height int64
	Type   string
	Attrs  map[string]string
}

// EventFrom converts a state-machine event; the node and tests use it.
func EventFrom(height int64, e contracts.Event) Event {
	ev := Event{Height: height, Type: e.Type, Attrs: make(map[string]string, len(e.Attrs))}
	for _, a := range e.Attrs {
		ev.Attrs[a.Key] = a.Value
	}
	return ev
}

// JobID reads the event's job_id attribute.
func (e Event) JobID() (uint64, bool) {
	v, ok := e.Attrs["job_id"]
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(v, 10, 64)
	return id, err == nil
}

// Content is what the agents need of the node's content store; *content.Store implements it.
type Content interface {
	// AddFile imports a file or directory as UnixFS and returns its root CID.
	AddFile(ctx context.Context, path string, o content.AddOptions) (cid.Cid, error)
	// Get fetches root (over bitswap when missing) and writes it to out.
	Get(ctx context.Context, root cid.Cid, out string, o content.GetOptions) error
	// Cat fetches a file and returns a reader over it and its size.
	Cat(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, int64, error)
}

var _ Content = (*content.Store)(nil)
