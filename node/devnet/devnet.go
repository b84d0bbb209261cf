package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
)

// Options configure `ciro-node devnet`.
type Options struct {
	// Dir keeps the network's data; empty means a temporary directory removed on exit.
	Dir string
	// Validators is the number of validator processes (default 4).
	Validators int
	// FullNodes is the number of extra full-node processes, not validators at genesis.
	FullNodes int
	// Providers is the number of provider nodes (nodes selling compute), of which Faulty
	// misbehave. They come after the validators and the plain full nodes. With two providers
	// or more, the last one runs as a light peer (see LightProvider) unless it is faulty.
	Providers int
	Faulty    FaultyProviders
	// Jobs is how many demo jobs to run; zero with Once runs the transfer demo only, zero
	// without Once streams jobs until ctx ends.
	Jobs int
	// Trivial runs only small model-inference jobs with no verification: the workload the
	// latency benchmarks measure.
	Trivial bool
	// WithLightProvider runs the last honest provider as a light peer (the devnet command does
	// by default).
	WithLightProvider bool
	// Rewards pays staking rewards every 50 blocks, as a real network would every epoch.
	Rewards bool
	// CrashProviderAfter, when positive, kills provider0 with SIGKILL once that many jobs are
	// submitted, and reports what became of the jobs it held.
	CrashProviderAfter int
	// Binary is the ciro-node executable to run the nodes with (default: this one).
	Binary string
	// Once exits after the demo instead of running until ctx ends.
	Once bool
	// Out receives progress lines.
	Out io.Writer
	// BasePort and APIBasePort are as in TestnetOptions.
	BasePort, APIBasePort int
	// Configure, when set, edits node i's configuration (home is its directory) after the
	// devnet set its role and before the node starts: tests change peering this way.
	Configure func(i int, home string, cfg *node.Config) error
}

// Summary is what a devnet run reports at the end.
type Summary struct {
	Dir               string   `json:"dir"`
	Validators        int      `json:"validators"`
	Providers         int      `json:"providers"`
	LightProviders    int      `json:"light_providers"`
	Blocks            int64    `json:"blocks"`
	TxsCommitted      int      `json:"txs_committed"`
	AppHashAgree      bool     `json:"app_hash_agree"`
	HeightsCompared   int      `json:"heights_compared"`
	SupplyInvariantOK bool     `json:"supply_invariant_ok"`
	Errors            []string `json:"errors,omitempty"`
	JobsSummary
}

// LightProvider is the index among the providers of the one that runs as a light peer (the
// last), or -1 when none does: unless WithLightProvider is set, with fewer than two
// providers, or when the last is faulty (faulty providers are the first ones).
func (o Options) LightProvider() int {
	p := o.Providers - 1
	if !o.WithLightProvider || o.Providers < 2 || p < o.Faulty.Wrong+o.Faulty.Silent {
		return -1
	}
	return p
}

// lightNode is the node index of the light provider, or -1.
func (o Options) lightNode() int {
	if p := o.LightProvider(); p >= 0 {
		return o.Validators + o.FullNodes + p
	}
	return -1
}

// Devnet is a network of validator processes on this machine.
type Devnet struct {
	Dir   string
	Procs []*Process
	// Clients are the full nodes' RPC clients, Clients[i] node i's. A light node has no RPC:
	// it is the last node, so it has no client and the indexes of the others line up.
	Clients []*node.Client
	out     io.Writer
	tmp     bool
	// behaviours maps a provider's moniker to its behaviour.
	behaviours map[string]string
	// pgid is the process group every node joins (the first node's pid): one signal to the
	// group (kill -- -PGID) reaches every node, and none of them gets the terminal's Ctrl-C.
	pgid int
}

