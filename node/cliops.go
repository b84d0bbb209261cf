package node

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/api"
)

// The operator commands that talk to a running node: `status`, `peers`, `content`, `job` and
// `provider`. The CLI parses flags and prints; what the commands do is here.

// JobSubmitOptions are the flags of `ciro-node job submit`.
type JobSubmitOptions struct {
	Type string
	// Model and Input are local files to upload; ModelCID and InputCID name content already
	// in the network. At most one of each pair.
	Model, ModelCID string
	Input, InputCID string
	MaxPrice        string
	// Verification is none, redundant or sampled; K is the redundancy of redundant jobs.
	Verification string
	K            int
	// DeadlineBlocks is the deadline relative to the current height; 0 takes the node's
	// default.
	DeadlineBlocks uint64
	Priority       string
	// Framework, when set, is required of the provider (e.g. wasi, ciro-onnx-int).
	Framework string
	// Params are key=value executor parameters (see ParseJobParams).
	Params []string
}

// JobSubmitted is the outcome of `job submit`: the receipt and the CIDs the job names.
type JobSubmitted struct {
	api.JobReceipt
	ModelCID string `json:"model_cid,omitempty"`
	InputCID string `json:"input_cid,omitempty"`
}

// jobParamKeys are the keys ParseJobParams takes, in the order help text lists them.
var jobParamKeys = []string{"arg", "env", "seed", "image", "wall_seconds", "memory_mib", "framework"}

// ParseJobParams builds a job's executor parameters (market.JobParams, the spec's Params) from
// key=value pairs: arg (repeatable, in order), env (repeatable, NAME=VALUE), seed,
// image, wall_seconds, memory_mib and framework. It returns "" for no parameters.
func ParseJobParams(kvs []string) (string, error) {
	var p market.JobParams
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", clientErrorf(CodeInvalidArgument, "--param %q is not key=value", kv)
		}
		switch k {
		case "arg":
			p.Args = append(p.Args, v)
		case "env":
			if !strings.Contains(v, "=") {
				return "", clientErrorf(CodeInvalidArgument, "--param env=%s: want env=NAME=VALUE", v)
			}
			p.Env = append(p.Env, v)
		case "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", clientErrorf(CodeInvalidArgument, "--param seed=%s is not a whole number", v)
			}
			p.Seed = &n
		case "image":
			p.Image = v
		case "framework":
			p.Framework = v
		case "wall_seconds", "memory_mib":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return "", clientErrorf(CodeInvalidArgument, "--param %s=%s is not a whole number", k, v)
			}
			if k == "wall_seconds" {
				p.WallSeconds = uint32(n)
			} else {
				p.MemoryMiB = uint32(n)
			}
		default:
			return "", clientErrorf(CodeInvalidArgument, "--param %q: unknown key %q; the keys are %s", kv, k, strings.Join(jobParamKeys, ", "))
		}
	}
	return p.Encode(), nil
}

// Submission checks the options and turns them into a POST /jobs body, still without the
// CIDs of files to upload. It checks everything it can before anything is uploaded.
func (o JobSubmitOptions) Submission() (JobSubmission, error) {
	var s JobSubmission
	if o.Type == "" {
		return s, clientErrorf(CodeInvalidArgument, "--type is required: one of the job types, e.g. DataProcessing")
	}
	if _, err := api.ParseJobType(o.Type); err != nil {
		return s, err
	}
	if o.MaxPrice == "" {
		return s, clientErrorf(CodeInvalidArgument, "--max-price is required, e.g. 1ciro")
	}
	if _, err := api.ParseAmount(o.MaxPrice); err != nil {
		return s, err
	}
	if o.Model != "" && o.ModelCID != "" {
		return s, clientErrorf(CodeInvalidArgument, "give --model or --model-cid, not both")
	}
	if o.Input != "" && o.InputCID != "" {
		return s, clientErrorf(CodeInvalidArgument, "give --input or --input-cid, not both")
	}
	if o.Model == "" && o.ModelCID == "" && o.Input == "" && o.InputCID == "" {
		return s, clientErrorf(CodeInvalidArgument, "a job needs a model or an input: --model, --model-cid, --input or --input-cid")
	}
	params, err := ParseJobParams(o.Params)
	if err != nil {
		return s, err
	}
	s = JobSubmission{Type: o.Type, ModelCID: o.ModelCID, InputCID: o.InputCID, Params: params, MaxPrice: o.MaxPrice,
		DeadlineInBlocks: o.DeadlineBlocks, Verification: o.Verification, Priority: o.Priority}
	switch o.Verification {
	case "", "none", "sampled":
	case "redundant":
		if o.K < 2 || o.K > 255 {
			return s, clientErrorf(CodeInvalidArgument, "--k %d: redundant verification runs the job on at least 2 providers", o.K)
		}
		s.Redundancy = uint8(o.K)
	default:
		return s, clientErrorf(CodeInvalidArgument, "--verification %q is not none, redundant or sampled", o.Verification)
	}
	if o.Framework != "" {
		s.Requirements = &contracts.Requirements{Frameworks: []string{o.Framework}}
	}
	return s, nil
}

