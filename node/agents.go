package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/docker"
	"github.com/ciro-network/ciro-node/compute/hw"
	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/compute/wasm"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/node/api"
	"github.com/ciro-network/ciro-node/p2p"
	"github.com/ciro-network/ciro-node/p2p/wire"
	"github.com/ciro-network/ciro-node/storage/content"
)

// AgentsPath is where a home keeps the market agents' journal and scratch space.
func AgentsPath(home string) string { return filepath.Join(home, "data", "agents") }

// agentEnv is what the market agents need of the process they run in, a full node or a light
// peer: its home, configuration, logger, content store and libp2p host.
type agentEnv struct {
	home    string
	cfg     Config
	log     *slog.Logger
	content *content.Store
	host    *p2p.Host
	// metrics receives executor timings; nil (a light peer) records nothing.
	metrics *api.Metrics
	// onProvider, when set, receives the provider agent once it is built.
	onProvider func(*market.Provider)
}

// providerChain is the chain view the provider agent runs on, with the read of the account's
// own stake that bonding needs.
type providerChain interface {
	market.Chain
	// stakeOf is the account's bonded tokens and roles; zero when it is not a staker.
	stakeOf(ctx context.Context) (*uint256.Int, uint8, error)
}

// env is the node's agent environment.
func (n *Node) env() *agentEnv {
	return &agentEnv{home: n.opts.Home, cfg: n.opts.Config, log: n.log, content: n.content, host: n.host, metrics: n.metrics,
		onProvider: func(p *market.Provider) { n.provider = p; n.providerRunning.Store(true) }}
}

// executors builds the executors this machine can offer: WASM and the model runtime always,
// Docker when the engine answers, with the images of [provider] docker_images. gpuIDs, when
// set, are the only GPUs Docker hands to CUDA jobs (see dockerGPUIDs).
func (n *agentEnv) executors(ctx context.Context, gpuIDs []string) (map[compute.ExecutorKind]compute.Executor, error) {
	scratch := filepath.Join(AgentsPath(n.home), "results")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, err
	}
	wasmExec, err := wasm.New(wasm.Options{Logger: n.log.With("module", "wasm"), ResultRoot: scratch,
		CompileCacheDir: filepath.Join(AgentsPath(n.home), "wasm-cache")})
	if err != nil {
		return nil, err
	}
	ex := map[compute.ExecutorKind]compute.Executor{
		compute.ExecWASM:  n.metered(compute.ExecWASM, wasmExec),
		compute.ExecModel: n.metered(compute.ExecModel, model.NewExecutor(model.Options{Logger: n.log.With("module", "model"), ResultRoot: scratch})),
	}
	images, err := n.cfg.Provider.Images()
	if err != nil {
		return nil, fmt.Errorf("config [provider]: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if d, err := docker.New(pingCtx, docker.Options{Logger: n.log.With("module", "docker"), ResultRoot: scratch,
		Images: images, GPUDeviceIDs: gpuIDs}); err == nil {
		ex[compute.ExecDocker] = n.metered(compute.ExecDocker, d)
	} else {
		n.log.Info("docker executor off", "reason", err)
	}
	return ex, nil
}

// startAgents starts the provider agent and the verifier the config asks for. Both run as
// node tasks and stop with the node.
func (n *Node) startAgents() error {
	cfg := n.opts.Config
	if !cfg.Provider.Enabled && !cfg.Verifier.Enabled {
		return nil
	}
	key, err := LoadKey(n.opts.Home, ValidatorKeyName)
	if err != nil {
		return fmt.Errorf("the market agents sign with the node's account key: %w", err)
	}
	env := n.env()
	// The hardware is read before the executors are built, since Docker must know which GPUs
	// the provider offers; a gpu_ids naming a missing GPU fails the node's start.
	var rep hw.Report
	if cfg.Provider.Enabled {
		if rep, err = env.providerHardware(n.ctx); err != nil {
			return err
		}
	}
	execs, err := env.executors(n.ctx, dockerGPUIDs(rep))
	if err != nil {
		return err
	}
	if cfg.Provider.Enabled {
		chain := n.chainClient(key, "provider")
		n.goTask(func(ctx context.Context) {
			defer n.providerRunning.Store(false)
			if err := env.runProvider(ctx, chain, execs, rep); err != nil && ctx.Err() == nil {
				n.log.Error("provider agent stopped", "err", err)
			}
		})
	}
	if cfg.Verifier.Enabled {
		v, err := market.NewVerifier(market.VerifierOptions{
			Chain:      n.chainClient(key, "verifier"),
			Content:    n.content,
			Executors:  execs,
			SampleRate: float64(cfg.Verifier.SampleBps) / 10_000,
			WorkDir:    filepath.Join(AgentsPath(n.opts.Home), "verifier"),
			Logger:     n.log.With("module", "verifier"),
		})
		if err != nil {
			return err
		}
		n.goTask(func(ctx context.Context) {
			if err := v.Run(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("verifier stopped", "err", err)
			}
		})
	}
	return nil
}

