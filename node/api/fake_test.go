package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
)

// fakeBackend serves fixed data; a case's setup replaces the fields it wants to change.
type fakeBackend struct {
	health     error
	ready      error
	status     Status
	jobs       []*contracts.Job
	providers  []*contracts.Provider
	validators []contracts.ValidatorInfo
	accounts   map[contracts.Address]AccountView
	wallet     contracts.Address
	blobs      map[string][]byte // by CID
	results    map[uint64]string // job id → result CID
	submitErr  error
	withdraw   error
	addErr     error // AddContent fails with it
	failAll    error // when set, every read fails with it

	mu         sync.Mutex
	submitted  []JobRequest
	withdrawn  []*uint256.Int
	sent       []contracts.Msg
	added      map[string]string // name → CID of each upload
	filters    []JobFilter
	subs       map[chan JobEvent]struct{}
	subscribed chan struct{} // gets a value each time a stream subscribes
}

var (
	addrClient   = mustAddr("c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1")
	addrProvider = mustAddr("a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0")
	addrNobody   = mustAddr("0000000000000000000000000000000000000001")
	blobData     = []byte("hello, content-addressed world\n")
	blobCID      = cidOf(blobData)
	resultData   = []byte("the result of job 1\n")
	resultCID    = cidOf(resultData)
)

func mustAddr(s string) contracts.Address {
	a, err := contracts.ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

func cidOf(b []byte) string {
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}.Sum(b)
	if err != nil {
		panic(err)
	}
	return c.String()
}

func newFakeBackend() *fakeBackend {
	done := &contracts.Job{
		ID: 1, Client: addrClient, Status: contracts.JobCompleted, SubmittedAt: 10, SettledAt: 14,
		Spec: contracts.JobSpec{Type: contracts.JobAIInference, ModelCID: blobCID, MaxPrice: contracts.CIRO(2),
			Deadline: 100, Verification: contracts.VerifyNone, Redundancy: 1},
		Escrow: uint256.NewInt(0), Fee: uint256.NewInt(1000), Paid: contracts.CIRO(1), Refunded: contracts.CIRO(1),
		Assignments: []contracts.Assignment{{Provider: addrProvider, Price: contracts.CIRO(1), AssignedAt: 11,
			Deadline: 100, Status: contracts.AssignAccepted, ResultCID: resultCID}},
		ResultCID: resultCID,
	}
	pending := &contracts.Job{
		ID: 2, Client: addrClient, Status: contracts.JobPending, SubmittedAt: 20,
		Spec: contracts.JobSpec{Type: contracts.JobDataProcessing, InputCID: blobCID, MaxPrice: contracts.CIRO(1),
			Deadline: 200, Verification: contracts.VerifyRedundant, Redundancy: 3, Priority: contracts.PriorityHigh},
		Escrow: contracts.CIRO(3), Fee: uint256.NewInt(10), Paid: uint256.NewInt(0), Refunded: uint256.NewInt(0),
	}
	staker := &contracts.Staker{Address: addrProvider, Roles: 3, Moniker: "gpu-1", Tokens: contracts.CIRO(5000),
		Shares: contracts.CIRO(5000), Reputation: 100}
	return &fakeBackend{
		status: Status{NodeID: "abcd", PeerID: "12D3KooW", Moniker: "node-0", ChainID: "ciro-devnet", Version: "test",
			Roles: []string{"validator", "provider"}, Wallet: addrProvider.String(), Height: 42, AppHash: "00ff",
			BlockTime: time.Unix(1700000000, 0).UTC(), Peers: 3, P2PPeers: 5, DHTSize: 5, Topics: []string{"/ciro/1/tx"}},
		jobs: []*contracts.Job{pending, done}, // newest first
		providers: []*contracts.Provider{{Address: addrProvider, Caps: contracts.CapCUDA, GPUModel: "H100", GPUCount: 1,
			VRAMMiB: 81920, Frameworks: []string{"onnx"}, Region: "eu", Capacity: 2,
			Asks:     []contracts.Ask{{Type: contracts.JobAIInference, Price: contracts.CIRO(1)}},
			Earnings: contracts.CIRO(1), Completed: 1}},
		validators: []contracts.ValidatorInfo{{ConsAddress: []byte{0xab, 0xcd}, Power: 10, Staker: staker}},
		accounts: map[contracts.Address]AccountView{
			addrProvider: {Address: addrProvider, Balance: contracts.CIRO(7), Nonce: 4,
				Stake: &consensus.StakerView{Staker: staker, Tier: "Premium"}, Earnings: contracts.CIRO(1)},
			addrClient: {Address: addrClient, Balance: new(uint256.Int).Add(contracts.CIRO(1), uint256.NewInt(5e17)), Nonce: 2},
		},
		wallet:     addrProvider,
		blobs:      map[string][]byte{blobCID: blobData, resultCID: resultData},
		results:    map[uint64]string{1: resultCID},
		subs:       map[chan JobEvent]struct{}{},
		subscribed: make(chan struct{}, 16),
	}
}

func (f *fakeBackend) Health(context.Context) error { return f.health }
func (f *fakeBackend) Ready(context.Context) error  { return f.ready }