// Start writes a testnet and starts its validators as child processes, then waits until
// every node has committed a block.
func Start(ctx context.Context, o Options) (*Devnet, error) {
	if o.Validators == 0 {
		o.Validators = 4
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
	}
	d := &Devnet{Dir: o.Dir, out: o.Out, behaviours: map[string]string{}}
	if d.Dir == "" {
		dir, err := os.MkdirTemp("", "ciro-devnet-")
		if err != nil {
			return nil, err
		}
		d.Dir, d.tmp = dir, true
	}
	d.logf("writing %d validator homes to %s", o.Validators, d.Dir)
	if o.Faulty.Wrong+o.Faulty.Silent > o.Providers {
		d.cleanup()
		return nil, fmt.Errorf("%d faulty providers out of %d", o.Faulty.Wrong+o.Faulty.Silent, o.Providers)
	}
	params := node.DevnetParams()
	if o.Rewards {
		params.EpochBlocks = 50
	}
	if err := node.GenerateTestnet(node.TestnetOptions{Validators: o.Validators, FullNodes: o.FullNodes + o.Providers, Output: d.Dir,
		BasePort: o.BasePort, APIBasePort: o.APIBasePort, Params: &params}); err != nil {
		d.cleanup()
		return nil, err
	}
	if err := d.configureRoles(o); err != nil {
		d.cleanup()
		return nil, err
	}
	for i := 0; i < o.Validators+o.FullNodes+o.Providers; i++ {
		home := node.HomeOf(d.Dir, i)
		p, err := startProcess(o.Binary, home, d.pgid)
		if err != nil {
			d.Stop()
			return nil, err
		}
		if d.pgid == 0 {
			d.pgid = p.Pid()
		}
		d.Procs = append(d.Procs, p)
		if i == o.lightNode() {
			continue
		}
		c, err := node.ClientForHome(home)
		if err != nil {
			d.Stop()
			return nil, err
		}
		d.Clients = append(d.Clients, c)
	}
	d.logf("%d nodes started in process group %d; they stop when this process exits", len(d.Procs), d.pgid)
	waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for i, c := range d.Clients {
		if err := d.waitNode(waitCtx, i, c); err != nil {
			d.Stop()
			return nil, err
		}
		d.logf("node%d is up (log: %s/node.log)", i, node.HomeOf(d.Dir, i))
	}
	if i := o.lightNode(); i >= 0 {
		if err := d.waitLight(waitCtx, i); err != nil {
			d.Stop()
			return nil, err
		}
		d.logf("node%d (light provider) registered through the mesh (log: %s/node.log)", i, node.HomeOf(d.Dir, i))
	}
	return d, nil
}

// waitLight waits until light node i's provider record is on chain: it has no RPC to ask for
// its height, and the record shows its light client, gossip relay and agent all work.
func (d *Devnet) waitLight(ctx context.Context, i int) error {
	key, err := node.LoadKey(d.Home(i), node.ValidatorKeyName)
	if err != nil {
		return err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var p contracts.Provider
		err := d.Clients[0].Query(ctx, "/provider/"+key.Address.String(), &p)
		if err == nil {
			return nil
		}
		select {
		case <-d.Procs[i].Done():
			return fmt.Errorf("node%d (light) exited during start-up; see %s/node.log", i, d.Home(i))
		case <-ctx.Done():
			return fmt.Errorf("node%d (light) did not register as a provider: %w; see %s/node.log", i, errors.Join(ctx.Err(), err), d.Home(i))
		case <-tick.C:
		}
	}
}

func (d *Devnet) waitNode(ctx context.Context, i int, c *node.Client) error {
	err := WaitHeight(ctx, c, 1)
	select {
	case <-d.Procs[i].Done():
		return fmt.Errorf("node%d exited during start-up; see %s/node.log", i, node.HomeOf(d.Dir, i))
	default:
	}
	if err != nil {
		return fmt.Errorf("node%d did not commit a block: %w; see %s/node.log", i, err, node.HomeOf(d.Dir, i))
	}
	return nil
}

func (d *Devnet) logf(format string, args ...any) {
	fmt.Fprintf(d.out, "[devnet] "+format+"\n", args...)
}

// Stop stops every node cleanly and removes a temporary directory.
func (d *Devnet) Stop() error {
	var wg sync.WaitGroup
	errs := make([]error, len(d.Procs))
	for i, p := range d.Procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Stop(20 * time.Second)
		}()
	}
	wg.Wait()
	d.cleanup()
	return errors.Join(errs...)
}

