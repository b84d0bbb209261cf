package node

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/ciro-network/ciro-node/consensus"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/api"
	"github.com/ciro-network/ciro-node/storage/content"
)

// APITokenPath is where a home keeps the bearer token the API's write endpoints need.
func APITokenPath(home string) string { return filepath.Join(home, "config", "api_token") }

// LoadOrCreateAPIToken reads the node's API token, creating a random one (mode 0600) on first
// use.
func LoadOrCreateAPIToken(home string) (string, error) {
	b, err := os.ReadFile(APITokenPath(home))
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(APITokenPath(home)), 0o700); err != nil {
		return "", err
	}
	return token, os.WriteFile(APITokenPath(home), []byte(token+"\n"), 0o600)
}

// backend answers the HTTP API from the node's own CometBFT, state and content store.
type backend struct {
	n      *Node
	rpc    *Client
	wallet *ChainClient // nil without an account key
}

var _ api.Backend = (*backend)(nil)

func (n *Node) newBackend() *backend {
	b := &backend{n: n, rpc: &Client{RPC: n.localRPC()}}
	if key, err := LoadKey(n.opts.Home, ValidatorKeyName); err == nil {
		b.wallet = n.chainClient(key, "api")
	}
	return b
}

func (b *backend) Status(ctx context.Context) (api.Status, error) {
	st, err := b.rpc.RPC.Status(ctx)
	if err != nil {
		return api.Status{}, fmt.Errorf("%w: %v", api.ErrUnavailable, err)
	}
	out := api.Status{
		NodeID:     string(st.NodeInfo.ID()),
		Moniker:    st.NodeInfo.Moniker,
		ChainID:    st.NodeInfo.Network,
		Version:    "ciro-node/" + Version(),
		Height:     st.SyncInfo.LatestBlockHeight,
		AppHash:    st.SyncInfo.LatestAppHash.String(),
		BlockTime:  st.SyncInfo.LatestBlockTime,
		CatchingUp: st.SyncInfo.CatchingUp,
		Roles:      []string{"full"},
	}
	if st.ValidatorInfo.VotingPower > 0 {
		out.Roles = append(out.Roles, "validator")
	}
	if b.n.opts.Config.Provider.Enabled {
		out.Roles = append(out.Roles, "provider")
	}
	if b.wallet != nil {
		out.Wallet = b.wallet.Address().String()
	}
	outPeers, inPeers, _ := b.n.cmt.Switch().NumPeers()
	out.Peers = outPeers + inPeers
	if b.n.host != nil {
		ms := b.n.host.Status()
		out.PeerID, out.P2PPeers, out.DHTSize = ms.ID.String(), ms.Peers, ms.DHTRouting
		for _, t := range ms.Topics {
			out.Topics = append(out.Topics, t.Name)
		}
	}
	return out, nil
}

func (b *backend) SubmitJob(ctx context.Context, req api.JobRequest) (api.JobReceipt, error) {
	if b.wallet == nil {
		return api.JobReceipt{}, fmt.Errorf("%w: the node has no account key", api.ErrUnavailable)
	}
	spec := req.Spec
	for _, c := range []struct{ field, what, cid string }{{"model_cid", "model", spec.ModelCID}, {"input_cid", "input", spec.InputCID}} {
		if err := b.servable(ctx, c.field, c.what, c.cid); err != nil {
			return api.JobReceipt{}, err
		}
	}
	if spec.Deadline == 0 {
		h, err := b.rpc.Height(ctx)
		if err != nil {
			return api.JobReceipt{}, err
		}
		in := req.DeadlineIn
		if in == 0 {
			in = market.DefaultDeadlineBlocks
		}
		spec.Deadline = uint64(h) + in
	}
	res, err := b.wallet.SendTx(ctx, &contracts.SubmitJob{Spec: spec})
	if err != nil {
		return api.JobReceipt{}, err
	}
	raw, err := b.rpc.RPC.Tx(ctx, res.hash, false)
	if err != nil {
		return api.JobReceipt{}, fmt.Errorf("read committed tx %s: %w", res.Hash, err)
	}
	for _, e := range toMarketEvents(res.Height, raw.TxResult.Events) {
		if id, ok := e.JobID(); ok && e.Type == "job_submitted" {
			return api.JobReceipt{ID: id, TxView: api.TxView{Hash: res.Hash, Height: res.Height}}, nil
		}
	}
	return api.JobReceipt{}, fmt.Errorf("the job was committed at height %d but its id was not in the events", res.Height)
}

