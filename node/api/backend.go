package api

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
)

// Backend is what the API needs from a node. Methods return *contracts.Error for protocol
// failures (CodeNotFound when a job, provider or content is missing, CodeJobState when a
// result is not ready yet, ...) and errors wrapping ErrUnavailable when the node cannot answer
// now (still starting, no wallet key, a light peer without the data); anything else is
// reported as an internal error and logged, not shown.
type Backend interface {
	// Health returns nil when the node works: its height advanced within a few block times,
	// it is not catching up, storage answers and, on a provider, the agent runs. Otherwise
	// an error wrapping ErrUnavailable that says why.
	Health(ctx context.Context) error
	// Ready returns nil when the node can serve reads: it has committed state and is not
	// catching up. A node can be ready and unhealthy (a halted chain still serves its last
	// state), or healthy for a moment while a probe's load balancer has yet to see it ready.
	Ready(ctx context.Context) error
	// Status describes the node and its view of the chain and the mesh.
	Status(ctx context.Context) (Status, error)
	// SubmitJob signs a job with the node's wallet key, broadcasts it and waits for it to
	// commit. The request's spec has passed contracts.JobSpec.Validate.
	SubmitJob(ctx context.Context, req JobRequest) (JobReceipt, error)
	// Jobs lists jobs that match f, newest first, at most f.Limit of them.
	Jobs(ctx context.Context, f JobFilter) ([]*contracts.Job, error)
	// Job reads one job.
	Job(ctx context.Context, id uint64) (*contracts.Job, error)
	// JobResult opens a settled job's result: the output file, or a tar stream of a
	// directory. The caller closes Body.
	JobResult(ctx context.Context, id uint64) (Content, error)
	// Providers lists every provider in address order.
	Providers(ctx context.Context) ([]*contracts.Provider, error)
	// Provider reads one provider.
	Provider(ctx context.Context, addr contracts.Address) (*contracts.Provider, error)
	// Validators lists the validator set in consensus-address order.
	Validators(ctx context.Context) ([]contracts.ValidatorInfo, error)
	// Account reads an account with its stake and provider earnings.
	Account(ctx context.Context, addr contracts.Address) (AccountView, error)
	// WalletBalance is Account for the node's own wallet key.
	WalletBalance(ctx context.Context) (AccountView, error)
	// WalletWithdraw moves the node's provider earnings to its balance and waits for the tx
	// to commit. A zero amount withdraws everything.
	WalletWithdraw(ctx context.Context, amount *uint256.Int) (TxView, error)
	// WalletSend sends msg from the node's account through the node's nonce sequencer, on
	// behalf of sender (who must be that account), and waits for it to commit.
	WalletSend(ctx context.Context, sender contracts.Address, msg contracts.Msg) (TxView, error)
	// AddContent imports the bytes of r as one file into the node's content store, pinned as a
	// job input under name (which may be empty), and returns its CID. It reads r to its end,
	// up to the store's import limit; over it, it fails with an error wrapping ErrTooLarge.
	AddContent(ctx context.Context, r io.Reader, name string) (cid string, err error)
	// Content opens a blob by CID from the node's blockstore, fetching it from peers if
	// needed. The caller closes Body.
	Content(ctx context.Context, cid string) (Content, error)
	// JobEvents streams job status changes until ctx ends, then closes the channel. A
	// subscriber that falls behind may miss events; the backend must never block on it.
	JobEvents(ctx context.Context) (<-chan JobEvent, error)
}

// ErrUnavailable marks a backend failure that is not the caller's fault and may pass: the
// node is starting, has no wallet key, or lacks the data. It is answered with 503.
var ErrUnavailable = errors.New("unavailable")

// ErrTooLarge marks an upload over the content store's import limit. It is answered with 413.
var ErrTooLarge = errors.New("over the size limit")

