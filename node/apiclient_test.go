package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node/api"
)

const clientTestToken = "t0ken"

// stubBackend serves the API client tests from memory. Methods the tests do not reach are
// left to the embedded nil interface.
type stubBackend struct {
	api.Backend

	mu        sync.Mutex
	blobs     map[string][]byte
	names     map[string]string
	jobs      map[uint64]*contracts.Job
	submitted []api.JobRequest
	withdrawn []*uint256.Int
	limit     int64 // the store's import limit
}

var (
	stubWallet = contracts.Address{0xaa, 1}
	stubClient = contracts.Address{0xcc, 2}
)

func newStub() *stubBackend {
	return &stubBackend{blobs: map[string][]byte{}, names: map[string]string{}, jobs: map[uint64]*contracts.Job{}, limit: 1 << 30}
}

func (s *stubBackend) Status(context.Context) (api.Status, error) {
	return api.Status{NodeID: "n0", Moniker: "node0", ChainID: "ciro-test", Height: 7, P2PPeers: 2, DHTSize: 3, Topics: []string{"/ciro/tx"}}, nil
}

func (s *stubBackend) AddContent(_ context.Context, r io.Reader, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, s.limit+1))
	if err != nil {
		return "", err
	}
	if int64(len(b)) > s.limit {
		return "", api.ErrTooLarge
	}
	c := stubCID(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[c], s.names[c] = b, name
	return c, nil
}

func (s *stubBackend) Content(_ context.Context, c string) (api.Content, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[c]
	if !ok {
		return api.Content{}, contracts.Errorf(contracts.CodeNotFound, "no peer has %s", c)
	}
	return api.Content{CID: c, Body: io.NopCloser(bytes.NewReader(b)), Size: int64(len(b))}, nil
}

func (s *stubBackend) SubmitJob(_ context.Context, req api.JobRequest) (api.JobReceipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submitted = append(s.submitted, req)
	id := uint64(len(s.submitted))
	s.jobs[id] = &contracts.Job{ID: id, Client: stubClient, Spec: req.Spec, Status: contracts.JobPending,
		Escrow: req.Spec.MaxPrice, Paid: new(uint256.Int), Refunded: new(uint256.Int), Fee: new(uint256.Int)}
	return api.JobReceipt{ID: id, TxView: api.TxView{Height: 9}}, nil
}

func (s *stubBackend) Job(_ context.Context, id uint64) (*contracts.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j, nil
	}
	return nil, contracts.Errorf(contracts.CodeNotFound, "there is no job %d", id)
}

func (s *stubBackend) Jobs(_ context.Context, f api.JobFilter) ([]*contracts.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*contracts.Job
	for _, j := range s.jobs {
		out = append(out, j)
	}
	return out, nil
}

func (s *stubBackend) JobResult(ctx context.Context, id uint64) (api.Content, error) {
	j, err := s.Job(ctx, id)
	if err != nil {
		return api.Content{}, err
	}
	if j.ResultCID == "" {
		return api.Content{}, contracts.Errorf(contracts.CodeJobState, "job %d is %s", id, j.Status)
	}
	return s.Content(ctx, j.ResultCID)
}

func (s *stubBackend) Provider(_ context.Context, a contracts.Address) (*contracts.Provider, error) {
	if a != stubWallet {
		return nil, contracts.Errorf(contracts.CodeNotFound, "%s is not a provider", a)
	}
	return &contracts.Provider{Address: a, GPUModel: "cpu", Capacity: 2, Earnings: contracts.CIRO(3), Completed: 4, Failed: 1}, nil
}

func (s *stubBackend) Account(_ context.Context, a contracts.Address) (api.AccountView, error) {
	v := api.AccountView{Address: a, Balance: contracts.CIRO(10)}
	if a == stubWallet {
		v.Stake = &consensus.StakerView{Staker: &contracts.Staker{Address: a, Roles: contracts.RoleProvider, Tokens: contracts.CIRO(1000), Reputation: 55}, Tier: "Basic"}
	}
	return v, nil
}

func (s *stubBackend) WalletBalance(ctx context.Context) (api.AccountView, error) {
	return s.Account(ctx, stubWallet)
}

func (s *stubBackend) WalletWithdraw(_ context.Context, amount *uint256.Int) (api.TxView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.withdrawn = append(s.withdrawn, amount)
	return api.TxView{Height: 12}, nil
}