func (d *Devnet) cleanup() {
	if d.tmp {
		os.RemoveAll(d.Dir)
	}
}

// configureRoles turns on the verifier on validators and the provider agent, honest or
// faulty, on the provider nodes, and makes the light provider a light peer that reads from the
// validators' RPC.
func (d *Devnet) configureRoles(o Options) error {
	var validatorRPC []string
	for i := 0; i < o.Validators+o.FullNodes+o.Providers; i++ {
		home := d.Home(i)
		cfg, err := node.LoadConfig(home)
		if err != nil {
			return err
		}
		switch {
		case i < o.Validators:
			cfg.Verifier.Enabled, cfg.Verifier.SampleBps = true, 10_000
			validatorRPC = append(validatorRPC, cfg.Chain.RPCListen)
		case i >= o.Validators+o.FullNodes:
			p := i - o.Validators - o.FullNodes
			cfg.Node.Moniker = fmt.Sprintf("provider%d", p)
			cfg.Provider.Enabled = true
			cfg.Provider.MaxConcurrentJobs = 32 // a silent provider must not be able to hold every slot it has
			cfg.Provider.Region = []string{"north-america", "europe", "asia-pacific"}[p%3]
			switch {
			case p < o.Faulty.Wrong:
				cfg.Provider.Behaviour = "wrong-result"
			case p < o.Faulty.Wrong+o.Faulty.Silent:
				cfg.Provider.Behaviour = "silent"
			}
			if p == o.LightProvider() {
				cfg.Node.Moniker += "-light"
				cfg.Node.Mode = node.ModeLight
				cfg.Light.RPC = append([]string(nil), validatorRPC...)
				// Blocks come every few hundred milliseconds: a witness one block behind
				// must not stall verification for the default 30 s (2 × drift + lag).
				cfg.Light.MaxClockDrift, cfg.Light.MaxBlockLag = node.Duration{Duration: 500 * time.Millisecond}, node.Duration{Duration: 500 * time.Millisecond}
				d.behaviours[cfg.Node.Moniker] = cfg.Provider.Behaviour + "-light"
			} else {
				d.behaviours[cfg.Node.Moniker] = cfg.Provider.Behaviour
			}
		}
		if o.Configure != nil {
			if err := o.Configure(i, home, &cfg); err != nil {
				return fmt.Errorf("configure node%d: %w", i, err)
			}
		}
		if err := node.SaveConfig(home, cfg); err != nil {
			return err
		}
	}
	return nil
}

// Restart starts node i's process again after it stopped or was killed.
func (d *Devnet) Restart(i int) error {
	p, err := startProcess(d.Procs[i].Binary, d.Home(i), d.pgid)
	if err != nil {
		return err
	}
	d.Procs[i] = p
	return nil
}

// Home is node i's home.
func (d *Devnet) Home(i int) string { return node.HomeOf(d.Dir, i) }

// CheckAgreement compares the state each node computed itself (see checkAgreement): ABCI
// Info's app hash, and at the highest height every full node reached, the root of each
// node's own state tree and its supply ledger. It fails for a node that is halted, more than
// a few blocks behind, not answering, or that exited other than by Kill, naming it with its
// log's last lines. It returns how many heights had their state compared.
func (d *Devnet) CheckAgreement(ctx context.Context) (heights int, err error) {
	return d.CheckAgreementWithin(ctx, DefaultAgreementLimits)
}

// CheckAgreementWithin is CheckAgreement under the given limits, for a caller that wants more
// heights compared than the default, or a different lag bound.
func (d *Devnet) CheckAgreementWithin(ctx context.Context, lim AgreementLimits) (heights int, err error) {
	return checkAgreement(ctx, d.agreementPeers(), lim)
}

// agreementPeers are the full nodes: node i's client is d.Clients[i] (the light node, with no
// RPC, is last).
func (d *Devnet) agreementPeers() []agreementPeer {
	peers := make([]agreementPeer, len(d.Clients))
	for i, c := range d.Clients {
		peers[i] = rpcPeer{name: fmt.Sprintf("node%d", i), c: c, proc: d.Procs[i]}
	}
	return peers
}