// SubmitJobFiles submits a job: it uploads the model and input files first (through POST
// /content, each with a Progress from progress, which may be nil), then posts the job.
func (c *APIClient) SubmitJobFiles(ctx context.Context, o JobSubmitOptions, progress func(label string) Progress) (JobSubmitted, error) {
	s, err := o.Submission()
	if err != nil {
		return JobSubmitted{}, err
	}
	upload := func(label, path string) (string, error) {
		var p Progress
		if progress != nil {
			p = progress(label)
		}
		cid, err := c.AddFile(ctx, path, p)
		if err != nil {
			return "", fmt.Errorf("upload the %s: %w", label, err)
		}
		return cid, nil
	}
	if o.Model != "" {
		if s.ModelCID, err = upload("model", o.Model); err != nil {
			return JobSubmitted{}, err
		}
	}
	if o.Input != "" {
		if s.InputCID, err = upload("input", o.Input); err != nil {
			return JobSubmitted{}, err
		}
	}
	r, err := c.SubmitJob(ctx, s)
	if err != nil {
		return JobSubmitted{}, err
	}
	return JobSubmitted{JobReceipt: r, ModelCID: s.ModelCID, InputCID: s.InputCID}, nil
}

// FormatCIRO renders an amount for people ("1.5 CIRO"); nil reads "-".
func FormatCIRO(a *uint256.Int) string {
	if a == nil {
		return "-"
	}
	return contracts.FormatCIRO(a)
}

// ParseJobID reads a job id argument.
func ParseJobID(s string) (uint64, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, clientErrorf(CodeInvalidArgument, "job id %q is not a number", s)
	}
	return id, nil
}

// JobLine is a job in one line: id, type, status, assignments (by status) and result CID.
func JobLine(j *api.JobView) string {
	counts := map[string]int{}
	for _, a := range j.Assignments {
		counts[a.Status.String()]++
	}
	var parts []string
	for st, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(parts)
	assigned := fmt.Sprintf("%d assignments", len(j.Assignments))
	if len(j.Assignments) == 1 {
		assigned = "1 assignment"
	}
	if len(parts) > 0 {
		assigned += " (" + strings.Join(parts, ", ") + ")"
	}
	result := "no result"
	if j.ResultCID != "" {
		result = "result " + j.ResultCID
	}
	line := fmt.Sprintf("job %d %s: %s, %s, %s", j.ID, j.TypeName, j.Status, assigned, result)
	if j.Status.Final() && j.Refunded != nil && !j.Refunded.IsZero() {
		line += ", refunded " + contracts.FormatCIRO(j.Refunded)
	}
	if j.Reason != "" {
		line += " (" + j.Reason + ")"
	}
	return line
}

// JobCancelled is the outcome of `job cancel`: the transaction and the job after it.
type JobCancelled struct {
	Tx  *TxResult      `json:"tx"`
	Job *contracts.Job `json:"job"`
}

// CancelJob signs a CancelJob with the key named from in home, waits for it to commit and
// reads the job back, refunded.
func CancelJob(ctx context.Context, home, from string, id uint64) (*JobCancelled, error) {
	c, err := ClientForHome(home)
	if err != nil {
		return nil, err
	}
	key, err := LoadKey(home, from)
	if err != nil {
		return nil, err
	}
	// A cancel the chain would refuse is refused here, as the chain would word it: sent, it
	// would commit as a failed tx and use a nonce and a fee for nothing.
	if err := checkCancel(ctx, c, key.Address, id); err != nil {
		return nil, err
	}
	res, err := SendTx(ctx, home, from, &contracts.CancelJob{JobID: id})
	if err != nil {
		return nil, err
	}
	var j contracts.Job
	if err := c.Query(ctx, consensus.QueryJob+strconv.FormatUint(id, 10), &j); err != nil {
		return nil, fmt.Errorf("read job %d back: %w", id, err)
	}
	return &JobCancelled{Tx: res, Job: &j}, nil
}

// checkCancel applies the chain's rules for a CancelJob from sender to the job's committed
// record: it exists, sender is its client, and no provider has taken it.
func checkCancel(ctx context.Context, c *Client, sender contracts.Address, id uint64) error {
	var j contracts.Job
	if err := c.Query(ctx, consensus.QueryJob+strconv.FormatUint(id, 10), &j); err != nil {
		return err
	}
	return cancelRefusal(&j, sender)
}

// cancelRefusal is the chain's refusal of a cancel of j by sender, or nil.
func cancelRefusal(j *contracts.Job, sender contracts.Address) error {
	if j.Client != sender {
		return contracts.Errorf(contracts.CodeUnauthorized, "job %d belongs to %s, not to %s", j.ID, j.Client, sender)
	}
	if j.Status != contracts.JobPending || len(j.Assignments) > 0 {
		return contracts.Errorf(contracts.CodeJobState, "job %d is %s; only a job no provider has taken can be cancelled", j.ID, j.Status)
	}
	return nil
}