// providerHardware detects this machine's hardware and keeps only the GPUs [provider] gpu_ids
// names (every GPU when it is empty): the profile declared on chain, the advert and the
// capability flags then describe those GPUs alone. A listed GPU that is not present is an
// error rather than left out, so that the provider never offers less than configured unnoticed.
func (n *agentEnv) providerHardware(ctx context.Context) (hw.Report, error) {
	rep, err := hw.Detect(ctx, hw.Options{Logger: n.log.With("module", "hw")})
	if err != nil {
		return hw.Report{}, err
	}
	return offeredGPUs(rep, n.cfg.Provider.GPUIDs)
}

// offeredGPUs restricts a detected report to the GPUs of gpu_ids. On error it returns rep as
// detected, for check-hardware to show what is there.
func offeredGPUs(rep hw.Report, ids []int) (hw.Report, error) {
	sel, err := rep.OnlyGPUs(ids)
	if err != nil {
		return rep, fmt.Errorf("config [provider] gpu_ids = %v: %w", ids, err)
	}
	return sel, nil
}

// dockerGPUIDs names the GPUs of a gpu_ids-restricted report as Docker's device IDs (NVML
// indices, which the NVIDIA container runtime takes); nil when every GPU is offered, leaving
// the engine free to pick any.
func dockerGPUIDs(rep hw.Report) []string {
	if rep.GPUIDs == nil {
		return nil
	}
	ids := make([]string, len(rep.Devices))
	for i, d := range rep.Devices {
		ids[i] = strconv.Itoa(d.Index)
	}
	return ids
}

// runProvider bonds the configured provider stake if the account has less, then runs the
// provider agent on the hardware rep (providerHardware) until ctx ends.
func (n *agentEnv) runProvider(ctx context.Context, chain providerChain, execs map[compute.ExecutorKind]compute.Executor, rep hw.Report) error {
	cfg := n.cfg.Provider
	if err := waitChainHeight(ctx, chain, 1); err != nil {
		return err
	}
	want, _ := contracts.ParseAmount(cfg.Stake)
	floor, _ := contracts.ParseAmount(cfg.FloorPrice)
	if err := n.ensureProviderStake(ctx, chain, want); err != nil {
		return fmt.Errorf("provider stake: %w", err)
	}
	behaviour, err := market.ParseBehaviour(cfg.Behaviour)
	if err != nil {
		return err
	}
	gpuModel := "cpu"
	if len(rep.Devices) > 0 {
		gpuModel = rep.Devices[0].Name
	}
	frameworks, err := n.declaredFrameworks(execs)
	if err != nil {
		return err
	}
	p, err := market.NewProvider(market.ProviderOptions{
		Chain:             chain,
		Content:           n.content,
		Executors:         execs,
		Profile:           rep.Profile(frameworksOf(frameworks)),
		GPUModel:          gpuModel,
		Region:            cfg.Region,
		Capacity:          uint32(cfg.MaxConcurrentJobs),
		Pricing:           &market.FloorPricing{Default: floor, GPUClass: gpuModel, GPUMultiplierBps: market.DefaultGPUMultiplierBps},
		JournalPath:       filepath.Join(AgentsPath(n.home), "provider-journal"),
		WorkDir:           filepath.Join(AgentsPath(n.home), "work"),
		WithdrawThreshold: new(uint256.Int).Mul(floor, uint256.NewInt(20)),
		AutoRestake:       cfg.AutoRestake,
		Behaviour:         behaviour,
		Logger:            n.log.With("module", "provider"),
	})
	if err != nil {
		return err
	}
	if n.onProvider != nil {
		n.onProvider(p)
	}
	n.advertise(chain.Address(), rep, gpuModel, frameworks, p)
	n.log.Info("provider agent running", "account", chain.Address(), "behaviour", behaviour, "capacity", cfg.MaxConcurrentJobs)
	return p.Run(ctx)
}

// waitChainHeight polls chain until its height reaches h.
func waitChainHeight(ctx context.Context, chain market.Chain, h int64) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := chain.Height(ctx)
		if err == nil && got >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for height %d: %w", h, errors.Join(ctx.Err(), err))
		case <-tick.C:
		}
	}
}