// Status describes a node.
type Status struct {
	NodeID     string    `json:"node_id"` // CometBFT node id
	PeerID     string    `json:"peer_id"` // libp2p peer id; empty without libp2p
	Moniker    string    `json:"moniker"`
	ChainID    string    `json:"chain_id"`
	Version    string    `json:"version"`
	Roles      []string  `json:"roles"` // e.g. "validator", "provider", "full", "light"
	Wallet     string    `json:"wallet,omitempty"`
	Height     int64     `json:"height"`
	AppHash    string    `json:"app_hash"` // hex
	BlockTime  time.Time `json:"block_time"`
	CatchingUp bool      `json:"catching_up"`
	Peers      int       `json:"peers"`     // CometBFT peers
	P2PPeers   int       `json:"p2p_peers"` // libp2p peers
	DHTSize    int       `json:"dht_size"`  // routing table entries
	Topics     []string  `json:"topics"`    // GossipSub topics joined
}

// JobRequest is a job to submit: a spec the API has decoded and validated, and a relative
// deadline for the backend to resolve against the current height.
type JobRequest struct {
	Spec contracts.JobSpec
	// DeadlineIn, when Spec.Deadline is zero, sets the deadline to the current height plus
	// this many blocks. When both are zero the backend applies its default window.
	DeadlineIn uint64
}

// TxView is a committed transaction.
type TxView struct {
	Hash   string `json:"tx_hash"` // hex
	Height int64  `json:"height"`
}

// JobReceipt is a submitted job: its id and the tx that created it.
type JobReceipt struct {
	ID uint64 `json:"id"`
	TxView
}

// JobFilter selects jobs. Zero fields match everything.
type JobFilter struct {
	Client   *contracts.Address
	Provider *contracts.Address
	Status   *contracts.JobStatus
	Type     *contracts.JobType
	// Limit is at most MaxJobsLimit; the API sets DefaultJobsLimit when the caller gave none.
	Limit int
}

// Limits on GET /jobs.
const (
	DefaultJobsLimit = 50
	MaxJobsLimit     = 500
)

// Match reports whether j passes the filter's status, type, client and provider tests; the
// limit is the backend's to apply.
func (f JobFilter) Match(j *contracts.Job) bool {
	switch {
	case j == nil:
		return false
	case f.Status != nil && j.Status != *f.Status:
		return false
	case f.Type != nil && j.Spec.Type != *f.Type:
		return false
	case f.Client != nil && j.Client != *f.Client:
		return false
	}
	if f.Provider != nil {
		for _, a := range j.Assignments {
			if a.Provider == *f.Provider {
				return true
			}
		}
		return false
	}
	return true
}

// AccountView is an account with what it has staked and earned.
type AccountView struct {
	Address contracts.Address `json:"address"`
	Balance *uint256.Int      `json:"balance"` // smallest unit
	// BalanceCIRO is Balance for people ("1.5 CIRO"); the API fills it in.
	BalanceCIRO string `json:"balance_ciro"`
	Nonce       uint64 `json:"nonce"`
	// Stake is nil when the account is not a staker.
	Stake *consensus.StakerView `json:"stake,omitempty"`
	// Earnings are a provider's settled, unwithdrawn earnings; nil when not a provider.
	Earnings *uint256.Int `json:"earnings,omitempty"`
}

// Content is a blob to send: a job result or content by CID.
type Content struct {
	CID string
	// Body is the data; when it is also an io.Seeker the API serves range requests.
	Body io.ReadCloser
	// Size is Body's length, or -1 when unknown.
	Size int64
	// ContentType is "" for application/octet-stream.
	ContentType string
	// ModTime, when set, is sent as Last-Modified.
	ModTime time.Time
}

// JobEvent is a change of a job's status.
type JobEvent struct {
	JobID  uint64              `json:"job_id"`
	Status contracts.JobStatus `json:"status"`
	Type   string              `json:"type"` // job type name
	Height int64               `json:"height"`
	// Provider is set when the change concerns one assignment.
	Provider  *contracts.Address `json:"provider,omitempty"`
	ResultCID string             `json:"result_cid,omitempty"`
	Reason    string             `json:"reason,omitempty"`
}
