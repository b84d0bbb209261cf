package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/docker"
	"github.com/ciro-network/ciro-node/compute/hw"
	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/compute/wasm"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
	"github.com/ciro-network/ciro-node/p2p/wire"
)

// AgentsPath is where a home keeps the market agents' journal and scratch space.
func AgentsPath(home string) string { return filepath.Join(home, "data", "agents") }

// executors builds the executors this machine can offer: WASM and the model runtime always,
// Docker when the engine answers.
func (n *Node) executors(ctx context.Context) (map[compute.ExecutorKind]compute.Executor, error) {
	scratch := filepath.Join(AgentsPath(n.opts.Home), "results")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, err
	}
	ex := map[compute.ExecutorKind]compute.Executor{
		compute.ExecWASM:  wasm.New(wasm.Options{Logger: n.log.With("module", "wasm"), ResultRoot: scratch}),
		compute.ExecModel: model.NewExecutor(model.Options{Logger: n.log.With("module", "model"), ResultRoot: scratch}),
	}
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if d, err := docker.New(pingCtx, docker.Options{Logger: n.log.With("module", "docker"), ResultRoot: scratch}); err == nil {
		ex[compute.ExecDocker] = d
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
	execs, err := n.executors(n.ctx)
	if err != nil {
		return err
	}
	rpc := &Client{RPC: n.localRPC()}
	if cfg.Provider.Enabled {
		chain := NewChainClient(rpc, key, "provider")
		n.goTask(func(ctx context.Context) {
			if err := n.runProvider(ctx, chain, execs); err != nil && ctx.Err() == nil {
				n.log.Error("provider agent stopped", "err", err)
			}
		})
	}
	if cfg.Verifier.Enabled {
		v, err := market.NewVerifier(market.VerifierOptions{
			Chain:      NewChainClient(rpc, key, "verifier"),
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

// runProvider bonds the configured provider stake if the account has less, then runs the
// provider agent until ctx ends.
func (n *Node) runProvider(ctx context.Context, chain *ChainClient, execs map[compute.ExecutorKind]compute.Executor) error {
	cfg := n.opts.Config.Provider
	if err := WaitHeight(ctx, chain.c, 1); err != nil {
		return err
	}
	want, _ := contracts.ParseAmount(cfg.Stake)
	floor, _ := contracts.ParseAmount(cfg.FloorPrice)
	if err := n.ensureProviderStake(ctx, chain, want); err != nil {
		return fmt.Errorf("provider stake: %w", err)
	}
	rep, err := hw.Detect(ctx, hw.Options{Logger: n.log.With("module", "hw")})
	if err != nil {
		return err
	}
	behaviour, err := market.ParseBehaviour(cfg.Behaviour)
	if err != nil {
		return err
	}
	gpuModel := "cpu"
	if len(rep.Devices) > 0 {
		gpuModel = rep.Devices[0].Name
	}
	p, err := market.NewProvider(market.ProviderOptions{
		Chain:             chain,
		Content:           n.content,
		Executors:         execs,
		Profile:           rep.Profile(frameworksOf(cfg.Frameworks)),
		GPUModel:          gpuModel,
		Region:            cfg.Region,
		Capacity:          uint32(cfg.MaxConcurrentJobs),
		Pricing:           &market.FloorPricing{Default: floor, GPUClass: gpuModel, GPUMultiplierBps: market.DefaultGPUMultiplierBps},
		JournalPath:       filepath.Join(AgentsPath(n.opts.Home), "provider.journal"),
		WorkDir:           filepath.Join(AgentsPath(n.opts.Home), "work"),
		WithdrawThreshold: new(uint256.Int).Mul(floor, uint256.NewInt(20)),
		Behaviour:         behaviour,
		Logger:            n.log.With("module", "provider"),
	})
	if err != nil {
		return err
	}
	n.provider = p
	n.advertise(chain.Address(), rep, gpuModel, p)
	n.log.Info("provider agent running", "account", chain.Address(), "behaviour", behaviour, "capacity", cfg.MaxConcurrentJobs)
	return p.Run(ctx)
}

func (n *Node) ensureProviderStake(ctx context.Context, chain *ChainClient, want *uint256.Int) error {
	var st struct {
		Tokens *uint256.Int `json:"tokens"`
		Roles  uint8        `json:"roles"`
	}
	err := chain.c.Query(ctx, StakerPathFor(chain.Address()), &st)
	if err != nil && !IsCode(err, contracts.CodeNotFound) {
		return err
	}
	have := st.Tokens
	if have == nil {
		have = new(uint256.Int)
	}
	if have.Cmp(want) >= 0 && st.Roles&contracts.RoleProvider != 0 {
		return nil
	}
	amount := new(uint256.Int).Set(contracts.OneCIRO)
	if want.Gt(have) {
		amount.Sub(want, have)
	}
	_, err = chain.Send(ctx, &contracts.Stake{Amount: amount, Roles: contracts.RoleProvider, Moniker: n.opts.Config.Node.Moniker})
	if err == nil {
		n.log.Info("bonded provider stake", "amount", contracts.FormatCIRO(amount))
	}
	return err
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
func (n *Node) advertise(account contracts.Address, rep hw.Report, gpuModel string, p *market.Provider) {
	cfg := n.opts.Config.Provider
	vram := uint64(0)
	for i, d := range rep.Devices {
		if i == 0 || d.MemoryBytes < vram {
			vram = d.MemoryBytes
		}
	}
	n.host.StartAdvertising(func() wire.ProviderAdvert {
		var prices []wire.PriceHint
		for _, a := range p.Asks() {
			prices = append(prices, wire.PriceHint{JobType: a.Type.String(), PerHour: contracts.FormatCIRO(a.Price) + " per job"})
		}
		return wire.ProviderAdvert{
			Account:    account.String(),
			Caps:       wire.Capability(uint8(rep.Flags)),
			GPUModel:   gpuModel,
			GPUCount:   uint16(len(rep.Devices)),
			VRAMMiB:    uint32(vram >> 20),
			CPUCores:   uint16(rep.CPUCores),
			RAMMiB:     uint32(rep.RAMBytes >> 20),
			Frameworks: cfg.Frameworks,
			Prices:     prices,
			Region:     cfg.Region,
		}
	})
}