// PeerInfo is one CometBFT peer.
type PeerInfo struct {
	ID       string `json:"id"`
	Moniker  string `json:"moniker"`
	RemoteIP string `json:"remote_ip"`
	Outbound bool   `json:"outbound"`
}

// PeersReport is `ciro-node peers`: the CometBFT peers and the libp2p mesh.
type PeersReport struct {
	CometBFT []PeerInfo `json:"cometbft"`
	// PeerID and P2PPeers come from the API; P2PError says why they are missing.
	PeerID   string `json:"peer_id,omitempty"`
	P2PPeers int    `json:"p2p_peers"`
	DHTSize  int    `json:"dht_size"`
	P2PError string `json:"p2p_error,omitempty"`
}

// Peers asks the node of home for its CometBFT peers (RPC net_info) and its libp2p peer count
// (the API's /status; best effort).
func Peers(ctx context.Context, home string) (*PeersReport, error) {
	c, err := ClientForHome(home)
	if err != nil {
		return nil, err
	}
	ni, err := c.RPC.NetInfo(ctx)
	if err != nil {
		return nil, &APIError{Code: CodeUnavailable, Message: fmt.Sprintf("the node's RPC does not answer (%v); is `ciro-node start` running with this --home?", rootCause(err))}
	}
	r := &PeersReport{CometBFT: []PeerInfo{}}
	for _, p := range ni.Peers {
		r.CometBFT = append(r.CometBFT, PeerInfo{ID: string(p.NodeInfo.ID()), Moniker: p.NodeInfo.Moniker, RemoteIP: p.RemoteIP, Outbound: p.IsOutbound})
	}
	sort.Slice(r.CometBFT, func(i, j int) bool { return r.CometBFT[i].ID < r.CometBFT[j].ID })
	ac, err := APIClientForHome(home)
	if err == nil {
		var st api.Status
		if st, err = ac.Status(ctx); err == nil {
			r.PeerID, r.P2PPeers, r.DHTSize = st.PeerID, st.P2PPeers, st.DHTSize
		}
	}
	if err != nil {
		r.P2PError = err.Error()
	}
	return r, nil
}

// ProviderReport is `ciro-node provider status`: the on-chain offer and the stake behind it.
type ProviderReport struct {
	Address  contracts.Address   `json:"address"`
	Provider *contracts.Provider `json:"provider"`
	// Stake is the staker record with its tier; nil when the account has not staked.
	Stake   *consensus.StakerView `json:"stake,omitempty"`
	Balance *uint256.Int          `json:"balance"`
}

// ProviderStatus reads the provider record and the stake of who (a key name in home, or an
// address) through the API.
func (c *APIClient) ProviderStatus(ctx context.Context, home, who string) (*ProviderReport, error) {
	a, err := ResolveAddress(home, who)
	if err != nil {
		return nil, clientErrorf(CodeInvalidArgument, "%v", err)
	}
	p, err := c.Provider(ctx, a)
	if err != nil {
		return nil, err
	}
	acc, err := c.Account(ctx, a)
	if err != nil {
		return nil, err
	}
	return &ProviderReport{Address: a, Provider: p, Stake: acc.Stake, Balance: acc.Balance}, nil
}

// EarningsReport is `ciro-node provider earnings`: the node's settled, unwithdrawn earnings
// and its record, and the withdrawal when one was asked for.
type EarningsReport struct {
	Address   contracts.Address `json:"address"`
	Earnings  *uint256.Int      `json:"earnings"`
	Completed uint64            `json:"completed"`
	Failed    uint64            `json:"failed"`
	Balance   *uint256.Int      `json:"balance"`
	// Withdrawal is the withdraw transaction; Earnings and Balance are read after it.
	Withdrawal *api.TxView `json:"withdrawal,omitempty"`
}

// Earnings reports the node wallet's provider earnings; with withdraw set ("all" or an
// amount) it first moves them to the balance through POST /wallet/withdraw.
func (c *APIClient) Earnings(ctx context.Context, withdraw string) (*EarningsReport, error) {
	r := &EarningsReport{}
	if withdraw != "" {
		tx, err := c.Withdraw(ctx, withdraw)
		if err != nil {
			return nil, err
		}
		r.Withdrawal = &tx
	}
	acc, err := c.WalletBalance(ctx)
	if err != nil {
		return nil, err
	}
	r.Address, r.Balance = acc.Address, acc.Balance
	p, err := c.Provider(ctx, acc.Address)
	if err != nil {
		return nil, err
	}
	r.Earnings, r.Completed, r.Failed = p.Earnings, p.Completed, p.Failed
	if r.Earnings == nil {
		r.Earnings = new(uint256.Int)
	}
	return r, nil
}