// Run is `ciro-node devnet`: it starts the network, funds accounts, sends transfers
// through different nodes and a delegation that changes a validator's power, showing progress,
// then watches blocks until ctx ends (or, with Once, returns a summary at once).
func Run(ctx context.Context, o Options) (*Summary, error) {
	d, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	defer d.Stop()
	sum := &Summary{Dir: d.Dir, Validators: o.Validators, Providers: o.Providers}
	if o.Jobs == 0 && o.Once {
		if err := d.demoTransfers(ctx, sum); err != nil {
			sum.Errors = append(sum.Errors, err.Error())
		}
	} else if err := d.runJobs(ctx, o, sum); err != nil {
		sum.Errors = append(sum.Errors, err.Error())
	}
	if !o.Once && ctx.Err() == nil {
		d.logf("the network keeps running; Ctrl-C stops it")
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
	watch:
		for {
			select {
			case <-ctx.Done():
				break watch
			case <-tick.C:
				d.printHeights(ctx)
			}
		}
	}
	final := context.Background()
	sum.Blocks, _ = d.Clients[0].Height(final)
	sum.HeightsCompared, err = d.CheckAgreement(final)
	sum.AppHashAgree = err == nil && sum.HeightsCompared > 0
	if err != nil {
		sum.Errors = append(sum.Errors, err.Error())
	}
	var supply struct {
		InvariantOK bool `json:"invariant_ok"`
	}
	if err := d.Clients[0].Query(final, node.SupplyPath, &supply); err != nil {
		sum.Errors = append(sum.Errors, err.Error())
	}
	sum.SupplyInvariantOK = supply.InvariantOK
	d.observeProviders(final, o, sum)
	sum.Errors = append(sum.Errors, jobVerdicts(o, sum)...)
	d.logf("stopping %d nodes", len(d.Procs))
	return sum, nil
}

// observeProviders fills the summary's provider counts from what happened: a light provider
// counts when its process still runs and its provider record is on chain; a crashed provider
// is a provider process that exited. One that exited other than by the crash drill's kill is
// an error, with its log's last lines.
func (d *Devnet) observeProviders(ctx context.Context, o Options, sum *Summary) {
	for p := 0; p < o.Providers; p++ {
		i := o.Validators + o.FullNodes + p
		exited, onPurpose, err := d.Procs[i].Exited()
		if exited {
			sum.ProvidersCrashed++
			if !onPurpose {
				sum.Errors = append(sum.Errors, fmt.Sprintf("provider%d (node%d) exited (%s); last log lines:\n%s", p, i, exitStatus(err), d.Procs[i].LogTail(15)))
			}
			continue
		}
		if i != o.lightNode() {
			continue
		}
		key, err := node.LoadKey(d.Home(i), node.ValidatorKeyName)
		if err != nil {
			sum.Errors = append(sum.Errors, err.Error())
			continue
		}
		var rec contracts.Provider
		if err := d.Clients[0].Query(ctx, "/provider/"+key.Address.String(), &rec); err == nil {
			sum.LightProviders++
		}
	}
}

// jobVerdicts are the job stream's failures in a --once run with jobs: fewer jobs submitted
// than asked, jobs in no final state, and failed jobs where no provider was made faulty (with
// faulty providers a redundant job can end with no majority, which the protocol answers with
// a refund).
func jobVerdicts(o Options, sum *Summary) []string {
	if !o.Once || o.Jobs <= 0 {
		return nil
	}
	var out []string
	if sum.JobsSubmitted < o.Jobs {
		out = append(out, fmt.Sprintf("%d of %d jobs were submitted", sum.JobsSubmitted, o.Jobs))
	}
	if sum.JobsUnsettled > 0 {
		out = append(out, fmt.Sprintf("%d of %d jobs did not settle", sum.JobsUnsettled, sum.JobsSubmitted))
	}
	if sum.JobsFailed > 0 && o.Faulty.Wrong+o.Faulty.Silent == 0 {
		out = append(out, fmt.Sprintf("%d jobs failed with every provider honest: %v", sum.JobsFailed, sum.FailureReasons))
	}
	return out
}

