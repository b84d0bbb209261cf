package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dockerclient "github.com/docker/docker/client"
	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ciro-network/ciro-node/compute/docker"
	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/compute/wasm"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/p2p"
	"github.com/ciro-network/ciro-node/storage/content"
)

// FaultyProviders is how many of the devnet's providers misbehave, and how.
type FaultyProviders struct {
	Wrong  int // return wrong results
	Silent int // never answer
}

// ParseFaultyProviders reads "wrong=N,silent=M" (either part may be left out).
func ParseFaultyProviders(s string) (FaultyProviders, error) {
	var f FaultyProviders
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return f, fmt.Errorf("--faulty-providers %q: want wrong=N,silent=M", s)
		}
		switch k {
		case "wrong":
			f.Wrong = n
		case "silent":
			f.Silent = n
		default:
			return f, fmt.Errorf("--faulty-providers: %q is not wrong or silent", k)
		}
	}
	return f, nil
}

// JobsSummary is the devnet's report on the jobs it ran.
type JobsSummary struct {
	JobsSubmitted int `json:"jobs_submitted"`
	JobsSettled   int `json:"jobs_settled"`
	JobsFailed    int `json:"jobs_failed"`
	// JobsUnsettled are submitted jobs in no final state when the run ended.
	JobsUnsettled int  `json:"jobs_unsettled"`
	RefundsExact  bool `json:"refunds_exact"`
	// The latency percentiles are absent (null in JSON) when no job was assigned or settled:
	// a percentile of nothing is not 0 ms.
	SettleLatencyP50 *int64        `json:"settle_latency_ms_p50"`
	SettleLatencyP99 *int64        `json:"settle_latency_ms_p99"`
	AssignLatencyP50 *int64        `json:"assign_latency_ms_p50"`
	AssignLatencyP99 *int64        `json:"assign_latency_ms_p99"`
	Slashes          []SlashRecord `json:"slashes"`
	Reauctions       int           `json:"reauctions"`
	// FailureReasons counts the reasons of jobs that ended without a result.
	FailureReasons      map[string]int `json:"failure_reasons,omitempty"`
	ProviderEarnings    []Earning      `json:"provider_earnings"`
	ExecutorsSkipped    []string       `json:"executors_skipped,omitempty"`
	ResultSample        string         `json:"result_sample,omitempty"`
	ProvidersCrashed    int            `json:"providers_crashed,omitempty"`
	JobsInFlightAtCrash int            `json:"jobs_in_flight_at_crash,omitempty"`
	JobsAfterCrashSet   int            `json:"jobs_in_flight_at_crash_settled,omitempty"`
}

// SlashRecord is one slash the devnet saw.
type SlashRecord struct {
	Height  int64  `json:"height"`
	Staker  string `json:"staker"`
	Moniker string `json:"moniker,omitempty"`
	Reason  string `json:"reason"`
	Amount  string `json:"amount"`
}

// Earning is a provider's earnings at the end of the run.
type Earning struct {
	Moniker   string `json:"moniker"`
	Behaviour string `json:"behaviour"`
	Earned    string `json:"earned"`
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
}

// jobTracker follows job events and records latencies.
type jobTracker struct {
	mu        sync.Mutex
	submitted map[uint64]time.Time
	assigned  map[uint64]time.Time
	settled   map[uint64]time.Time
	status    map[uint64]string
	slashes   []SlashRecord
	reauction int
}

func newJobTracker() *jobTracker {
	return &jobTracker{submitted: map[uint64]time.Time{}, assigned: map[uint64]time.Time{}, settled: map[uint64]time.Time{}, status: map[uint64]string{}}
}

func (t *jobTracker) observe(e market.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, hasID := e.JobID()
	now := time.Now()
	switch e.Type {
	case "job_assigned":
		if _, ok := t.assigned[id]; hasID && !ok {
			t.assigned[id] = now
		}
	case "job_settled":
		if hasID {
			t.settled[id] = now
			t.status[id] = e.Attrs["status"]
		}
	case "job_reauction":
		t.reauction++
	case "slash":
		t.slashes = append(t.slashes, SlashRecord{Height: e.Height, Staker: e.Attrs["staker"], Reason: e.Attrs["reason"], Amount: e.Attrs["amount"]})
	}
}

func (t *jobTracker) counts() (submitted, assigned, settled, failed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.submitted {
		if _, ok := t.assigned[id]; ok {
			assigned++
		}
		switch t.status[id] {
		case "":
		case contracts.JobCompleted.String():
			settled++
		default:
			failed++
		}
	}
	return len(t.submitted), assigned, settled, failed
}