func stubCID(b []byte) string {
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}.Sum(b)
	if err != nil {
		panic(err)
	}
	return c.String()
}

// startStub serves the real API over a stub backend and returns a client of it.
func startStub(t *testing.T, token string) (*APIClient, *stubBackend) {
	t.Helper()
	b := newStub()
	srv := httptest.NewServer(api.New(api.Options{Backend: b, Token: clientTestToken}).Handler())
	t.Cleanup(srv.Close)
	c, err := NewAPIClient(strings.TrimPrefix(srv.URL, "http://"), token)
	if err != nil {
		t.Fatal(err)
	}
	return c, b
}

func wantCode(t *testing.T, err error, code string) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != code || ae.Message == "" {
		t.Fatalf("error %v (%T), want an APIError with code %q", err, err, code)
	}
	if c, _ := ErrorInfo(err); c != code {
		t.Fatalf("ErrorInfo code %q, want %q", c, code)
	}
	return ae
}

func TestAPIClientContentRoundTrip(t *testing.T) {
	c, b := startStub(t, clientTestToken)
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "data.bin")
	data := bytes.Repeat([]byte("ciro content "), 200_000) // 2.6 MB: past the JSON limit
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	cid, err := c.AddFile(ctx, in, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if last != int64(len(data)) || total != int64(len(data)) || b.names[cid] != "data.bin" {
		t.Fatalf("progress %d/%d, name %q", last, total, b.names[cid])
	}
	out := filepath.Join(dir, "out.bin")
	d, err := c.GetContent(ctx, cid, out, false, func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, data) || d.Bytes != int64(len(data)) || d.CID != cid || last != int64(len(data)) {
		t.Fatalf("download %+v, %d bytes, progress %d/%d", d, len(got), last, total)
	}
	// No overwrite without force; with it, the file is replaced.
	_, err = c.GetContent(ctx, cid, out, false, nil)
	wantCode(t, err, CodeExists)
	if _, err := c.GetContent(ctx, cid, out, true, nil); err != nil {
		t.Fatal(err)
	}
	// A missing CID leaves no file behind.
	missing := filepath.Join(dir, "missing")
	_, err = c.GetContent(ctx, stubCID([]byte("nobody has this")), missing, false, nil)
	if ae := wantCode(t, err, api.CodeNotFound); ae.Status != 404 {
		t.Fatalf("status %d", ae.Status)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
	// Directories are refused before anything is sent.
	_, err = c.AddFile(ctx, dir, nil)
	wantCode(t, err, CodeNotSupported)
}

func TestAPIClientUploadLimit(t *testing.T) {
	c, b := startStub(t, clientTestToken)
	b.limit = 10
	_, err := c.AddContent(context.Background(), strings.NewReader("more than ten bytes"), -1, "", nil)
	if ae := wantCode(t, err, api.CodeTooLarge); ae.Status != 413 {
		t.Fatalf("status %d", ae.Status)
	}
}

func TestAPIClientWritesNeedTheToken(t *testing.T) {
	c, _ := startStub(t, "wrong")
	_, err := c.AddContent(context.Background(), strings.NewReader("x"), 1, "", nil)
	wantCode(t, err, api.CodeUnauthorized)
	// Reads need none.
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAPIClientJobs(t *testing.T) {
	c, b := startStub(t, clientTestToken)
	ctx := context.Background()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.wasm")
	if err := os.WriteFile(model, []byte("\x00asm module"), 0o644); err != nil {
		t.Fatal(err)
	}
	var labels []string
	r, err := c.SubmitJobFiles(ctx, JobSubmitOptions{
		Type: "DataProcessing", Model: model, InputCID: "bafyinput", MaxPrice: "1ciro", Verification: "redundant", K: 3,
		DeadlineBlocks: 100, Priority: "high", Framework: "wasi", Params: []string{"arg=--count", "arg=words", "seed=7", "env=A=b"},
	}, func(label string) Progress { labels = append(labels, label); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 1 || r.ModelCID == "" || r.InputCID != "bafyinput" || strings.Join(labels, ",") != "model" {
		t.Fatalf("receipt %+v, uploads %v", r, labels)
	}
	req := b.submitted[0]
	if req.Spec.ModelCID != r.ModelCID || req.Spec.Redundancy != 3 || req.Spec.Verification != contracts.VerifyRedundant ||
		req.Spec.Priority != contracts.PriorityHigh || req.DeadlineIn != 100 || !req.Spec.MaxPrice.Eq(contracts.CIRO(1)) ||
		len(req.Spec.Requirements.Frameworks) != 1 || req.Spec.Requirements.Frameworks[0] != "wasi" {
		t.Fatalf("backend got %+v", req)
	}
	if want := `{"args":["--count","words"],"env":["A=b"],"seed":7}`; req.Spec.Params != want {
		t.Fatalf("params %s, want %s", req.Spec.Params, want)
	}

	j, err := c.Job(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != contracts.JobPending || j.TypeName != "DataProcessing" {
		t.Fatalf("job %+v", j)
	}
	if line := JobLine(j); line != "job 1 DataProcessing: pending, 0 assignments, no result" {
		t.Fatalf("line %q", line)
	}
	list, err := c.Jobs(ctx, JobQuery{Client: stubClient.String(), Limit: 5})
	if err != nil || len(list) != 1 || list[0].ID != 1 {
		t.Fatalf("list %v, %v", list, err)
	}
	_, err = c.Job(ctx, 99)
	wantCode(t, err, api.CodeNotFound)
	_, err = c.JobResult(ctx, 1, filepath.Join(dir, "res"), false, nil)
	wantCode(t, err, "job_state")

	// The job completes with a result: get writes it.
	b.mu.Lock()
	result := stubCID([]byte("42 words\n"))
	b.blobs[result] = []byte("42 words\n")
	b.jobs[1].Status, b.jobs[1].ResultCID = contracts.JobCompleted, result
	b.jobs[1].Assignments = []contracts.Assignment{{Provider: stubWallet, Status: contracts.AssignAccepted, ResultCID: result}}
	b.mu.Unlock()
	d, err := c.JobResult(ctx, 1, filepath.Join(dir, "res"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(d.Path); string(got) != "42 words\n" || d.CID != result {
		t.Fatalf("result %q, %+v", got, d)
	}
	j, _ = c.Job(ctx, 1)
	if line := JobLine(j); line != "job 1 DataProcessing: completed, 1 assignment (1 accepted), result "+result {
		t.Fatalf("line %q", line)
	}
}

func TestJobSubmitOptionsRefuseBadFlags(t *testing.T) {
	good := JobSubmitOptions{Type: "DataProcessing", InputCID: "x", MaxPrice: "1ciro", K: 3}
	for name, mutate := range map[string]func(*JobSubmitOptions){
		"no type":           func(o *JobSubmitOptions) { o.Type = "" },
		"unknown type":      func(o *JobSubmitOptions) { o.Type = "Mining" },
		"no price":          func(o *JobSubmitOptions) { o.MaxPrice = "" },
		"bad price":         func(o *JobSubmitOptions) { o.MaxPrice = "lots" },
		"no CIDs":           func(o *JobSubmitOptions) { o.InputCID = "" },
		"both inputs":       func(o *JobSubmitOptions) { o.Input = "f" },
		"both models":       func(o *JobSubmitOptions) { o.Model, o.ModelCID = "f", "c" },
		"bad verification":  func(o *JobSubmitOptions) { o.Verification = "trust" },
		"redundant k 1":     func(o *JobSubmitOptions) { o.Verification, o.K = "redundant", 1 },
		"param without =":   func(o *JobSubmitOptions) { o.Params = []string{"seed"} },
		"unknown param":     func(o *JobSubmitOptions) { o.Params = []string{"colour=red"} },
		"seed not a number": func(o *JobSubmitOptions) { o.Params = []string{"seed=x"} },
	} {
		o := good
		mutate(&o)
		if _, err := o.Submission(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if code, _ := ErrorInfo(err); code == "error" {
			t.Errorf("%s: %v has no stable code", name, err)
		}
	}
	s, err := good.Submission()
	if err != nil || s.Redundancy != 0 || s.Requirements != nil {
		t.Fatalf("%+v, %v", s, err)
	}
}

func TestAPIClientProvider(t *testing.T) {
	c, b := startStub(t, clientTestToken)
	ctx := context.Background()
	r, err := c.ProviderStatus(ctx, t.TempDir(), stubWallet.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Provider.Completed != 4 || r.Stake.Tier != "Basic" || r.Stake.Reputation != 55 {
		t.Fatalf("report %+v", r)
	}
	_, err = c.ProviderStatus(ctx, t.TempDir(), stubClient.String())
	wantCode(t, err, api.CodeNotFound)
	_, err = c.ProviderStatus(ctx, t.TempDir(), "nobody")
	wantCode(t, err, CodeInvalidArgument)

	e, err := c.Earnings(ctx, "")
	if err != nil || e.Withdrawal != nil || !e.Earnings.Eq(contracts.CIRO(3)) || e.Completed != 4 || e.Failed != 1 {
		t.Fatalf("earnings %+v, %v", e, err)
	}
	e, err = c.Earnings(ctx, "all")
	if err != nil || e.Withdrawal == nil || e.Withdrawal.Height != 12 || len(b.withdrawn) != 1 || !b.withdrawn[0].IsZero() {
		t.Fatalf("earnings %+v, %v, withdrawn %v", e, err, b.withdrawn)
	}
}

func TestAPIClientUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := NewAPIClient(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Status(ctx)
	if ae := wantCode(t, err, CodeUnavailable); !strings.Contains(ae.Message, "ciro-node start") {
		t.Fatalf("message %q", ae.Message)
	}
}

func TestAPIClientForHome(t *testing.T) {
	home := t.TempDir()
	cfg := DevnetConfig()
	cfg.API.Listen = "0.0.0.0:18080"
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := SaveConfig(home, cfg); err != nil {
		t.Fatal(err)
	}
	c, err := APIClientForHome(home)
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "http://127.0.0.1:18080" || c.token != "" {
		t.Fatalf("base %s, token %q", c.BaseURL(), c.token)
	}
	if err := os.WriteFile(APITokenPath(home), []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = APIClientForHome(home); err != nil || c.token != "abc" {
		t.Fatalf("token %q, %v", c.token, err)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := NewProgressBar(&buf, "upload")
	p.now = func() time.Time { return now }
	p.Update(0, 4096)
	p.Update(1024, 4096) // within 100 ms: not drawn
	now = now.Add(time.Second)
	p.Update(2048, 4096)
	p.Update(4096, 4096) // complete: always drawn
	p.Finish()
	p.Update(1, 1) // ignored after Finish
	lines := strings.Split(buf.String(), "\r")
	if len(lines) != 5 || !strings.HasSuffix(buf.String(), "4.0 KiB / 4.0 KiB 100%\n") {
		t.Fatalf("drawn %q", buf.String())
	}
	if !strings.Contains(lines[2], "[===============>              ] 2.0 KiB / 4.0 KiB  50%") {
		t.Fatalf("half-way line %q", lines[2])
	}
	var none bytes.Buffer
	NewProgressBar(&none, "x").Finish()
	if none.Len() != 0 {
		t.Fatalf("a bar never updated drew %q", none.String())
	}
	if FormatBytes(512) != "512 B" || FormatBytes(1536) != "1.5 KiB" || FormatBytes(3<<30) != "3.0 GiB" {
		t.Fatal(FormatBytes(1536))
	}
}

// A chain query or a broadcast to a node that is not running carries the code unavailable and
// a sentence that says what to do, not a raw dial error.
func TestErrorInfoNodeDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := NewClient("tcp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out any
	qerr := c.Query(ctx, "/account/x", &out)
	_, berr := c.Broadcast(ctx, []byte{1})
	for _, err := range []error{qerr, berr} {
		code, msg := ErrorInfo(err)
		if code != CodeUnavailable || !strings.Contains(msg, "ciro-node start") {
			t.Errorf("ErrorInfo(%v) = %q, %q", err, code, msg)
		}
	}
}

// A CheckTx refusal reaches an HTTP client as the text of CometBFT's mempool error; it is read
// back into the protocol error with its code.
func TestCheckTxRefusalFromText(t *testing.T) {
	err := errors.New(`broadcast error on transaction validation: tx B98D is invalid: code=4, data=, log='replayed_nonce: nonce 2 was already used; the account's next nonce is 12', codespace='ciro'`)
	pe := checkTxRefusal(err)
	if pe == nil || pe.Code != contracts.CodeReplayedNonce || pe.Msg != "nonce 2 was already used; the account's next nonce is 12" {
		t.Fatalf("got %#v", pe)
	}
	if checkTxRefusal(errors.New("tx already exists in cache")) != nil {
		t.Fatal("a cache hit read as a refusal")
	}
}