// servable refuses a job's model or input that this node does not hold in full. The node is the
// job's first source: naming content nobody can serve would fail the provider that takes the
// job, at the provider's cost.
func (b *backend) servable(ctx context.Context, field, what, c string) error {
	if c == "" {
		return nil
	}
	root, err := cid.Decode(c)
	if err != nil {
		return api.FieldError(http.StatusBadRequest, contracts.CodeInvalidArgument.String(), field, "the %s %q is not a CID: %v", what, c, err)
	}
	if b.n.content == nil {
		return fmt.Errorf("%w: content store not open", api.ErrUnavailable)
	}
	missing, err := missingBlock(ctx, b.n.content.Blockstore(), root)
	if err != nil {
		return err
	}
	if missing.Defined() {
		return api.FieldError(http.StatusConflict, api.CodeContentUnavailable, field,
			"this node does not hold the %s %s (block %s is missing), so no provider could be sure to fetch it; add it first with `ciro-node content add` or POST /content", what, c, missing)
	}
	return nil
}

// missingBlock walks the DAG under root in the local blockstore, without fetching, and returns
// the first block it lacks, or cid.Undef when the whole DAG is here.
func missingBlock(ctx context.Context, bs blockstore.Blockstore, root cid.Cid) (cid.Cid, error) {
	stack := []cid.Cid{root}
	seen := map[cid.Cid]bool{}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		blk, err := bs.Get(ctx, c)
		if ipld.IsNotFound(err) {
			return c, nil
		}
		if err != nil {
			return cid.Undef, fmt.Errorf("read block %s: %w", c, err)
		}
		if c.Type() != cid.DagProtobuf {
			continue
		}
		nd, err := merkledag.DecodeProtobufBlock(blk)
		if err != nil {
			continue // a block that is not a UnixFS node has no links to follow
		}
		for _, l := range nd.Links() {
			stack = append(stack, l.Cid)
		}
	}
	return cid.Undef, nil
}