// percentile is the p-th percentile (nearest rank) of ms, or nil for an empty set.
func percentile(ms []int64, p int) *int64 {
	if len(ms) == 0 {
		return nil
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
	idx := (len(ms)*p + 99) / 100
	if idx < 1 {
		idx = 1
	}
	v := ms[idx-1]
	return &v
}

// demoAssets are the artifacts the devnet's jobs run.
type demoAssets struct {
	wasmModule  string // path of the word-count guest
	onnxModel   string // path of the demo MLP
	dockerImage string // image ID, empty without an engine
	skipped     []string
}

// buildDemoAssets builds the WASM guest with the Go toolchain, writes the demo model and, when
// the Docker engine answers, builds a FROM-scratch image of the checksum program.
func buildDemoAssets(ctx context.Context, dir string, logf func(string, ...any)) (*demoAssets, error) {
	a := &demoAssets{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	a.wasmModule = filepath.Join(dir, "wordcount.wasm")
	if _, err := os.Stat(a.wasmModule); err != nil {
		logf("building the WASM word-count guest (GOOS=wasip1)")
		if err := wasm.BuildGuest(ctx, "./compute/wasm/demo/wordcount", a.wasmModule); err != nil {
			return nil, fmt.Errorf("build the demo WASM guest: %w", err)
		}
	}
	a.onnxModel = filepath.Join(dir, "mlp.onnx")
	if err := os.WriteFile(a.onnxModel, model.DemoMLP(7), 0o644); err != nil {
		return nil, err
	}
	if !docker.EngineAvailable(ctx) {
		a.skipped = append(a.skipped, "docker (no engine)")
		logf("the Docker engine is not reachable: Docker jobs are skipped")
		return a, nil
	}
	img, err := buildDemoImage(ctx, dir)
	if err != nil {
		a.skipped = append(a.skipped, "docker ("+err.Error()+")")
		logf("docker demo image: %v; Docker jobs are skipped", err)
		return a, nil
	}
	a.dockerImage = img
	logf("built the Docker demo image %s", img[:19])
	return a, nil
}

// demoJob is the i-th job of the stream: WASM data processing, model inference and, when the
// engine is present, a Docker job, each under redundant(3) or sampled verification in turn.
func (a *demoAssets) demoJob(i int, dir string, providers int, trivial bool) (market.JobRequest, error) {
	input := filepath.Join(dir, fmt.Sprintf("input-%03d", i))
	if err := os.MkdirAll(input, 0o755); err != nil {
		return market.JobRequest{}, err
	}
	kinds := 2
	if a.dockerImage != "" {
		kinds = 3
	}
	// The deadline leaves room for a loaded machine and a queue: 150 blocks are about a minute.
	req := market.JobRequest{MaxPrice: contracts.CIRO(1), DeadlineBlocks: 150}
	req.Verification = contracts.VerifySampled
	if i%2 == 0 && providers >= 3 {
		req.Verification, req.Redundancy = contracts.VerifyRedundant, 3
	}
	kind := i % kinds
	if trivial {
		kind, req.Verification, req.Redundancy = 1, contracts.VerifyNone, 1
	}
	var err error
	switch kind {
	case 0:
		req.Type = contracts.JobDataProcessing
		req.Requirements.Frameworks = []string{"wasi"}
		req.ModelPath = a.wasmModule
		text := strings.Repeat(fmt.Sprintf("job %d of the ciro devnet counts these words\n", i), 10+i)
		err = os.WriteFile(filepath.Join(input, "text.txt"), []byte(text), 0o644)
	case 1:
		req.Type = contracts.JobAIInference
		req.Requirements.Frameworks = []string{"ciro-onnx-int"}
		req.ModelPath = a.onnxModel
		err = os.WriteFile(filepath.Join(input, "input.bin"), model.DemoInput(uint64(i)), 0o644)
	default:
		// A job that names its image: the type whose default executor is Docker and that
		// implies no GPU or framework.
		req.Type = contracts.JobProofGeneration
		req.Params = market.JobParams{Image: a.dockerImage, WallSeconds: 60}
		err = os.WriteFile(filepath.Join(input, "data.txt"), []byte(fmt.Sprintf("docker job %d\n", i)), 0o644)
	}
	req.InputPath = input
	return req, err
}

var errNoProviders = errors.New("providers did not register")

// clientPeer is the devnet's client: a light libp2p peer with its own content store, and a
// chain view over node0's RPC signed by its own funded key.
type clientPeer struct {
	host    *p2p.Host
	content *content.Store
	chain   *node.ChainClient
	client  *market.Client
}

func (d *Devnet) startClientPeer(ctx context.Context, port int) (*clientPeer, error) {
	dir := filepath.Join(d.Dir, "client")
	cfg0, err := node.LoadConfig(d.Home(0))
	if err != nil {
		return nil, err
	}
	boot, err := bootstrapAddrOf(d.Home(0), cfg0)
	if err != nil {
		return nil, err
	}
	host, err := p2p.New(ctx, p2p.Options{
		Role:         p2p.RoleLight,
		IdentityPath: filepath.Join(dir, "p2p_key"),
		ListenAddrs:  []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)},
		Bootstrap:    []string{boot},
		Logger:       discardLogger(),
	})
	if err != nil {
		return nil, err
	}
	store, err := content.Open(ctx, content.Options{Dir: filepath.Join(dir, "content"), Host: host.Libp2p(), Routing: host.Routing(), Logger: discardLogger()})
	if err != nil {
		host.Close()
		return nil, err
	}
	key, err := node.LoadKey(d.Home(0), "client")
	if errors.Is(err, node.ErrKeyNotFound) {
		key, err = node.AddKey(d.Home(0), "client")
	}
	if err != nil {
		store.Close()
		host.Close()
		return nil, err
	}
	faucet, err := node.LoadKey(d.Home(0), node.FaucetKeyName)
	if err != nil {
		return nil, err
	}
	if _, err := d.Clients[0].Send(ctx, faucet, &contracts.Transfer{To: key.Address, Amount: contracts.CIRO(100_000)}); err != nil {
		return nil, fmt.Errorf("fund the client: %w", err)
	}
	rpc, err := node.ClientForHome(d.Home(0))
	if err != nil {
		return nil, err
	}
	cp := &clientPeer{host: host, content: store, chain: node.NewChainClient(rpc, key, "devnet-client")}
	cp.client, err = market.NewClient(market.ClientOptions{Chain: cp.chain, Content: store, PollInterval: 500 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	return cp, nil
}

func (cp *clientPeer) Close() {
	cp.content.Close()
	cp.host.Close()
}

// runJobs runs the devnet's job stream: it waits for the providers, submits n demo jobs
// through the client peer, follows them to settlement with live progress, and reports.
func (d *Devnet) runJobs(ctx context.Context, o Options, sum *Summary) error {
	assets, err := buildDemoAssets(ctx, filepath.Join(d.Dir, "assets"), d.logf)
	if err != nil {
		return err
	}
	sum.ExecutorsSkipped = assets.skipped
	cp, err := d.startClientPeer(ctx, o.BasePort+9)
	if err != nil {
		return fmt.Errorf("client peer: %w", err)
	}
	defer cp.Close()
	if err := d.waitProviders(ctx, o.Providers); err != nil {
		return err
	}

	tracker := newJobTracker()
	events, err := node.NewChainClient(d.Clients[0], nil, "devnet-watch").Events(ctx)
	if err != nil {
		return err
	}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for e := range events {
			tracker.observe(e)
		}
	}()

	jobsDir := filepath.Join(d.Dir, "jobs")
	var wg sync.WaitGroup
	var submitErr error
	var submitMu sync.Mutex
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, err := assets.demoJob(i, jobsDir, o.Providers, o.Trivial)
				var id uint64
				if err == nil {
					start := time.Now()
					id, err = cp.client.Submit(ctx, req)
					if err == nil {
						tracker.mu.Lock()
						tracker.submitted[id] = start
						tracker.mu.Unlock()
					}
				}
				if err != nil {
					submitMu.Lock()
					submitErr = errors.Join(submitErr, fmt.Errorf("job %d: %w", i, err))
					submitMu.Unlock()
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; o.Jobs <= 0 || i < o.Jobs; i++ {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
			if o.Jobs <= 0 {
				time.Sleep(time.Second) // an endless stream, at a pace a person can follow
			}
		}
	}()

	var crashed []uint64 // jobs provider0 held when it was killed
	startedAt := time.Now()
	monikers := map[contracts.Address]string{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	submitDone := make(chan struct{})
	go func() { wg.Wait(); close(submitDone) }()
	deadline := time.Now().Add(time.Duration(o.Jobs)*3*time.Second + 3*time.Minute)
	for {
		select {
		case <-ctx.Done():
			goto report
		case <-tick.C:
		}
		s, a, done, failed := tracker.counts()
		if o.CrashProviderAfter > 0 && crashed == nil && s >= o.CrashProviderAfter {
			crashed = d.crashProvider(ctx, o)
		}
		h, _ := d.Clients[0].Height(ctx)
		d.logf("height %d | jobs submitted %d, assigned %d, settled %d, failed %d", h, s, a, done, failed)
		if tick := int(time.Since(startedAt) / time.Second); tick%5 == 0 {
			d.logf("earnings |%s", d.earningsLine(ctx, monikers))
		}
		select {
		case <-submitDone:
			if done+failed >= s {
				goto report
			}
		default:
		}
		if o.Jobs > 0 && time.Now().After(deadline) {
			d.logf("giving up waiting for %d jobs", s-done-failed)
			goto report
		}
	}
report:
	submitMu.Lock()
	if submitErr != nil && ctx.Err() == nil {
		sum.Errors = append(sum.Errors, submitErr.Error())
	}
	submitMu.Unlock()
	// The report reads the chain after Ctrl-C too.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if crashed != nil {
		sum.JobsInFlightAtCrash = len(crashed)
		for _, id := range crashed {
			if j, err := cp.chain.Job(rctx, id); err == nil && j != nil && j.Status == contracts.JobCompleted {
				sum.JobsAfterCrashSet++
			}
		}
	}
	return d.reportJobs(rctx, cp, tracker, sum)
}

func (d *Devnet) waitProviders(ctx context.Context, want int) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		var list []*contracts.Provider
		if err := d.Clients[0].Query(ctx, "/providers", &list); err == nil && len(list) >= want {
			d.logf("%d providers registered", len(list))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: fewer than %d after 90 s; see the provider nodes' logs", errNoProviders, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (d *Devnet) reportJobs(ctx context.Context, cp *clientPeer, t *jobTracker, sum *Summary) error {
	t.mu.Lock()
	var settleMs, assignMs []int64
	ids := make([]uint64, 0, len(t.submitted))
	for id, start := range t.submitted {
		ids = append(ids, id)
		if at, ok := t.settled[id]; ok {
			settleMs = append(settleMs, at.Sub(start).Milliseconds())
		}
		if at, ok := t.assigned[id]; ok {
			assignMs = append(assignMs, at.Sub(start).Milliseconds())
		}
	}
	sum.Slashes = append([]SlashRecord{}, t.slashes...)
	sum.Reauctions = t.reauction
	t.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	sum.JobsSubmitted = len(ids)
	sum.SettleLatencyP50, sum.SettleLatencyP99 = percentile(settleMs, 50), percentile(settleMs, 99)
	sum.AssignLatencyP50, sum.AssignLatencyP99 = percentile(assignMs, 50), percentile(assignMs, 99)
	sum.RefundsExact = true
	for _, id := range ids {
		j, err := cp.chain.Job(ctx, id)
		if err != nil || j == nil {
			sum.Errors = append(sum.Errors, fmt.Sprintf("job %d: %v", id, err))
			continue
		}
		switch {
		case j.Status == contracts.JobCompleted:
			sum.JobsSettled++
		case !j.Status.Final():
			sum.JobsUnsettled++
		default:
			sum.JobsFailed++
			if sum.FailureReasons == nil {
				sum.FailureReasons = map[string]int{}
			}
			sum.FailureReasons[j.Status.String()+": "+j.Reason]++
		}
		// Every unit of escrow is accounted for: paid to providers, refunded, or the fee.
		locked := new(uint256.Int).Mul(j.Spec.MaxPrice, uint256.NewInt(uint64(j.Spec.Redundancy)))
		locked.Add(locked, j.Fee)
		accounted := new(uint256.Int).Add(j.Paid, j.Refunded)
		if j.Status == contracts.JobCompleted {
			accounted.Add(accounted, j.Fee)
		}
		if j.Status.Final() && (!accounted.Eq(locked) || !j.Escrow.IsZero()) {
			sum.RefundsExact = false
			sum.Errors = append(sum.Errors, fmt.Sprintf("job %d: locked %s, paid %s + refunded %s (+ fee when completed)", id, locked.Dec(), j.Paid.Dec(), j.Refunded.Dec()))
		}
		if sum.ResultSample == "" && j.Status == contracts.JobCompleted && j.Spec.Type == contracts.JobDataProcessing {
			out := filepath.Join(d.Dir, "results", strconv.FormatUint(id, 10))
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := cp.client.FetchResult(fctx, id, out, nil)
			cancel()
			if err != nil {
				d.logf("fetching job %d's result %s: %v", id, j.ResultCID, err)
			} else if b, err := os.ReadFile(filepath.Join(out, "counts.json")); err != nil {
				d.logf("job %d's result has no counts.json: %v", id, err)
			} else {
				sum.ResultSample = strings.Join(strings.Fields(string(b)), " ")
				d.logf("job %d's result, fetched by CID %s: %s", id, j.ResultCID, sum.ResultSample)
			}
		}
	}
	monikers := map[string]string{}
	var providers []*contracts.Provider
	if err := d.Clients[0].Query(ctx, "/providers", &providers); err == nil {
		for _, p := range providers {
			st := d.stakerMoniker(ctx, p.Address)
			monikers[p.Address.String()] = st
			sum.ProviderEarnings = append(sum.ProviderEarnings, Earning{
				Moniker: st, Behaviour: d.behaviours[st], Earned: contracts.FormatCIRO(p.Earnings), Completed: p.Completed, Failed: p.Failed,
			})
		}
	}
	for i := range sum.Slashes {
		sum.Slashes[i].Moniker = monikers[sum.Slashes[i].Staker]
	}
	return nil
}

func (d *Devnet) stakerMoniker(ctx context.Context, a contracts.Address) string {
	var st contracts.Staker
	if err := d.Clients[0].Query(ctx, node.StakerPathFor(a), &st); err != nil {
		return a.String()
	}
	return st.Moniker
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// bootstrapAddrOf is the full libp2p multiaddr (with /p2p/<id>) of the node of home.
func bootstrapAddrOf(home string, cfg node.Config) (string, error) {
	key, err := p2p.LoadOrCreateIdentity(node.P2PKeyPath(home))
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", err
	}
	if len(cfg.P2P.Listen) == 0 {
		return "", fmt.Errorf("%s listens on no libp2p address", home)
	}
	return cfg.P2P.Listen[0] + "/p2p/" + id.String(), nil
}

// buildDemoImage compiles the checksum program statically and wraps it in a FROM-scratch image.
func buildDemoImage(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "checksum")
	if err := goBuild(ctx, "./compute/docker/demo/checksum", bin, "CGO_ENABLED=0"); err != nil {
		return "", err
	}
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer cli.Close()
	return docker.BuildScratchImage(ctx, cli, bin, "ciro-devnet/checksum:latest")
}

// goBuild builds a package of this module with the Go toolchain, from the module root.
func goBuild(ctx context.Context, pkg, out string, env ...string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("the devnet builds its demo jobs with the Go toolchain, which is not usable here: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("the devnet builds its demo jobs from the ciro-node source tree: run it from there (make devnet)")
	}
	return filepath.Dir(mod), nil
}

// crashProvider kills provider0 with SIGKILL, as a power cut would, and returns the jobs it
// held: the chain must re-auction them when their deadlines pass.
func (d *Devnet) crashProvider(ctx context.Context, o Options) []uint64 {
	i := o.Validators + o.FullNodes
	key, err := node.LoadKey(d.Home(i), node.ValidatorKeyName)
	if err != nil {
		d.logf("crash: %v", err)
		return []uint64{}
	}
	var held []contracts.ProviderJob
	_ = d.Clients[0].Query(ctx, "/jobs/provider/"+key.Address.String(), &held)
	d.Procs[i].Kill()
	ids := make([]uint64, 0, len(held))
	for _, pj := range held {
		if pj.Job != nil && !pj.Job.Status.Final() {
			ids = append(ids, pj.Job.ID)
		}
	}
	d.logf("killed provider0 (SIGKILL) holding %d unsettled jobs: %v", len(ids), ids)
	return ids
}

// earningsLine renders each provider's on-chain earnings and completed jobs, for the progress
// display; monikers caches the stakers' names.
func (d *Devnet) earningsLine(ctx context.Context, monikers map[contracts.Address]string) string {
	var providers []*contracts.Provider
	if err := d.Clients[0].Query(ctx, "/providers", &providers); err != nil {
		return " (unavailable)"
	}
	var b strings.Builder
	for _, p := range providers {
		name, ok := monikers[p.Address]
		if !ok {
			name = d.stakerMoniker(ctx, p.Address)
			monikers[p.Address] = name
		}
		fmt.Fprintf(&b, " %s %s (%d jobs)", name, contracts.FormatCIRO(p.Earnings), p.Completed)
	}
	return b.String()
}