func (f *fakeBackend) Status(context.Context) (Status, error) { return f.status, f.failAll }

func (f *fakeBackend) SubmitJob(_ context.Context, req JobRequest) (JobReceipt, error) {
	if f.submitErr != nil {
		return JobReceipt{}, f.submitErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, req)
	return JobReceipt{ID: 3, TxView: TxView{Hash: "DEADBEEF", Height: 43}}, nil
}

func (f *fakeBackend) Jobs(_ context.Context, filter JobFilter) ([]*contracts.Job, error) {
	if f.failAll != nil {
		return nil, f.failAll
	}
	f.mu.Lock()
	f.filters = append(f.filters, filter)
	f.mu.Unlock()
	var out []*contracts.Job
	for _, j := range f.jobs {
		if filter.Match(j) && len(out) < filter.Limit {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeBackend) Job(_ context.Context, id uint64) (*contracts.Job, error) {
	if f.failAll != nil {
		return nil, f.failAll
	}
	for _, j := range f.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return nil, contracts.Errorf(contracts.CodeNotFound, "there is no job %d", id)
}

func (f *fakeBackend) JobResult(ctx context.Context, id uint64) (Content, error) {
	j, err := f.Job(ctx, id)
	if err != nil {
		return Content{}, err
	}
	c, ok := f.results[id]
	if !ok {
		return Content{}, contracts.Errorf(contracts.CodeJobState, "job %d is %s: it has no result yet", id, j.Status)
	}
	// A stream, not a seeker: results may be tar streams built on the fly.
	return Content{CID: c, Body: io.NopCloser(bytes.NewReader(f.blobs[c])), Size: int64(len(f.blobs[c]))}, nil
}

func (f *fakeBackend) Providers(context.Context) ([]*contracts.Provider, error) {
	return f.providers, f.failAll
}

func (f *fakeBackend) Provider(_ context.Context, a contracts.Address) (*contracts.Provider, error) {
	for _, p := range f.providers {
		if p.Address == a {
			return p, nil
		}
	}
	return nil, contracts.Errorf(contracts.CodeNotFound, "%s is not a provider", a)
}

func (f *fakeBackend) Validators(context.Context) ([]contracts.ValidatorInfo, error) {
	return f.validators, f.failAll
}

func (f *fakeBackend) Account(_ context.Context, a contracts.Address) (AccountView, error) {
	if f.failAll != nil {
		return AccountView{}, f.failAll
	}
	if v, ok := f.accounts[a]; ok {
		return v, nil
	}
	return AccountView{Address: a}, nil
}

func (f *fakeBackend) WalletBalance(ctx context.Context) (AccountView, error) {
	if f.wallet.IsZero() {
		return AccountView{}, errors.Join(ErrUnavailable, errors.New("the node has no wallet key"))
	}
	return f.Account(ctx, f.wallet)
}

func (f *fakeBackend) WalletWithdraw(_ context.Context, amount *uint256.Int) (TxView, error) {
	if f.withdraw != nil {
		return TxView{}, f.withdraw
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.withdrawn = append(f.withdrawn, amount)
	return TxView{Hash: "CAFE", Height: 44}, nil
}

func (f *fakeBackend) WalletSend(_ context.Context, sender contracts.Address, msg contracts.Msg) (TxView, error) {
	if sender != f.wallet {
		return TxView{}, contracts.Errorf(contracts.CodeUnauthorized, "signed by %s, not the node's account", sender)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, msg)
	return TxView{Hash: "BEEF", Height: 45}, nil
}

func (f *fakeBackend) AddContent(_ context.Context, r io.Reader, name string) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if f.addErr != nil {
		return "", f.addErr
	}
	c := cidOf(b)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobs[c] = b
	if f.added == nil {
		f.added = map[string]string{}
	}
	f.added[name] = c
	return c, nil
}

type seekCloser struct{ *bytes.Reader }

func (seekCloser) Close() error { return nil }

func (f *fakeBackend) Content(_ context.Context, c string) (Content, error) {
	b, ok := f.blobs[c]
	if !ok {
		return Content{}, contracts.Errorf(contracts.CodeNotFound, "no peer has %s", c)
	}
	return Content{CID: c, Body: seekCloser{bytes.NewReader(b)}, Size: int64(len(b)), ContentType: "text/plain; charset=utf-8"}, nil
}

// JobEvents hands out a channel that publish feeds; it closes when ctx ends. The goroutine
// it starts is owned by the subscription and ends with ctx.
func (f *fakeBackend) JobEvents(ctx context.Context) (<-chan JobEvent, error) {
	if f.failAll != nil {
		return nil, f.failAll
	}
	ch := make(chan JobEvent, 8)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, ch)
		close(ch)
		f.mu.Unlock()
	}()
	f.subscribed <- struct{}{}
	return ch, nil
}

// publish sends ev to every subscriber without blocking, as a real backend must.
func (f *fakeBackend) publish(ev JobEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (f *fakeBackend) lastSubmitted(t *testing.T) JobRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.submitted) == 0 {
		t.Fatal("the backend got no job")
	}
	return f.submitted[len(f.submitted)-1]
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }
