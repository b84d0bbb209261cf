package market

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/holiman/uint256"
	"github.com/ipfs/go-cid"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/content"
)

// Behaviour is how a provider treats the jobs it wins. Only Honest belongs in production; the
// others are the devnet's faulty providers, which exercise slashing.
type Behaviour uint8

// The behaviours.
const (
	// Honest runs each job and submits the CID of its output.
	Honest Behaviour = iota
	// WrongResult runs each job but submits the CID of a perturbed output: plausible, wrong.
	WrongResult
	// Silent takes jobs and never submits: a no-show at every deadline.
	Silent
)

func (b Behaviour) String() string {
	switch b {
	case Honest:
		return "honest"
	case WrongResult:
		return "wrong-result"
	case Silent:
		return "silent"
	}
	return fmt.Sprintf("Behaviour(%d)", uint8(b))
}

// ParseBehaviour reads "honest", "wrong-result" or "silent".
func ParseBehaviour(s string) (Behaviour, error) {
	for _, b := range []Behaviour{Honest, WrongResult, Silent} {
		if b.String() == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("%w: behaviour %q is not honest, wrong-result or silent", ErrInvalidOptions, s)
}

// Defaults of ProviderOptions.
const (
	DefaultPollInterval     = 3 * time.Second
	DefaultMaxArtifactBytes = 512 << 20
	DefaultMaxReasons       = 256
	maxRunAttempts          = 3
)

// ProviderOptions configure a provider agent.
type ProviderOptions struct {
	// Chain is the chain view bound to the provider's account key. Required.
	Chain Chain
	// Content is the node's content store. Required.
	Content Content
	// Executors run jobs, by kind. At least one is required; the provider only sells job types
	// some executor here can run.
	Executors map[compute.ExecutorKind]compute.Executor
	// Profile is the provider's hardware and declared frameworks (compute/hw detects it). An
	// empty Profile.Executors means the kinds present in Executors.
	Profile compute.Profile
	// GPUModel and Region are declared on chain as given; GPUModel also picks the GPU class of
	// the default pricing.
	GPUModel string
	Region   string
	// Capacity is how many jobs run at once, declared on chain. Zero means 1.
	Capacity uint32
	// Pricing sets the standing asks. Nil means FloorPricing with a 1 CIRO default floor for
	// every type and DefaultGPUMultiplierBps.
	Pricing Pricing
	// JournalPath is the directory of the provider's job journal, a badger database. Required.
	JournalPath string
	// WorkDir holds per-job scratch directories. Empty means a directory beside the journal.
	WorkDir string
	// WithdrawThreshold: earnings above it are withdrawn to the balance. Nil never withdraws.
	WithdrawThreshold *uint256.Int
	// AutoRestake bonds each withdrawal again: once a withdrawal commits, the amount withdrawn
	// is staked with the provider role (a Stake tx), so that earnings grow the provider's
	// stake, and with it its tier and its share of epoch rewards. The Stake tx's fee comes from
	// the rest of the balance. A restake that fails leaves the amount in the balance.
	AutoRestake bool
	// PollInterval is how often assignments are caught up by query, in case events were lost.
	// Zero means DefaultPollInterval.
	PollInterval time.Duration
	// Behaviour is Honest unless a devnet fault is wanted.
	Behaviour Behaviour
	// MaxArtifactBytes bounds a model or module loaded into memory. Zero means 512 MiB.
	MaxArtifactBytes int64
	// MaxReasons bounds the reasons Reasons keeps. Zero means 256.
	MaxReasons int
	// Logger receives the agent's logs. Nil discards.
	Logger *slog.Logger

	// phaseHook, in tests, is called as the agent reaches a phase; true simulates a crash
	// there (the handler returns at once).
	phaseHook func(id uint64, p Phase) bool
}

// Reason says why the provider does not sell a job type (JobID 0) or did not take a job.
type Reason struct {
	JobID  uint64            `json:"job_id,omitempty"`
	Type   contracts.JobType `json:"type"`
	Why    string            `json:"why"`
	Height int64             `json:"height,omitempty"`
}

// Provider is the provider agent: it keeps its standing asks on chain, runs the jobs the
// auction assigns it, submits their results and withdraws its earnings.
type Provider struct {
	o       ProviderOptions
	log     *slog.Logger
	self    contracts.Address
	profile compute.Profile
	offer   contracts.RegisterProvider
	runner  *runner
	sem     chan struct{}

	running atomic.Bool
	journal *Journal

	mu       sync.Mutex
	inflight map[uint64]bool
	attempts map[uint64]int
	reasons  []Reason
	wg       sync.WaitGroup

	withdrawMu sync.Mutex
}

// NewProvider checks the options and prices the job types. It does no I/O.
func NewProvider(o ProviderOptions) (*Provider, error) {
	switch {
	case o.Chain == nil:
		return nil, fmt.Errorf("%w: Chain is required", ErrInvalidOptions)
	case o.Content == nil:
		return nil, fmt.Errorf("%w: Content is required", ErrInvalidOptions)
	case len(o.Executors) == 0:
		return nil, fmt.Errorf("%w: at least one executor is required", ErrInvalidOptions)
	case o.JournalPath == "":
		return nil, fmt.Errorf("%w: JournalPath is required", ErrInvalidOptions)
	case o.Behaviour > Silent:
		return nil, fmt.Errorf("%w: unknown behaviour %d", ErrInvalidOptions, o.Behaviour)
	}
	if o.Capacity == 0 {
		o.Capacity = 1
	}
	if o.Pricing == nil {
		o.Pricing = &FloorPricing{Default: contracts.CIRO(1), GPUClass: o.GPUModel, GPUMultiplierBps: DefaultGPUMultiplierBps}
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(filepath.Dir(o.JournalPath), "work")
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxArtifactBytes <= 0 {
		o.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if o.MaxReasons <= 0 {
		o.MaxReasons = DefaultMaxReasons
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{o: o, self: o.Chain.Address(), inflight: map[uint64]bool{}, attempts: map[uint64]int{},
		sem: make(chan struct{}, o.Capacity)}
	p.log = log.With("component", "market/provider", "provider", p.self.String(), "behaviour", o.Behaviour.String())
	p.profile = o.Profile
	if len(p.profile.Executors) == 0 {
		for k := range o.Executors {
			p.profile.Executors = append(p.profile.Executors, k)
		}
		slices.Sort(p.profile.Executors)
	}
	p.runner = &runner{content: o.Content, executors: o.Executors, workDir: o.WorkDir, maxArtifact: o.MaxArtifactBytes}
	p.offer = p.buildOffer()
	if len(p.offer.Asks) == 0 {
		return nil, fmt.Errorf("%w: the provider can sell no job type: %v", ErrInvalidOptions, p.Reasons())
	}
	return p, nil
}

// buildOffer is the RegisterProvider the provider wants on chain. Declared frameworks include
// "wasi" and "ciro-onnx-int" when those executors are enabled, since the chain matches a job's
// required frameworks against this list.
func (p *Provider) buildOffer() contracts.RegisterProvider {
	prof := p.profile
	var fws []string
	for _, f := range prof.Frameworks {
		fws = append(fws, string(f))
	}
	if slices.Contains(prof.Executors, compute.ExecWASM) {
		fws = append(fws, string(compute.WASI))
	}
	if slices.Contains(prof.Executors, compute.ExecModel) {
		fws = append(fws, string(compute.CiroONNXInt))
	}
	slices.Sort(fws)
	fws = slices.Compact(fws)
	if len(fws) > 8 {
		fws = fws[:8] // the chain's limit
	}
	m := contracts.RegisterProvider{Caps: uint8(prof.Flags), GPUModel: p.o.GPUModel, GPUCount: uint32(prof.GPUCount),
		VRAMMiB: uint32(prof.VRAMBytes >> 20), Frameworks: fws, Region: p.o.Region, Capacity: p.o.Capacity}
	for t := contracts.JobType(0); t < contracts.NumJobTypes; t++ {
		if ok, why := canSell(prof, t); !ok {
			p.addReason(Reason{Type: t, Why: "not sold: " + why})
			continue
		}
		price, why := p.o.Pricing.Ask(t)
		if price == nil {
			p.addReason(Reason{Type: t, Why: "not sold: " + why})
			continue
		}
		m.Asks = append(m.Asks, contracts.Ask{Type: t, Price: price})
	}
	return m
}

// Address is the provider's account.
func (p *Provider) Address() contracts.Address { return p.self }

// Asks returns the standing asks the provider posts.
func (p *Provider) Asks() []contracts.Ask { return slices.Clone(p.offer.Asks) }

// Reasons returns recent reasons, oldest first, why the provider does not sell a job type or
// could not take an observed job.
func (p *Provider) Reasons() []Reason {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reasons)
}

func (p *Provider) addReason(r Reason) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reasons = append(p.reasons, r)
	if n := len(p.reasons) - p.o.MaxReasons; n > 0 {
		p.reasons = slices.Delete(p.reasons, 0, n)
	}
}

// Run registers the provider's offer, resumes journalled jobs and follows its assignments until
// ctx ends. Every goroutine it starts has stopped when it returns.
func (p *Provider) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run was already called", ErrInvalidOptions)
	}
	j, err := OpenJournal(p.o.JournalPath)
	if err != nil {
		return err
	}
	p.journal = j
	defer j.Close()
	defer p.wg.Wait()
	if err := p.register(ctx); err != nil {
		return nil // ctx ended
	}
	for _, e := range j.Entries() {
		if !e.Phase.terminal() {
			p.start(ctx, e.JobID, e.Slot)
		}
	}
	p.catchUp(ctx)
	p.wg.Go(func() { p.followEvents(ctx) })
	p.wg.Go(func() { p.poll(ctx) })
	<-ctx.Done()
	return nil
}

// register sends RegisterProvider unless the chain's record already matches, retrying with
// backoff (the stake may not have committed yet) until ctx ends.
func (p *Provider) register(ctx context.Context) error {
	b := newBackoff()
	for {
		err := p.registerOnce(ctx)
		if err == nil {
			return nil
		}
		p.log.Warn("registering the provider failed; retrying", "err", err)
		if !b.wait(ctx) {
			return ctx.Err()
		}
	}
}

func (p *Provider) registerOnce(ctx context.Context) error {
	cur, err := p.o.Chain.Provider(ctx, p.self)
	if err != nil {
		return fmt.Errorf("market: read provider record: %w", err)
	}
	if cur != nil && offerMatches(cur, &p.offer) {
		p.log.Info("provider record on chain is current", "asks", len(p.offer.Asks))
		return nil
	}
	msg := p.offer
	if _, err := p.o.Chain.Send(ctx, &msg); err != nil {
		return fmt.Errorf("market: register provider: %w", err)
	}
	p.log.Info("provider registered", "asks", len(msg.Asks), "capacity", msg.Capacity)
	return nil
}

func offerMatches(cur *contracts.Provider, m *contracts.RegisterProvider) bool {
	if cur.Caps != m.Caps || cur.GPUModel != m.GPUModel || cur.GPUCount != m.GPUCount || cur.VRAMMiB != m.VRAMMiB ||
		cur.Region != m.Region || cur.Capacity != m.Capacity || !slices.Equal(cur.Frameworks, m.Frameworks) ||
		len(cur.Asks) != len(m.Asks) {
		return false
	}
	for i, a := range cur.Asks {
		if a.Type != m.Asks[i].Type || !a.Price.Eq(m.Asks[i].Price) {
			return false
		}
	}
	return true
}

// followEvents subscribes, catches up after every (re)subscription and dispatches events;
// a lost subscription is retried with backoff.
func (p *Provider) followEvents(ctx context.Context) {
	b := newBackoff()
	for ctx.Err() == nil {
		ch, err := p.o.Chain.Events(ctx)
		if err != nil {
			p.log.Warn("event subscription failed; retrying", "err", err)
			b.wait(ctx)
			continue
		}
		p.catchUp(ctx)
		b.reset()
		for ev := range ch {
			p.onEvent(ctx, ev)
		}
		if ctx.Err() == nil {
			p.log.Warn("event subscription lost; resubscribing")
			b.wait(ctx)
		}
	}
}

func (p *Provider) poll(ctx context.Context) {
	t := time.NewTicker(p.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.catchUp(ctx)
			p.maybeWithdraw(ctx)
		}
	}
}

func (p *Provider) onEvent(ctx context.Context, ev Event) {
	id, ok := ev.JobID()
	if !ok {
		return
	}
	switch ev.Type {
	case "job_assigned":
		if ev.Attrs["provider"] != p.self.String() {
			return
		}
		var slot int
		fmt.Sscan(ev.Attrs["slot"], &slot)
		p.start(ctx, id, slot)
	case "job_submitted":
		p.consider(ctx, id, ev.Height)
	case "provider_paid":
		if ev.Attrs["provider"] == p.self.String() {
			p.maybeWithdraw(ctx)
		}
	}
}

// consider records why the provider cannot take a newly submitted job, if it cannot.
func (p *Provider) consider(ctx context.Context, id uint64, height int64) {
	j, err := p.o.Chain.Job(ctx, id)
	if err != nil || j == nil {
		return
	}
	if why := p.whyNot(j); why != "" {
		p.addReason(Reason{JobID: id, Type: j.Spec.Type, Why: why, Height: height})
		p.log.Debug("not taking job", "job", id, "why", why)
	}
}

// whyNot is empty when the provider could take j, else the reason it cannot.
func (p *Provider) whyNot(j *contracts.Job) string {
	plan, err := PlanJob(j)
	if err != nil {
		return err.Error()
	}
	if err := p.profile.CanRun(plan.Job.Type, plan.Framework, ComputeRequirements(j.Spec.Requirements)); err != nil {
		return err.Error()
	}
	if p.o.Executors[plan.Job.Executor] == nil {
		return fmt.Sprintf("no %s executor is configured", plan.Job.Executor)
	}
	var ask *uint256.Int
	for _, a := range p.offer.Asks {
		if a.Type == j.Spec.Type {
			ask = a.Price
		}
	}
	if ask == nil {
		return fmt.Sprintf("no ask for %s", j.Spec.Type)
	}
	if j.Spec.MaxPrice.Lt(ask) {
		return fmt.Sprintf("the maximum price %s is below the ask of %s", contracts.FormatCIRO(j.Spec.MaxPrice), contracts.FormatCIRO(ask))
	}
	return ""
}

// catchUp starts every open assignment the chain lists for the provider.
func (p *Provider) catchUp(ctx context.Context) {
	list, err := p.o.Chain.ProviderJobs(ctx, p.self)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("catching up assignments failed", "err", err)
		}
		return
	}
	for _, pj := range list {
		if pj.Slot >= len(pj.Job.Assignments) {
			continue
		}
		if a := pj.Job.Assignments[pj.Slot]; (a.Status == contracts.AssignRunning || a.Status == contracts.AssignCommitted) && a.Provider == p.self {
			p.start(ctx, pj.Job.ID, pj.Slot)
		}
	}
}

// start handles an assignment in its own goroutine unless it is already in hand or done.
func (p *Provider) start(ctx context.Context, id uint64, slot int) {
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight[id] {
		return
	}
	if e, ok := p.journal.Get(id); ok && e.Phase.terminal() {
		return
	}
	p.inflight[id] = true
	p.wg.Go(func() {
		defer func() {
			p.mu.Lock()
			delete(p.inflight, id)
			p.mu.Unlock()
		}()
		if err := p.handle(ctx, id, slot); err != nil && ctx.Err() == nil {
			p.log.Warn("job not finished; will retry", "job", id, "err", err)
		}
	})
}

func (p *Provider) record(id uint64, slot int, ph Phase, note string, cids ...string) error {
	e := Entry{JobID: id, Slot: slot, Phase: ph, Note: note}
	if len(cids) == 2 {
		e.OutputCID, e.ResultCID = cids[0], cids[1]
	}
	return p.journal.Record(e)
}

func (p *Provider) hook(id uint64, ph Phase) bool {
	return p.o.phaseHook != nil && p.o.phaseHook(id, ph)
}

// errCrashed stops a handler where a test simulates a crash.
var errCrashed = errors.New("market: simulated crash")

// errReported ends a handler whose job's inputs were reported unavailable.
var errReported = errors.New("market: inputs reported unavailable")

// handle takes one assignment from wherever the journal left it to a committed result.
func (p *Provider) handle(ctx context.Context, id uint64, slot int) error {
	j, err := p.readAssignment(ctx, id, slot)
	if err != nil {
		return err
	}
	if j.Assignments[slot].Provider != p.self {
		return p.record(id, slot, PhaseDone, "not assigned to this provider")
	}
	a := j.Assignments[slot]
	if a.Status == contracts.AssignCommitted && !j.Status.Final() {
		// Sealed, by this run or one before a crash: the journal holds the salt to reveal it.
		return p.reveal(ctx, id, slot)
	}
	if a.Status != contracts.AssignRunning || j.Status.Final() {
		// Answered already (perhaps by a previous run of this agent) or settled.
		return p.record(id, slot, PhaseDone, "slot is "+a.Status.String())
	}
	if h, err := p.o.Chain.Height(ctx); err == nil && uint64(h) > a.Deadline {
		return p.record(id, slot, PhaseDone, "deadline passed")
	}
	e, ok := p.journal.Get(id)
	if !ok {
		if err := p.record(id, slot, PhaseAccepted, ""); err != nil {
			return err
		}
		p.log.Info("job assigned", "job", id, "slot", slot, "type", j.Spec.Type, "deadline", a.Deadline, "price", a.Price.Dec())
	}
	if p.o.Behaviour == Silent {
		return p.record(id, slot, PhaseDone, "silent: never submits")
	}
	out, full := e.OutputCID, e.ResultCID
	if out == "" {
		if out, full, err = p.execute(ctx, j, slot); errors.Is(err, errReported) {
			return nil
		} else if err != nil {
			return err
		}
	}
	if p.hook(id, PhaseExecuted) {
		return errCrashed
	}
	if j.Spec.Verification == contracts.VerifyRedundant {
		return p.commit(ctx, id, slot, out)
	}
	if err := p.record(id, slot, PhaseSending, ""); err != nil {
		return err
	}
	fullCID, err := cid.Decode(full)
	if err != nil {
		return p.record(id, slot, PhaseDone, "bad journalled result CID")
	}
	_, err = p.o.Chain.Send(ctx, &contracts.SubmitResult{JobID: id, ResultCID: out, Commitment: Commitment(fullCID)})
	switch code := contracts.CodeOf(err); {
	case err == nil:
	case code == contracts.CodeDuplicateResult || code == contracts.CodeNotAssigned || code == contracts.CodeJobState || code == contracts.CodeNotFound:
		return p.record(id, slot, PhaseDone, "chain refused the result: "+err.Error())
	default:
		return fmt.Errorf("market: submit result of job %d: %w", id, err)
	}
	if p.hook(id, PhaseSending) {
		return errCrashed
	}
	p.log.Info("result submitted", "job", id, "slot", slot, "output_cid", out, "result_cid", full)
	if err := p.record(id, slot, PhaseSubmitted, ""); err != nil {
		return err
	}
	p.maybeWithdraw(ctx)
	return nil
}

// commit seals a redundant slot's result. The salt is drawn and journalled before the seal is
// sent, so a crash at any point leaves the agent able to reveal what it committed.
func (p *Provider) commit(ctx context.Context, id uint64, slot int, out string) error {
	e, _ := p.journal.Get(id)
	salt, err := hex.DecodeString(e.Salt)
	if err != nil || len(salt) != 32 {
		salt = make([]byte, 32)
		if _, err := rand.Read(salt); err != nil {
			return fmt.Errorf("market: salt for job %d: %w", id, err)
		}
	}
	if err := p.journal.Record(Entry{JobID: id, Slot: slot, Phase: PhaseSending, Salt: hex.EncodeToString(salt)}); err != nil {
		return err
	}
	seal := contracts.SealResult(out, p.self, [32]byte(salt))
	_, err = p.o.Chain.Send(ctx, &contracts.CommitResult{JobID: id, Seal: seal})
	switch code := contracts.CodeOf(err); {
	case err == nil:
	case code == contracts.CodeDuplicateResult:
		// Committed already: the broadcast before a crash went through. Reveal reads the slot.
	case code == contracts.CodeNotAssigned || code == contracts.CodeJobState || code == contracts.CodeNotFound:
		return p.record(id, slot, PhaseDone, "chain refused the commitment: "+err.Error())
	default:
		return fmt.Errorf("market: commit result of job %d: %w", id, err)
	}
	if p.hook(id, PhaseCommitted) {
		return errCrashed
	}
	p.log.Info("result committed", "job", id, "slot", slot, "output_cid", out)
	if err := p.record(id, slot, PhaseCommitted, ""); err != nil {
		return err
	}
	return p.reveal(ctx, id, slot)
}

// reveal waits until the job takes reveals (every slot committed, or the others were given
// up), then opens the journalled seal.
func (p *Provider) reveal(ctx context.Context, id uint64, slot int) error {
	e, ok := p.journal.Get(id)
	salt, err := hex.DecodeString(e.Salt)
	if !ok || err != nil || len(salt) != 32 || e.OutputCID == "" {
		return p.record(id, slot, PhaseDone, "no journalled salt or result: the seal cannot be opened")
	}
	wait := min(p.o.PollInterval, revealPoll)
	for {
		j, err := p.o.Chain.Job(ctx, id)
		if err != nil {
			return fmt.Errorf("market: read job %d: %w", id, err)
		}
		if j == nil || slot >= len(j.Assignments) {
			return fmt.Errorf("market: job %d slot %d is not visible", id, slot)
		}
		a := j.Assignments[slot]
		if j.Status.Final() || a.Status != contracts.AssignCommitted {
			return p.record(id, slot, PhaseDone, "slot is "+a.Status.String())
		}
		if j.RevealEnd != 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	var commitment []byte
	if full, err := cid.Decode(e.ResultCID); err == nil {
		commitment = Commitment(full)
	}
	_, err = p.o.Chain.Send(ctx, &contracts.RevealResult{JobID: id, ResultCID: e.OutputCID, Salt: [32]byte(salt), Commitment: commitment})
	switch code := contracts.CodeOf(err); {
	case err == nil:
	case code == contracts.CodeDuplicateResult || code == contracts.CodeNotAssigned || code == contracts.CodeJobState || code == contracts.CodeNotFound:
		return p.record(id, slot, PhaseDone, "chain refused the reveal: "+err.Error())
	default:
		return fmt.Errorf("market: reveal result of job %d: %w", id, err)
	}
	p.log.Info("result revealed", "job", id, "slot", slot, "output_cid", e.OutputCID)
	if err := p.record(id, slot, PhaseSubmitted, ""); err != nil {
		return err
	}
	p.maybeWithdraw(ctx)
	return nil
}

// revealPoll bounds how often a committed slot reads its job while it waits for reveals.
const revealPoll = 500 * time.Millisecond

// reportUnavailable tells the chain the job's inputs cannot be fetched: the slot is not slashed
// as a no-show, and the client pays for the attempt unless another provider fetches them.
func (p *Provider) reportUnavailable(ctx context.Context, id uint64, slot int, missing string) error {
	_, err := p.o.Chain.Send(ctx, &contracts.ReportUnavailable{JobID: id, Missing: missing})
	if err != nil && ctx.Err() == nil {
		p.log.Warn("reporting unavailable inputs failed", "job", id, "cid", missing, "err", err)
	}
	if err == nil {
		p.log.Warn("job inputs unavailable; reported", "job", id, "slot", slot, "cid", missing)
	}
	return p.record(id, slot, PhaseDone, "inputs unavailable: "+missing)
}

// readAssignment reads job id once it shows slot. A chain view can lag the event that
// announced the assignment by a block (a light peer reads at its last verified header, which
// carries the state of the block before it), so a job or slot it cannot see yet is read again
// every viewLagPoll for up to viewLagLimit; after that the catch-up poll retries it.
func (p *Provider) readAssignment(ctx context.Context, id uint64, slot int) (*contracts.Job, error) {
	deadline := time.Now().Add(viewLagLimit)
	for {
		j, err := p.o.Chain.Job(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("market: read job %d: %w", id, err)
		}
		if j != nil && slot < len(j.Assignments) {
			return j, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("market: job %d slot %d is not visible in the chain view yet", id, slot)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(viewLagPoll):
		}
	}
}

const (
	viewLagPoll  = 200 * time.Millisecond
	viewLagLimit = 10 * time.Second
)

// execute runs the job under the capacity limit and returns the CID to submit and the full
// result's CID. It gives up on a job after maxRunAttempts failures.
func (p *Provider) execute(ctx context.Context, j *contracts.Job, slot int) (string, string, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
	defer func() { <-p.sem }()
	if err := p.record(j.ID, slot, PhaseRunning, ""); err != nil {
		return "", "", err
	}
	if p.hook(j.ID, PhaseRunning) {
		return "", "", errCrashed
	}
	o, err := p.runner.run(ctx, j)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		p.mu.Lock()
		p.attempts[j.ID]++
		n := p.attempts[j.ID]
		p.mu.Unlock()
		if n >= maxRunAttempts {
			if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
				if err := p.reportUnavailable(ctx, j.ID, slot, ue.CID); err != nil {
					return "", "", err
				}
				return "", "", errReported
			}
			p.record(j.ID, slot, PhaseDone, fmt.Sprintf("gave up after %d attempts: %v", n, err))
		}
		return "", "", err
	}
	defer o.cleanup()
	submit := o.OutputCID
	if p.o.Behaviour == WrongResult {
		if submit, err = p.perturb(ctx, j.ID, o.outputDir); err != nil {
			return "", "", err
		}
	}
	out, full := submit.String(), o.ResultCID.String()
	if err := p.record(j.ID, slot, PhaseExecuted, "status "+string(o.Status), out, full); err != nil {
		return "", "", err
	}
	return out, full, nil
}

// perturb stores a copy of the output with one extra file: a wrong but plausible result.
func (p *Provider) perturb(ctx context.Context, id uint64, outputDir string) (cid.Cid, error) {
	dir, err := os.MkdirTemp(p.o.WorkDir, "perturbed-")
	if err != nil {
		return cid.Undef, err
	}
	defer os.RemoveAll(dir)
	if err := os.CopyFS(dir, os.DirFS(outputDir)); err != nil {
		return cid.Undef, err
	}
	if err := os.WriteFile(filepath.Join(dir, "perturbed.txt"), []byte(fmt.Sprintf("job %d\n", id)), 0o644); err != nil {
		return cid.Undef, err
	}
	return p.o.Content.AddFile(ctx, dir, content.AddOptions{Pin: content.PinResult, Name: fmt.Sprintf("job-%d perturbed", id)})
}

// maybeWithdraw withdraws the earnings once they pass the threshold and, with AutoRestake,
// stakes them again.
func (p *Provider) maybeWithdraw(ctx context.Context) {
	if p.o.WithdrawThreshold == nil || !p.withdrawMu.TryLock() {
		return
	}
	defer p.withdrawMu.Unlock()
	rec, err := p.o.Chain.Provider(ctx, p.self)
	if err != nil || rec == nil || rec.Earnings == nil || !rec.Earnings.Gt(p.o.WithdrawThreshold) {
		return
	}
	// The amount read is withdrawn, not "everything" (a zero amount): earnings settled since
	// the read wait for the next withdrawal, and the amount that left the earnings is known
	// exactly, for the restake, on every chain view, including those that return no tx events.
	amount := rec.Earnings.Clone()
	if _, err := p.o.Chain.Send(ctx, &contracts.Withdraw{Amount: amount}); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("withdraw failed", "err", err)
		}
		return
	}
	p.log.Info("earnings withdrawn", "amount", amount.Dec())
	if p.o.AutoRestake {
		p.restake(ctx, amount)
	}
}

// restake bonds amount with the provider role.
func (p *Provider) restake(ctx context.Context, amount *uint256.Int) {
	// No moniker: the staker record keeps the one it has.
	if _, err := p.o.Chain.Send(ctx, &contracts.Stake{Amount: amount, Roles: contracts.RoleProvider}); err != nil {
		if ctx.Err() == nil {
			p.log.Warn("restaking withdrawn earnings failed; they stay in the balance", "amount", amount.Dec(), "err", err)
		}
		return
	}
	p.log.Info("withdrawn earnings restaked", "amount", amount.Dec())
}

// backoff doubles from 100 ms to 5 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }
func (b *backoff) reset()  { b.d = 100 * time.Millisecond }

// wait sleeps the current delay and doubles it; false when ctx ended.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
