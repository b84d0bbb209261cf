package simulation

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/market"
)

const (
	chainID     = "ciro-sim-1"
	genesisUnix = 1_767_225_600 // 2026-01-01T00:00:00Z: block times are genesis + virtual time
)

// pendingTx is a transaction on its way to, or waiting in, the proposer's mempool.
type pendingTx struct {
	from   *identity
	msg    contracts.Msg
	sentAt int64
	job    *jobRec // the job a SubmitJob creates
}

// jobRec is what the engine follows of one job.
type jobRec struct {
	client       *client
	typ          contracts.JobType
	verification contracts.Verification
	k            int
	sentAt       int64
	assignedAt   int64
	maxPrice     float64
	escrow       float64
	deadline     uint64
	slots        map[int]*provider
	results      map[int]string
	copiers      []copier
	cartelSlots  int
	wrongSampled bool // a sampled slot answered wrongly
	// sealed is what each provider committed to a redundant job, revealed once the chain
	// opens the reveal phase.
	sealed map[*provider]string
}

type copier struct {
	p    *provider
	slot int
}

// engine runs one replicate of a scenario on its own goroutine.
type engine struct {
	sc         *Scenario
	rep        int
	params     contracts.Params
	kv         *orderedKV
	m          *contracts.Machine
	q          queue
	now        int64
	end        int64
	height     int64
	mempool    []*pendingTx
	usdPerCIRO float64

	providers  []*provider
	byAddr     map[string]*provider
	clients    []*client
	validators []*validator
	valByAddr  map[string]*validator
	cartels    []*cartel
	jobs       map[uint64]*jobRec
	netR       *rand.Rand // the proposer's stream: block votes and seeds

	// block-local: cartel decisions wait until every slot of the block is known
	blockJobs []uint64

	stats    runStats
	series   []sample
	progress func(frac float64)
}