func (d *Devnet) printHeights(ctx context.Context) {
	var line bytes.Buffer
	for i, c := range d.Clients {
		h, err := c.Height(ctx)
		if err != nil {
			fmt.Fprintf(&line, " node%d=down", i)
			continue
		}
		fmt.Fprintf(&line, " node%d=%d", i, h)
	}
	d.logf("heights:%s", line.String())
}

// demoTransfers funds two accounts from the faucet and moves CIRO between them through
// different nodes, then delegates to a validator and shows its power change.
func (d *Devnet) demoTransfers(ctx context.Context, sum *Summary) error {
	home0 := d.Home(0)
	faucet, err := node.LoadKey(home0, node.FaucetKeyName)
	if err != nil {
		return err
	}
	var users []*node.Key
	for _, name := range []string{"alice", "bob"} {
		k, err := node.LoadKey(home0, name)
		if errors.Is(err, node.ErrKeyNotFound) {
			k, err = node.AddKey(home0, name)
		}
		if err != nil {
			return err
		}
		users = append(users, k)
	}
	step := func(what string, c *node.Client, key *node.Key, msg contracts.Msg) error {
		start := time.Now()
		res, err := c.Send(ctx, key, msg)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		sum.TxsCommitted++
		d.logf("%-44s committed at height %d in %s", what, res.Height, time.Since(start).Round(time.Millisecond))
		return nil
	}
	for i, u := range users {
		if err := step(fmt.Sprintf("faucet → %s 1000 CIRO (via node%d)", u.Name, i), d.Clients[i%len(d.Clients)], faucet,
			&contracts.Transfer{To: u.Address, Amount: contracts.CIRO(1000)}); err != nil {
			return err
		}
	}
	for i := 0; i < 4; i++ {
		from, to := users[i%2], users[(i+1)%2]
		node := (i + 2) % len(d.Clients)
		if err := step(fmt.Sprintf("%s → %s 25 CIRO (via node%d)", from.Name, to.Name, node), d.Clients[node], from,
			&contracts.Transfer{To: to.Address, Amount: contracts.CIRO(25)}); err != nil {
			return err
		}
	}
	validator1, err := node.LoadKey(d.Home(1), node.ValidatorKeyName)
	if err != nil {
		return err
	}
	before, err := d.validatorPowers(ctx)
	if err != nil {
		return err
	}
	if err := step("alice delegates 500 CIRO to node1", d.Clients[1], users[0],
		&contracts.Delegate{Staker: validator1.Address, Amount: contracts.CIRO(500)}); err != nil {
		return err
	}
	// The new power reaches CometBFT two blocks later.
	h, _ := d.Clients[1].Height(ctx)
	if err := WaitHeight(ctx, d.Clients[1], h+2); err != nil {
		return err
	}
	after, err := d.validatorPowers(ctx)
	if err != nil {
		return err
	}
	d.logf("node1 voting power %d → %d", before["node1"], after["node1"])
	for i, u := range users {
		acc, err := d.Clients[i%len(d.Clients)].Account(ctx, u.Address)
		if err != nil {
			return err
		}
		d.logf("%s holds %s", u.Name, contracts.FormatCIRO(acc.Balance))
	}
	return nil
}

// validatorPowers reads CometBFT's own validator set (not the app's), by moniker.
func (d *Devnet) validatorPowers(ctx context.Context) (map[string]int64, error) {
	var vals []contracts.ValidatorInfo
	if err := d.Clients[0].Query(ctx, node.ValidatorsPath, &vals); err != nil {
		return nil, err
	}
	res, err := d.Clients[0].RPC.Validators(ctx, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	byAddr := map[string]string{}
	for _, v := range vals {
		if v.Staker != nil {
			byAddr[fmt.Sprintf("%X", v.ConsAddress)] = v.Staker.Moniker
		}
	}
	out := map[string]int64{}
	for _, v := range res.Validators {
		out[byAddr[v.Address.String()]] = v.VotingPower
	}
	return out, nil
}