// ensureProviderStake bonds the difference when the account has less than want bonded or
// lacks the provider role.
func (n *agentEnv) ensureProviderStake(ctx context.Context, chain providerChain, want *uint256.Int) error {
	have, roles, err := chain.stakeOf(ctx)
	if err != nil {
		return err
	}
	if have.Cmp(want) >= 0 && roles&contracts.RoleProvider != 0 {
		return nil
	}
	amount := new(uint256.Int).Set(contracts.OneCIRO)
	if want.Gt(have) {
		amount.Sub(want, have)
	}
	_, err = chain.Send(ctx, &contracts.Stake{Amount: amount, Roles: contracts.RoleProvider, Moniker: n.cfg.Node.Moniker})
	if err == nil {
		n.log.Info("bonded provider stake", "amount", contracts.FormatCIRO(amount))
	}
	return err
}

// declaredFrameworks are the frameworks the provider declares on chain and in its advert:
// [provider] frameworks, wasi and ciro-onnx-int (the market agent declares those two for its
// WASM and model executors in any case), and those docker_images maps to an image while the
// Docker executor runs. Without the engine the mapped ones are left out, so that the provider
// never wins a job it would have to run in a container it cannot start.
func (n *agentEnv) declaredFrameworks(execs map[compute.ExecutorKind]compute.Executor) ([]string, error) {
	cfg := n.cfg.Provider
	if _, ok := execs[compute.ExecDocker]; !ok {
		if len(cfg.DockerImages) > 0 {
			n.log.Warn("the Docker executor is off: the frameworks of [provider] docker_images are not declared")
		}
		return cfg.declaredFrameworks(nil), nil
	}
	images, err := cfg.Images()
	if err != nil {
		return nil, fmt.Errorf("config [provider]: %w", err)
	}
	return cfg.declaredFrameworks(images), nil
}

func frameworksOf(names []string) []compute.Framework {
	out := make([]compute.Framework, len(names))
	for i, n := range names {
		out[i] = compute.Framework(n)
	}
	return out
}

// advertise publishes the provider's signed advert on the providers topic every advert
// interval: hardware, frameworks, standing asks and region, for peers' provider tables.
func (n *agentEnv) advertise(account contracts.Address, rep hw.Report, gpuModel string, frameworks []string, p *market.Provider) {
	cfg := n.cfg.Provider
	vram := uint64(0)
	for i, d := range rep.Devices {
		if i == 0 || d.MemoryBytes < vram {
			vram = d.MemoryBytes
		}
	}
	n.host.StartAdvertising(func() wire.ProviderAdvert {
		var prices []wire.PriceHint
		for _, a := range p.Asks() {
			// Ciro prices by job (standing asks), so the hint carries the per-job ask in the
			// smallest unit; the wire field's per-hour name predates the standing asks.
			prices = append(prices, wire.PriceHint{JobType: a.Type.String(), PerJob: a.Price.Dec()})
		}
		return wire.ProviderAdvert{
			Account:    account.String(),
			Caps:       wire.Capability(uint8(rep.Flags)),
			GPUModel:   gpuModel,
			GPUCount:   uint16(len(rep.Devices)),
			VRAMMiB:    uint32(vram >> 20),
			CPUCores:   uint16(rep.CPUCores),
			RAMMiB:     uint32(rep.RAMBytes >> 20),
			Frameworks: frameworks,
			Prices:     prices,
			Region:     cfg.Region,
		}
	})
}

// stakeOf reads the account's staker record: bonded tokens and roles, zero when none.
func (cc *ChainClient) stakeOf(ctx context.Context) (*uint256.Int, uint8, error) {
	var st struct {
		Tokens *uint256.Int `json:"tokens"`
		Roles  uint8        `json:"roles"`
	}
	err := cc.c.Query(ctx, StakerPathFor(cc.Address()), &st)
	if err != nil && !IsCode(err, contracts.CodeNotFound) {
		return nil, 0, err
	}
	if st.Tokens == nil {
		st.Tokens = new(uint256.Int)
	}
	return st.Tokens, st.Roles, nil
}

// meteredExecutor times every run of an executor into the node's metrics.
type meteredExecutor struct {
	compute.Executor
	kind    compute.ExecutorKind
	metrics *api.Metrics
}

func (n *agentEnv) metered(kind compute.ExecutorKind, e compute.Executor) compute.Executor {
	return meteredExecutor{Executor: e, kind: kind, metrics: n.metrics}
}

func (m meteredExecutor) Run(ctx context.Context, job compute.Job, in compute.Inputs) (compute.Result, error) {
	start := time.Now()
	res, err := m.Executor.Run(ctx, job, in)
	outcome := string(res.Status)
	if outcome == "" {
		outcome = string(compute.StatusOf(err))
	}
	m.metrics.ObserveExecution(string(m.kind), outcome, time.Since(start))
	return res, err
}