func newEngine(sc *Scenario, rep int) (*engine, error) {
	params, err := sc.params()
	if err != nil {
		return nil, err
	}
	e := &engine{
		sc: sc, rep: rep, params: params, kv: newOrderedKV(), end: sc.Duration.Milliseconds(),
		byAddr: map[string]*provider{}, valByAddr: map[string]*validator{}, jobs: map[uint64]*jobRec{},
		usdPerCIRO: float64(params.CIROPriceMicroUSD) / 1e6,
	}
	e.m = contracts.NewMachine(e.kv).WithParamsCache(&contracts.ParamsCache{})
	e.netR = newStream(sc.Seed, rep, "network")
	e.stats.init()
	if err := e.buildAgents(); err != nil {
		return nil, err
	}
	if err := e.genesis(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *engine) buildAgents() error {
	sc := e.sc
	for vi := 0; vi < sc.Validators.Count; vi++ {
		name := "validator/" + strconv.Itoa(vi)
		r := newStream(sc.Seed, e.rep, name)
		v := &validator{identity: newIdentity(name, regionIndex(sc.Validators.Region.String(r))), name: name, r: r}
		seed := sha256.Sum256([]byte("ciro-sim-consensus/" + name))
		v.cons = ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		ca := contracts.AddressOf(v.cons)
		v.consAddr = ca[:]
		e.validators = append(e.validators, v)
		e.valByAddr[v.addr.String()] = v
	}
	cartels := map[string]*cartel{}
	for si := range sc.Providers {
		src := &sc.Providers[si]
		for i := 0; i < src.Count; i++ {
			base := src.Name + "/" + strconv.Itoa(i)
			r := newStream(sc.Seed, e.rep, "provider/"+base)
			class := classByName(src.GPU.String(r))
			region := regionIndex(src.Region.String(r))
			stake := src.Stake.Float(r)
			capacity := int(math.Max(1, math.Round(src.Capacity.Float(r))))
			pos := math.Min(1, math.Max(0, src.PricePosition.Float(r)))
			c := &gpuClasses[class]
			split := 1
			if src.Behaviour == "sybil" {
				split = src.SybilSplit
			}
			for s := 0; s < split; s++ {
				name := base
				if split > 1 {
					name += "#" + strconv.Itoa(s)
				}
				p := &provider{
					identity: newIdentity("provider/"+name, region), name: name, operator: base, source: si,
					class: class, stake: stake / float64(split), capacity: capacity, pricing: src.Pricing,
					hourly: c.lo + pos*(c.hi-c.lo), behaviour: src.Behaviour, wrongRate: src.WrongRate,
					uptime: src.Uptime, src: src, r: r,
				}
				if s > 0 {
					p.r = newStream(sc.Seed, e.rep, "provider/"+name)
				}
				if src.Pricing == "floor" {
					floors := map[contracts.JobType]*uint256.Int{}
					for tn, v := range src.Floors {
						t, _ := contracts.ParseJobType(tn)
						floors[t] = ciro(v)
					}
					p.floor = &market.FloorPricing{Floors: floors, Default: ciro(src.DefaultFloor), GPUClass: c.name, GPUMultiplierBps: market.DefaultGPUMultiplierBps}
				}
				if src.Behaviour == "cartel" {
					ct := cartels[src.Name]
					if ct == nil {
						ct = &cartel{name: src.Name}
						cartels[src.Name] = ct
						e.cartels = append(e.cartels, ct)
					}
					ct.members = append(ct.members, p)
					p.cartel = ct
				}
				e.providers = append(e.providers, p)
				e.byAddr[p.addr.String()] = p
			}
		}
	}
	for _, p := range e.providers {
		if p.pricing != "undercut" {
			p.setAsks(e)
		}
	}
	for _, p := range e.providers {
		if p.pricing == "undercut" {
			p.setAsks(e)
		}
	}
	for si := range sc.Clients {
		src := &sc.Clients[si]
		mix := make([]float64, contracts.NumJobTypes)
		for t := range mix {
			mix[t] = 1
		}
		if len(src.JobMix) > 0 {
			for t := range mix {
				mix[t] = src.JobMix[contracts.JobType(t).String()]
			}
		}
		verify := []float64{src.Verification["none"], src.Verification["redundant"], src.Verification["sampled"]}
		for i := 0; i < src.Count; i++ {
			name := "client/" + src.Name + "/" + strconv.Itoa(i)
			r := newStream(sc.Seed, e.rep, name)
			c := &client{identity: newIdentity(name, regionIndex(src.Region.String(r))), name: src.Name + "/" + strconv.Itoa(i), src: src, r: r, jobMix: mix, verify: verify}
			e.clients = append(e.clients, c)
		}
	}
	return nil
}

func (e *engine) genesis() error {
	g := &contracts.Genesis{Params: e.params}
	hours := e.sc.Duration.Hours()
	for _, v := range e.validators {
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: v.addr, Balance: contracts.CIRO(1000)})
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{Address: v.addr, Roles: contracts.RoleValidator, ConsPubKey: v.cons, Moniker: v.name, Stake: ciro(e.sc.Validators.Stake)})
	}
	for _, p := range e.providers {
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: p.addr, Balance: contracts.CIRO(100)})
		g.Stakers = append(g.Stakers, contracts.GenesisStaker{Address: p.addr, Roles: contracts.RoleProvider, Moniker: p.name, Stake: ciro(p.stake)})
	}
	for _, c := range e.clients {
		// Enough for every job the client can submit at its peak rate, at the dearest price.
		need := 3*c.src.RatePerHour*math.Max(1, c.src.BurstFactor)*(hours+1)*refJobCIRO*4*float64(c.src.Redundancy)*8 + 100
		g.Accounts = append(g.Accounts, contracts.GenesisAccount{Address: c.addr, Balance: ciro(need)})
	}
	if _, err := e.m.InitGenesis(chainID, g); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	return nil
}

// run executes the replicate to its end.
func (e *engine) run(ctx context.Context) error {
	for _, p := range e.providers {
		e.send(&p.identity, p.registerMsg(), nil)
		if p.pricing == "adaptive" || p.pricing == "undercut" {
			e.q.push(event{at: p.src.RepriceEvery.Milliseconds(), kind: evReprice, agent: int32(indexOf(e.providers, p))})
		}
	}
	for i, c := range e.clients {
		// Clients start once providers have had a block to register.
		if at := c.nextArrival(e.sc.BlockTime.Milliseconds() * 2); at > 0 {
			e.q.push(event{at: at, kind: evArrival, agent: int32(i)})
		}
	}
	e.q.push(event{at: e.sc.BlockTime.Milliseconds(), kind: evBlock})
	nextSample := e.sc.SampleEvery.Milliseconds()
	lastProgress := int64(0)
	for {
		ev, ok := e.q.pop()
		if !ok || ev.at > e.end {
			break
		}
		e.now = ev.at
		for e.now >= nextSample {
			e.sample(nextSample)
			nextSample += e.sc.SampleEvery.Milliseconds()
		}
		if e.progress != nil && e.now-lastProgress >= e.end/100 {
			lastProgress = e.now
			e.progress(float64(e.now) / float64(e.end))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		var err error
		switch ev.kind {
		case evBlock:
			err = e.block()
			e.q.push(event{at: e.now + e.sc.BlockTime.Milliseconds(), kind: evBlock})
		case evArrival:
			c := e.clients[ev.agent]
			e.submitJob(c)
			if at := c.nextArrival(e.now); at > 0 {
				e.q.push(event{at: at, kind: evArrival, agent: ev.agent})
			}
		case evTxArrive:
			e.mempool = append(e.mempool, ev.tx)
		case evWorkDone:
			e.workDone(e.providers[ev.agent], ev.job, int(ev.slot))
		case evReprice:
			p := e.providers[ev.agent]
			e.reprice(p)
			e.q.push(event{at: e.now + p.src.RepriceEvery.Milliseconds(), kind: evReprice, agent: ev.agent})
		case evCopyGiveUp:
			e.copyGiveUp(e.providers[ev.agent], ev.job, int(ev.slot))
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	e.now = e.end
	if _, err := contracts.CheckSupply(e.kv); err != nil {
		return fmt.Errorf("replicate %d, end of run at height %d: %w", e.rep, e.height, err)
	}
	e.finish()
	return nil
}

func indexOf(ps []*provider, p *provider) int {
	for i, q := range ps {
		if q == p {
			return i
		}
	}
	return -1
}

// send puts a transaction on the network towards the proposer: it arrives after a latency
// draw, and never before an earlier transaction of the same sender.
func (e *engine) send(from *identity, msg contracts.Msg, job *jobRec) {
	to := e.validators[int(e.height)%len(e.validators)].region
	at := e.now + int64(math.Ceil(latencyMs(e.netR, from.region, to)))
	if at <= from.lastArr {
		at = from.lastArr + 1
	}
	from.lastArr = at
	e.q.push(event{at: at, kind: evTxArrive, tx: &pendingTx{from: from, msg: msg, sentAt: e.now, job: job}})
	e.stats.txs++
}

// block forms and executes one block, as the proposer on duty would.
func (e *engine) block() error {
	e.height++
	h := e.height
	seed := sha256.Sum256(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("ciro-sim-block"), mix(e.sc.Seed, uint64(e.rep))), uint64(h)))
	b := &contracts.Block{ChainID: chainID, Height: h, Time: genesisUnix + uint64(e.now/1000), Seed: seed[:]}
	if h > 1 {
		for _, v := range e.validators {
			b.Votes = append(b.Votes, contracts.Vote{ConsAddress: v.consAddr, Power: 1, Signed: v.r.Float64() < e.sc.Validators.Uptime})
		}
	}
	evs, err := e.m.BeginBlock(b)
	if err != nil {
		return fmt.Errorf("height %d: begin block: %w", h, err)
	}
	e.handle(evs, nil)
	n := min(len(e.mempool), e.sc.MaxBlockTxs)
	txs := e.mempool[:n]
	for _, ptx := range txs {
		acc, err := contracts.GetAccount(e.kv, ptx.from.addr)
		if err != nil {
			return fmt.Errorf("height %d: %w", h, err)
		}
		var nonce uint64
		if acc != nil {
			nonce = acc.Nonce
		}
		tx := &contracts.Tx{ChainID: chainID, Nonce: nonce, Fee: e.params.MinTxFee, PubKey: ptx.from.pub, Msg: ptx.msg}
		evs, err := e.m.DeliverTx(b, tx)
		if contracts.IsInternal(err) {
			return fmt.Errorf("height %d: deliver: %w", h, err)
		}
		e.stats.feesCIRO += toCIRO(e.params.MinTxFee)
		if p := e.byAddr[ptx.from.addr.String()]; p != nil {
			p.fees += toCIRO(e.params.MinTxFee)
		}
		if err != nil {
			e.rejected(ptx, err)
			continue
		}
		e.handle(evs, ptx)
	}
	e.mempool = append(e.mempool[:0], e.mempool[n:]...)
	_, evs, err = e.m.EndBlock(b)
	if err != nil {
		return fmt.Errorf("height %d: end block: %w", h, err)
	}
	e.handle(evs, nil)
	e.decideCartels()
	if h%int64(e.sc.InvariantEvery) == 0 {
		if _, err := contracts.CheckSupply(e.kv); err != nil {
			return fmt.Errorf("replicate %d, height %d: %w", e.rep, h, err)
		}
		e.stats.invariantChecks++
	}
	return nil
}

// rejected records a transaction the chain refused.
func (e *engine) rejected(ptx *pendingTx, err error) {
	e.stats.rejectedTxs[contracts.CodeOf(err)]++
	if ptx.job != nil {
		ptx.job.client.rejected++
		e.stats.jobsRejected++
	}
}

func attr(ev contracts.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func attrU(ev contracts.Event, k string) uint64 {
	v, _ := strconv.ParseUint(attr(ev, k), 10, 64)
	return v
}

func attrAmount(ev contracts.Event, k string) float64 {
	a, err := uint256.FromDecimal(attr(ev, k))
	if err != nil {
		return 0
	}
	return toCIRO(a)
}

// handle reacts to what the chain did.
func (e *engine) handle(evs []contracts.Event, ptx *pendingTx) {
	for _, ev := range evs {
		switch ev.Type {
		case "job_submitted":
			if ptx != nil && ptx.job != nil {
				id := attrU(ev, "job_id")
				ptx.job.escrow = attrAmount(ev, "escrow")
				ptx.job.client.spent += ptx.job.escrow
				e.jobs[id] = ptx.job
				e.stats.submitted++
			}
		case "job_assigned":
			e.assigned(attrU(ev, "job_id"), attr(ev, "provider"), int(attrU(ev, "slot")), attrU(ev, "deadline"), attrAmount(ev, "price"))
		case "job_reveal_open":
			e.revealAll(attrU(ev, "job_id"))
		case "dispute_opened":
			e.disputeOpened(attrU(ev, "job_id"))
		case "job_result":
			e.resultSeen(attrU(ev, "job_id"), attr(ev, "provider"), int(attrU(ev, "slot")), attr(ev, "result_cid"))
		case "job_challenged":
			e.stats.challenged++
			if v := e.valByAddr[attr(ev, "challenger")]; v != nil {
				v.challenges++
			}
		case "job_refunded":
			if j := e.jobs[attrU(ev, "job_id")]; j != nil {
				refund := attrAmount(ev, "amount")
				j.client.spent -= refund
				j.escrow -= refund // what is left is what the job cost
			}
		case "job_settled":
			e.settled(attrU(ev, "job_id"), attr(ev, "status"), attr(ev, "result_cid"))
		case "provider_paid":
			if p := e.byAddr[attr(ev, "provider")]; p != nil {
				p.earned += attrAmount(ev, "amount")
				p.completed++
			}
		case "slash":
			amt := attrAmount(ev, "amount")
			e.stats.slashed[attr(ev, "reason")] += amt
			if p := e.byAddr[attr(ev, "staker")]; p != nil {
				p.slashed += amt
			}
		case "reward":
			amt := attrAmount(ev, "amount")
			e.stats.rewards += amt
			if p := e.byAddr[attr(ev, "staker")]; p != nil {
				p.rewards += amt
			} else if v := e.valByAddr[attr(ev, "staker")]; v != nil {
				v.rewards += amt
			}
		case "job_no_show":
			e.stats.noShows++
			if p := e.byAddr[attr(ev, "provider")]; p != nil {
				p.noShows++
			}
		case "job_reauction":
			e.stats.reauctions++
		}
	}
}

// submitJob has a client draw and send its next job.
func (e *engine) submitJob(c *client) {
	t := contracts.JobType(weightedIndex(c.r, c.jobMix, int(contracts.NumJobTypes)))
	v := contracts.Verification(weightedIndex(c.r, c.verify, 3))
	k := 1
	switch v {
	case 1:
		v, k = contracts.VerifyRedundant, c.src.Redundancy
	case 2:
		v = contracts.VerifySampled
	}
	maxPrice := refJobCIRO * jobComplexity[t] / 3 * c.src.MaxPriceFactor.Float(c.r) / e.usdPerCIRO
	prio := contracts.Priority(indexOfString(priorityNames, c.src.Priority))
	deadline := uint64(e.height) + uint64(c.src.DeadlineBlocks)
	spec := contracts.JobSpec{
		Type: t, ModelCID: "model-" + t.String(), InputCID: "input-" + c.name + "-" + strconv.Itoa(c.submitted),
		Requirements: contracts.Requirements{Caps: contracts.CapCUDA, MinVRAMMiB: jobVRAMMiB[t], GPUCount: 1},
		MaxPrice:     ciro(maxPrice), Deadline: deadline, Verification: v, Redundancy: uint8(k), Priority: prio,
	}
	if v == contracts.VerifySampled {
		// Only a bit-exact executor's result can be proven wrong by re-execution, so a
		// sampled job names one.
		spec.Requirements.Frameworks = []string{"wasi"}
	}
	c.submitted++
	rec := &jobRec{client: c, typ: t, verification: v, k: k, sentAt: e.now, maxPrice: maxPrice, deadline: deadline, assignedAt: -1}
	e.send(&c.identity, &contracts.SubmitJob{Spec: spec}, rec)
}

func indexOfString(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}

// canonical is the correct result of a job: every honest execution returns it.
func canonical(id uint64) string { return "result-" + strconv.FormatUint(id, 10) }

// assigned starts a provider on its slot of a job, as its behaviour dictates.
func (e *engine) assigned(id uint64, addr string, slot int, deadline uint64, price float64) {
	j := e.jobs[id]
	p := e.byAddr[addr]
	if j == nil || p == nil {
		return
	}
	if j.assignedAt < 0 {
		j.assignedAt = e.now
		e.stats.assigned++
		e.stats.assignLatency.add(float64(e.now-j.sentAt) / 1000)
	}
	e.stats.priceSum[p.class] += price
	e.stats.priceN[p.class]++
	e.stats.intervalPrice += price
	e.stats.intervalPriceN++
	if j.slots == nil {
		j.slots = map[int]*provider{}
	}
	j.slots[slot] = p
	p.assignments++
	p.running++
	notify := int64(math.Ceil(latencyMs(p.r, e.validators[int(e.height)%len(e.validators)].region, p.region)))
	if p.r.Float64() >= p.uptime {
		return // offline: the assignment runs out as a no-show
	}
	switch p.behaviour {
	case "silent":
		return
	case "lazy":
		if j.verification == contracts.VerifyRedundant {
			if cid, ok := firstResult(j.results); ok {
				e.submitResult(p, id, cid, notify)
				return
			}
			j.copiers = append(j.copiers, copier{p: p, slot: slot})
			// Give up waiting two blocks before the deadline and send a guess.
			giveUp := e.blockTimeOf(deadline) - 2*e.sc.BlockTime.Milliseconds()
			e.q.push(event{at: max(giveUp, e.now+notify), kind: evCopyGiveUp, agent: int32(indexOf(e.providers, p)), job: id, slot: int32(slot)})
			return
		}
		e.submitResult(p, id, "guess-"+strconv.FormatUint(id, 10), notify)
		return
	case "griefer":
		if j.verification == contracts.VerifyRedundant {
			e.submitResult(p, id, "tie-"+strconv.FormatUint(id, 10)+"-"+p.name, notify)
			return
		}
	case "cartel":
		if j.verification == contracts.VerifyRedundant {
			j.cartelSlots++
			if j.cartelSlots == 1 {
				e.blockJobs = append(e.blockJobs, id)
			}
			return // decided at the end of the block, once every slot is known
		}
	}
	e.startWork(p, j, id, slot, notify)
}

// blockTimeOf is the virtual time at which height h is produced.
func (e *engine) blockTimeOf(h uint64) int64 {
	return e.now + (int64(h)-e.height)*e.sc.BlockTime.Milliseconds()
}

func (e *engine) startWork(p *provider, j *jobRec, id uint64, slot int, notify int64) {
	d := durationMs(&gpuClasses[p.class], j.typ) * lognormDraw(p.r, 0, 0.2)
	p.busyMs += d
	p.costUSD += d / 3600_000 * gpuClasses[p.class].costPerHour
	e.q.push(event{at: e.now + notify + int64(math.Ceil(d)), kind: evWorkDone, agent: int32(indexOf(e.providers, p)), job: id, slot: int32(slot)})
}

func (e *engine) workDone(p *provider, id uint64, slot int) {
	j := e.jobs[id]
	cid := canonical(id)
	if p.behaviour == "wrong" && p.r.Float64() < p.wrongRate {
		cid = "wrong-" + strconv.FormatUint(id, 10) + "-" + p.name
	}
	if j != nil && p.cartel != nil && j.cartelSlots*2 > j.k {
		cid = "cartel-" + strconv.FormatUint(id, 10)
	}
	e.submitResult(p, id, cid, 0)
}

func (e *engine) submitResult(p *provider, id uint64, cid string, delay int64) {
	if p.running > 0 {
		p.running--
	}
	if j := e.jobs[id]; j != nil && j.verification == contracts.VerifySampled && cid != canonical(id) {
		j.wrongSampled = true
	}
	var msg contracts.Msg = &contracts.SubmitResult{JobID: id, ResultCID: cid}
	if j := e.jobs[id]; j != nil && j.verification == contracts.VerifyRedundant {
		// Redundant slots commit first and reveal once every slot has committed.
		if j.sealed == nil {
			j.sealed = map[*provider]string{}
		}
		j.sealed[p] = cid
		msg = &contracts.CommitResult{JobID: id, Seal: contracts.SealResult(cid, p.addr, simSalt(id, p.addr))}
	}
	if delay == 0 {
		e.send(&p.identity, msg, nil)
		return
	}
	saved := e.now
	e.now += delay
	e.send(&p.identity, msg, nil)
	e.now = saved
}

// simSalt is a provider's salt for a job's seal.
func simSalt(id uint64, addr contracts.Address) [32]byte {
	return sha256.Sum256(append(binary.BigEndian.AppendUint64([]byte("ciro-sim-salt"), id), addr[:]...))
}

// revealAll has every provider that committed to job id reveal, in slot order.
func (e *engine) revealAll(id uint64) {
	j := e.jobs[id]
	if j == nil {
		return
	}
	for _, s := range sortedSlots(j.slots) {
		p := j.slots[s]
		cid, ok := j.sealed[p]
		if !ok {
			continue
		}
		delete(j.sealed, p)
		e.send(&p.identity, &contracts.RevealResult{JobID: id, ResultCID: cid, Salt: simSalt(id, p.addr)}, nil)
	}
}

// decideCartels lets each cartel that was assigned slots of a redundant job in this block act:
// with a majority of the k slots its members all send the same wrong result at once, skipping
// the work; without one they work honestly.
func (e *engine) decideCartels() {
	for _, id := range e.blockJobs {
		j := e.jobs[id]
		if j == nil {
			continue
		}
		slots := sortedSlots(j.slots)
		captured := j.cartelSlots*2 > j.k
		var ct *cartel
		for _, s := range slots {
			p := j.slots[s]
			if p.cartel == nil {
				continue
			}
			ct = p.cartel
			if captured {
				p.captured++
				e.submitResult(p, id, "cartel-"+strconv.FormatUint(id, 10), 1+int64(latencyMs(p.r, p.region, p.region)))
			} else {
				e.startWork(p, j, id, s, int64(latencyMs(p.r, p.region, p.region)))
			}
		}
		if ct != nil {
			ct.seen++
			if captured {
				ct.captured++
			}
		}
	}
	e.blockJobs = e.blockJobs[:0]
}

// resultSeen is a result landing on chain: copiers copy it, validators may re-execute a
// sampled one.
func (e *engine) resultSeen(id uint64, addr string, slot int, cid string) {
	j := e.jobs[id]
	if j == nil {
		return
	}
	if j.results == nil {
		j.results = map[int]string{}
	}
	if cid != "" {
		j.results[slot] = cid
	}
	if cid != "" && len(j.copiers) > 0 {
		for _, c := range j.copiers {
			e.submitResult(c.p, id, cid, int64(latencyMs(c.p.r, c.p.region, c.p.region))+1)
		}
		j.copiers = nil
	}
	if j.verification != contracts.VerifySampled || cid == "" {
		return
	}
	if cid != canonical(id) {
		e.stats.sampledWrong++
	}
	for _, v := range e.validators {
		if v.r.Float64() >= e.sc.Validators.ChallengeRate {
			continue
		}
		e.stats.reexecutions++
		// Re-execution takes the job's time on a data-centre card.
		d := durationMs(&gpuClasses[2], j.typ)
		e.stats.reexecCostUSD += d / 3600_000 * gpuClasses[2].costPerHour
		if cid == canonical(id) {
			continue
		}
		saved := e.now
		e.now += int64(d)
		e.send(&v.identity, &contracts.Challenge{JobID: id, Slot: uint8(slot), ResultCID: canonical(id)}, nil)
		e.now = saved
	}
}

func (e *engine) copyGiveUp(p *provider, id uint64, slot int) {
	j := e.jobs[id]
	if j == nil {
		return
	}
	for i, c := range j.copiers {
		if c.p == p && c.slot == slot {
			j.copiers = append(j.copiers[:i], j.copiers[i+1:]...)
			e.submitResult(p, id, "guess-"+strconv.FormatUint(id, 10), 1)
			return
		}
	}
}

// settled records a job's outcome.
func (e *engine) settled(id uint64, status, resultCID string) {
	j := e.jobs[id]
	if j == nil {
		return
	}
	delete(e.jobs, id)
	for _, p := range j.slots {
		if p.running > 0 && (p.behaviour == "silent" || p.behaviour == "lazy" || p.behaviour == "griefer" || p.behaviour == "cartel") {
			p.running-- // slots of providers that never answered end with the job
		}
	}
	lat := float64(e.now-j.sentAt) / 1000
	s := &e.stats
	switch status {
	case "completed":
		s.completed++
		s.intervalCompleted++
		j.client.completed++
		s.settleLatency.add(lat)
		s.intervalLatency.add(lat)
		j.client.latencySum += lat
		j.client.latencyN++
		s.costByVerify[j.verification] += j.escrow
		s.doneByVerify[j.verification]++
		if resultCID != canonical(id) {
			s.wrongAccepted++
		}
		if j.wrongSampled {
			s.sampledWrongAccepted++
		}
		if j.verification == contracts.VerifyNone {
			s.estimate.add(e.estimate(j))
			s.simulated.add(lat)
		}
	case "failed":
		s.failed++
		j.client.failed++
	case "expired":
		s.expired++
		j.client.expired++
	default:
		s.cancelled++
	}
	if j.verification == contracts.VerifyRedundant {
		s.redundantSettled++
		if j.cartelSlots*2 > j.k {
			s.cartelCaptured++
		}
	}
}

// estimate is the completion-time estimate of docs/protocol.md, T = T_base × J / W × (1 + σ) for a job,
// with T_base the reference job's time on a W = 1 machine, and σ the congestion, half the
// network's utilisation.
func (e *engine) estimate(j *jobRec) float64 {
	// Mean W of the providers that ran it.
	w, n := 0.0, 0
	for _, s := range sortedSlots(j.slots) {
		w += gpuClasses[j.slots[s].class].power
		n++
	}
	if n == 0 {
		return 0
	}
	w /= float64(n)
	// T_base is set so that the estimate is exact for a reference job on an RTX 3080 (J = 3,
	// W = 3: 80 s); the other classes show how far W's linear scale is from their throughput.
	const tBase = 240.0
	sigma := math.Min(0.5, 0.5*e.utilisation())
	return tBase * jobComplexity[j.typ] / w * (1 + sigma)
}

func (e *engine) utilisation() float64 {
	running, capacity := 0, 0
	for _, p := range e.providers {
		running += p.running
		capacity += p.capacity
	}
	if capacity == 0 {
		return 0
	}
	return float64(running) / float64(capacity)
}

// reprice revisits an adaptive or undercutting provider's asks and registers them if they
// changed.
func (e *engine) reprice(p *provider) {
	old := p.asks
	switch p.pricing {
	case "adaptive":
		window := float64(p.src.RepriceEvery.Milliseconds()) * float64(p.capacity)
		u := (p.busyMs - p.busyAtReprice) / window
		p.busyAtReprice = p.busyMs
		c := &gpuClasses[p.class]
		if u > p.src.TargetUtilisation {
			p.hourly *= 1.05
		} else {
			p.hourly *= 0.95
		}
		p.hourly = math.Min(c.hi*1.5, math.Max(c.lo*0.5, p.hourly))
	}
	p.setAsks(e)
	if p.asks != old {
		e.send(&p.identity, p.registerMsg(), nil)
	}
}

// finish reads final stakes and reputations from the chain.
func (e *engine) finish() {
	for _, p := range e.providers {
		if st, err := contracts.GetStaker(e.kv, p.addr); err == nil && st != nil {
			p.stakeFinal = toCIRO(st.Tokens)
			p.reputationFinal = st.Reputation
		}
	}
	e.sample(e.end)
}

func sortedSlots(m map[int]*provider) []int {
	slots := make([]int, 0, len(m))
	for s := range m {
		slots = append(slots, s)
	}
	sort.Ints(slots)
	return slots
}

// firstResult is the result of the lowest slot that has answered.
func firstResult(m map[int]string) (string, bool) {
	best, cid := -1, ""
	for s, c := range m {
		if best < 0 || s < best {
			best, cid = s, c
		}
	}
	return cid, best >= 0
}

// disputeOpened has every validator re-execute the disputed job and vote the result it got:
// a dispute without a quorum of votes settles in the provider's favour.
func (e *engine) disputeOpened(id uint64) {
	j := e.jobs[id]
	if j == nil {
		return
	}
	d := durationMs(&gpuClasses[2], j.typ)
	for _, v := range e.validators {
		e.stats.reexecutions++
		e.stats.reexecCostUSD += d / 3600_000 * gpuClasses[2].costPerHour
		saved := e.now
		e.now += int64(d)
		e.send(&v.identity, &contracts.DisputeVote{JobID: id, ResultCID: canonical(id)}, nil)
		e.now = saved
	}
}