func (b *backend) Jobs(ctx context.Context, f api.JobFilter) ([]*contracts.Job, error) {
	var list []*contracts.Job
	switch {
	case f.Client != nil:
		if err := b.rpc.Query(ctx, consensus.QueryClientJobs+f.Client.String(), &list); err != nil {
			return nil, err
		}
	case f.Provider != nil:
		var pj []contracts.ProviderJob
		if err := b.rpc.Query(ctx, consensus.QueryProvJobs+f.Provider.String(), &pj); err != nil {
			return nil, err
		}
		for _, p := range pj {
			list = append(list, p.Job)
		}
	default:
		if err := b.rpc.Query(ctx, consensus.QueryRecentJobs, &list); err != nil {
			return nil, err
		}
	}
	out := make([]*contracts.Job, 0, len(list))
	for _, j := range list {
		if f.Match(j) && (f.Limit == 0 || len(out) < f.Limit) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (b *backend) Job(ctx context.Context, id uint64) (*contracts.Job, error) {
	var j contracts.Job
	if err := b.rpc.Query(ctx, consensus.QueryJob+strconv.FormatUint(id, 10), &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// JobResult serves a completed job's output: the file itself when the output is one file, a
// tar stream of the output directory otherwise.
func (b *backend) JobResult(ctx context.Context, id uint64) (api.Content, error) {
	j, err := b.Job(ctx, id)
	if err != nil {
		return api.Content{}, err
	}
	if j.Status != contracts.JobCompleted || j.ResultCID == "" {
		return api.Content{}, contracts.Errorf(contracts.CodeJobState, "job %d is %s; a result is served once it completes", id, j.Status)
	}
	root, err := cid.Decode(j.ResultCID)
	if err != nil {
		return api.Content{}, fmt.Errorf("job %d result CID: %w", id, err)
	}
	dir, err := os.MkdirTemp("", "ciro-result-")
	if err != nil {
		return api.Content{}, err
	}
	out := filepath.Join(dir, "out")
	if err := b.n.content.Get(ctx, root, out, content.GetOptions{}); err != nil {
		os.RemoveAll(dir)
		return api.Content{}, err
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		f, err := os.Open(out)
		if err != nil {
			os.RemoveAll(dir)
			return api.Content{}, err
		}
		return api.Content{CID: j.ResultCID, Body: &removeOnClose{File: f, dir: dir}, Size: fi.Size()}, nil
	}
	pr, pw := io.Pipe()
	go func() {
		defer os.RemoveAll(dir)
		pw.CloseWithError(tarDir(out, pw))
	}()
	return api.Content{CID: j.ResultCID, Body: pr, Size: -1, ContentType: "application/x-tar"}, nil
}

type removeOnClose struct {
	*os.File
	dir string
}

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	os.RemoveAll(r.dir)
	return err
}

func tarDir(root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		hdr.Name = filepath.ToSlash(rel)
		hdr.ModTime = time.Unix(0, 0) // the same bytes for the same result
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func (b *backend) Providers(ctx context.Context) ([]*contracts.Provider, error) {
	return QueryAll[*contracts.Provider](ctx, b.rpc, consensus.QueryProviders)
}

func (b *backend) Provider(ctx context.Context, a contracts.Address) (*contracts.Provider, error) {
	var p contracts.Provider
	if err := b.rpc.Query(ctx, consensus.QueryProvider+a.String(), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (b *backend) Validators(ctx context.Context) ([]contracts.ValidatorInfo, error) {
	return QueryAll[contracts.ValidatorInfo](ctx, b.rpc, consensus.QueryValidators)
}

func (b *backend) Account(ctx context.Context, a contracts.Address) (api.AccountView, error) {
	acc, err := b.rpc.Account(ctx, a)
	if err != nil {
		return api.AccountView{}, err
	}
	v := api.AccountView{Address: a, Balance: acc.Balance, Nonce: acc.Nonce}
	var st consensus.StakerView
	if err := b.rpc.Query(ctx, consensus.QueryStaker+a.String(), &st); err == nil {
		v.Stake = &st
	} else if !IsCode(err, contracts.CodeNotFound) {
		return v, err
	}
	var p contracts.Provider
	if err := b.rpc.Query(ctx, consensus.QueryProvider+a.String(), &p); err == nil {
		v.Earnings = p.Earnings
	} else if !IsCode(err, contracts.CodeNotFound) {
		return v, err
	}
	return v, nil
}

func (b *backend) WalletBalance(ctx context.Context) (api.AccountView, error) {
	if b.wallet == nil {
		return api.AccountView{}, fmt.Errorf("%w: the node has no account key", api.ErrUnavailable)
	}
	return b.Account(ctx, b.wallet.Address())
}

func (b *backend) WalletWithdraw(ctx context.Context, amount *uint256.Int) (api.TxView, error) {
	if b.wallet == nil {
		return api.TxView{}, fmt.Errorf("%w: the node has no account key", api.ErrUnavailable)
	}
	res, err := b.wallet.SendTx(ctx, &contracts.Withdraw{Amount: amount})
	if err != nil {
		return api.TxView{}, err
	}
	return api.TxView{Hash: res.Hash, Height: res.Height}, nil
}

func (b *backend) WalletSend(ctx context.Context, sender contracts.Address, msg contracts.Msg) (api.TxView, error) {
	if b.wallet == nil {
		return api.TxView{}, fmt.Errorf("%w: the node has no account key", api.ErrUnavailable)
	}
	if sender != b.wallet.Address() {
		return api.TxView{}, contracts.Errorf(contracts.CodeUnauthorized, "the transaction is signed by %s; this node sends only for its own account %s", sender, b.wallet.Address())
	}
	res, err := b.wallet.SendTx(ctx, msg)
	if err != nil {
		return api.TxView{}, err
	}
	return api.TxView{Hash: res.Hash, Height: res.Height}, nil
}

// AddContent imports an upload into the node's store, pinned as a job input so GC keeps it
// until the operator unpins it.
func (b *backend) AddContent(ctx context.Context, r io.Reader, name string) (string, error) {
	if b.n.content == nil {
		return "", fmt.Errorf("%w: content store not open", api.ErrUnavailable)
	}
	c, err := b.n.content.AddReader(ctx, r, content.AddOptions{Pin: content.PinInput, Name: name})
	if err != nil {
		if errors.Is(err, content.ErrTooLarge) {
			return "", fmt.Errorf("%w: %v", api.ErrTooLarge, err)
		}
		return "", fmt.Errorf("import upload: %w", err)
	}
	return c.String(), nil
}

func (b *backend) Content(ctx context.Context, c string) (api.Content, error) {
	root, err := cid.Decode(c)
	if err != nil {
		return api.Content{}, contracts.Errorf(contracts.CodeInvalidArgument, "%q is not a CID: %v", c, err)
	}
	r, size, err := b.n.content.Cat(ctx, root)
	if err != nil {
		return api.Content{}, err
	}
	return api.Content{CID: c, Body: r, Size: size}, nil
}

// JobEvents turns the chain's job events into status changes.
func (b *backend) JobEvents(ctx context.Context) (<-chan api.JobEvent, error) {
	events, err := NewChainClient(b.rpc, nil, "api-events").Events(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan api.JobEvent, 64)
	go func() {
		defer close(out)
		for e := range events {
			je, ok := toJobEvent(e)
			if !ok {
				continue
			}
			select {
			case out <- je:
			default: // a slow reader misses events rather than stalling the node
			}
		}
	}()
	return out, nil
}

func toJobEvent(e market.Event) (api.JobEvent, bool) {
	id, ok := e.JobID()
	if !ok {
		return api.JobEvent{}, false
	}
	je := api.JobEvent{JobID: id, Height: e.Height, Type: e.Attrs["type"], ResultCID: e.Attrs["result_cid"], Reason: e.Attrs["reason"]}
	switch e.Type {
	case "job_submitted":
		je.Status = contracts.JobPending
	case "job_assigned":
		je.Status = contracts.JobAssigned
	case "job_result":
		je.Status = contracts.JobVerifying
	case "job_reauction":
		je.Status = contracts.JobPending
	case "job_settled":
		if err := je.Status.UnmarshalText([]byte(e.Attrs["status"])); err != nil {
			return je, false
		}
	default:
		return je, false
	}
	if p, err := contracts.ParseAddress(e.Attrs["provider"]); err == nil {
		je.Provider = &p
	}
	return je, true
}
