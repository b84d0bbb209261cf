package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/holiman/uint256"
)

// The auction clears at the end of every block, so a job is assigned in the block that admits
// it when a provider can take it. Providers sell through standing asks (a price per job type)
// rather than per-job bids: assignment needs no extra round of transactions, which is what
// makes same-block assignment possible; the cost is that a provider prices job types, not
// individual jobs, and keeps its asks current with RegisterProvider.
//
// Selection among eligible providers maximises, in integers,
//
//	score = Wp·price + Wr·reputation + Ws·stake + Wrand·random      (each term 0..10000)
//
// where price = (max_price − ask) × 10000 / max_price, reputation = rep × 10000 / max_rep,
// stake = tier × 10000 / 8, and random is taken from SHA-256(block hash ‖ job id ‖ provider),
// data every node has once the block is decided. Ties go to the lower address. The provider is
// paid its ask, not the client's maximum.

type bidder struct {
	p    *Provider
	st   *Staker
	tier Tier
}

// The auction's budgets. A block's auction work is what its own transactions queued (each paid
// a fee) plus these fixed amounts, whatever the number of jobs, providers and stakers in state.
const (
	// candidateVisits bounds the open asks read per tier class for one job, cheapest first.
	candidateVisits = 32
	// backlogJobsPerBlock is how many jobs queued in earlier blocks the auction retries per
	// block, resuming from a cursor, so that every pending job is retried in turn.
	backlogJobsPerBlock = 8
	// expiriesPerBlock is how many pending jobs whose wait ran out are settled per block; the
	// rest follow in the next blocks.
	expiriesPerBlock = 64
	// dueSlotsPerBlock is how many deadlines and how many challenge windows are handled per
	// block; the rest follow in the next blocks.
	dueSlotsPerBlock = 256
	// maxPendingPerClient caps one account's jobs waiting for a provider, so that parked jobs
	// cost capital in proportion to the backlog they make.
	maxPendingPerClient = 1000
)

// candidates reads the providers that can bid on j: for each tier class the job accepts, up to
// candidateVisits open asks for its type at or under its maximum price, cheapest first.
func (x *exec) candidates(r *auctionRound, j *Job) ([]*bidder, error) {
	low, _ := tierClass(minTierFor[j.Spec.Priority])
	var list []*bidder
	for class := low; class <= uint8(TierEnterprise); class++ {
		b, err := x.bidders(r, askOpenPrefix(j.Spec.Type, class), j.Spec.MaxPrice)
		if err != nil {
			return nil, err
		}
		list = append(list, b...)
	}
	return list, nil
}

// explain says why j found too few providers, for the reason a client reads when its job is
// given up and to tell a re-auction whether providers are only busy: it judges the cheapest
// candidateVisits providers asking for the job's type, open or not.
func (x *exec) explain(r *auctionRound, j *Job, needed int) (rejection, error) {
	list, err := x.bidders(r, []byte{prefixAskAll, byte(j.Spec.Type)}, nil)
	if err != nil {
		return rejection{}, err
	}
	_, why := x.selectProviders(j, list, needed)
	return why, nil
}

// askEntry is one entry of an ask index.
type askEntry struct {
	price *uint256.Int
	addr  Address
}

// bidders loads up to candidateVisits providers named by the ask index entries under prefix,
// cheapest first, stopping at an ask above maxPrice when it is not nil. The index head and the
// providers are read once per block until an assignment changes them.
func (x *exec) bidders(r *auctionRound, prefix []byte, maxPrice *uint256.Int) ([]*bidder, error) {
	entries, ok := r.scans[string(prefix)]
	if !ok {
		err := iteratePrefix(x.st.kv, prefix, func(k, _ []byte) bool {
			price, a := askKeyPrice(k, len(prefix))
			entries = append(entries, askEntry{price: price, addr: a})
			return len(entries) < candidateVisits
		})
		if err != nil {
			return nil, err
		}
		r.scans[string(prefix)] = entries
	}
	var list []*bidder
	for _, e := range entries {
		if maxPrice != nil && e.price.Gt(maxPrice) {
			break
		}
		b, err := x.bidder(r, e.addr)
		if err != nil {
			return nil, err
		}
		list = append(list, b)
	}
	return list, nil
}

func (x *exec) bidder(r *auctionRound, a Address) (*bidder, error) {
	if b, ok := r.loaded[a]; ok {
		return b, nil
	}
	p, err := x.st.provider(a)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, Errorf(CodeInternal, "the ask index names %s, which has no provider record", a)
	}
	st, err := x.st.staker(a)
	if err != nil {
		return nil, err
	}
	b := &bidder{p: p, st: st}
	if st != nil {
		b.tier = TierFor(st.Tokens, x.params.CIROPriceMicroUSD)
	}
	r.loaded[a] = b
	return b, nil
}

// rejection counts why providers could not take a job, for the reason a client reads.
type rejection struct {
	noStake, jailed, tier, hardware, price, busy, already, collateral int
	// eligible providers, fewer than the job needs
	eligible, needed int
}

func (r rejection) String() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.hardware, "lack the required hardware or frameworks")
	add(r.price, "ask more than the maximum price")
	add(r.tier, "lack the stake tier for this priority")
	add(r.jailed, "are jailed")
	add(r.busy, "are at capacity")
	add(r.noStake, "have no provider stake")
	add(r.collateral, "lack the free stake to lock this slot's collateral")
	add(r.already, "already worked on this job")
	if r.eligible > 0 {
		s := fmt.Sprintf("only %d eligible providers for the %d the job needs", r.eligible, r.needed)
		if len(parts) > 0 {
			s += "; of the others " + strings.Join(parts, ", ")
		}
		return s
	}
	if len(parts) == 0 {
		return "no provider is registered"
	}
	return "no eligible provider: " + strings.Join(parts, ", ")
}

type scored struct {
	b     *bidder
	ask   *uint256.Int
	score uint64
}

// selectProviders picks up to n eligible providers for j, best first.
func (x *exec) selectProviders(j *Job, bidders []*bidder, n int) ([]scored, rejection) {
	var why rejection
	var list []scored
	for _, b := range bidders {
		ok := true
		for _, a := range j.Assignments {
			ok = ok && a.Provider != b.p.Address
		}
		if !ok {
			why.already++
			continue
		}
		switch {
		case b.st == nil || b.st.Roles&RoleProvider == 0:
			why.noStake++
			continue
		case b.st.Jailed || b.st.Tombstoned:
			why.jailed++
			continue
		case b.tier < minTierFor[j.Spec.Priority]:
			why.tier++
			continue
		}
		if meets, _ := b.p.Meets(j.Spec.Requirements); !meets {
			why.hardware++
			continue
		}
		ask := b.p.askFor(j.Spec.Type)
		if ask == nil || ask.Gt(j.Spec.MaxPrice) {
			why.price++
			continue
		}
		if b.p.Active >= b.p.Capacity {
			why.busy++
			continue
		}
		if !x.canCollateralize(b, ask) {
			why.collateral++
			continue
		}
		list = append(list, scored{b: b, ask: ask, score: x.score(j, b, ask)})
	}
	if j.Spec.Verification == VerifyRedundant {
		// Redundant slots are drawn by stake, not won by score: see drawByStake.
		if len(list) < n {
			why.eligible, why.needed = len(list), n
		}
		return x.drawByStake(j, list, n), why
	}
	sort.Slice(list, func(i, k int) bool {
		if list[i].score != list[k].score {
			return list[i].score > list[k].score
		}
		return bytes.Compare(list[i].b.p.Address[:], list[k].b.p.Address[:]) < 0
	})
	if len(list) < n {
		why.eligible, why.needed = len(list), n
	}
	if len(list) > n {
		list = list[:n]
	}
	return list, why
}

func (x *exec) score(j *Job, b *bidder, ask *uint256.Int) uint64 {
	p := x.params
	// An ask above the maximum price has no margin and scores nothing on price; the margin is
	// at most the maximum price, so the score is at most 10000.
	priceScore := zero()
	if margin, err := checkedSub(j.Spec.MaxPrice, ask); err == nil {
		if ps, err := checkedMulDiv(margin, uint256.NewInt(10_000), j.Spec.MaxPrice); err == nil {
			priceScore = ps
		}
	}
	rep := b.st.Reputation
	if rep < 0 {
		rep = 0
	}
	repScore := uint64(rep) * 10_000 / uint64(p.MaxReputation)
	stakeScore := uint64(b.tier) * 10_000 / uint64(NumTiers-1)
	h := sha256.New()
	h.Write(x.block.Seed)
	h.Write(binary.BigEndian.AppendUint64(nil, j.ID))
	h.Write(b.p.Address[:])
	randScore := binary.BigEndian.Uint64(h.Sum(nil)[:8]) % 10_001
	return p.WeightPrice*priceScore.Uint64() + p.WeightReputation*repScore + p.WeightStake*stakeScore + p.WeightRandom*randScore
}

// liveSlots counts assignments that are running or answered and not thrown out.
func liveSlots(j *Job) int {
	n := 0
	for _, a := range j.Assignments {
		if a.Status == AssignRunning || a.Status == AssignCommitted || a.Status == AssignSubmitted || a.Status == AssignAccepted {
			n++
		}
	}
	return n
}

type slotRef struct {
	key  []byte
	id   uint64
	slot int
}

// dueSlots lists up to dueSlotsPerBlock index entries of prefix whose height is at most h.
func (x *exec) dueSlots(prefix byte, h uint64) ([]slotRef, error) {
	var refs []slotRef
	err := x.st.kv.Iterate([]byte{prefix}, slotKey(prefix, h+1, 0, 0), func(k, _ []byte) bool {
		refs = append(refs, slotRef{key: append([]byte(nil), k...), id: binary.BigEndian.Uint64(k[9:17]), slot: int(k[17])})
		return len(refs) < dueSlotsPerBlock
	})
	return refs, err
}

// processJobs runs the market's end of block: missed deadlines, ended challenge windows, then
// the auction.
func (x *exec) processJobs() error {
	h := uint64(x.block.Height)
	due, err := x.dueSlots(prefixDeadline, h)
	if err != nil {
		return err
	}
	for _, r := range due {
		if err := x.st.kv.Delete(r.key); err != nil {
			return err
		}
		if err := x.noShow(r.id, r.slot); err != nil {
			return err
		}
	}
	windows, err := x.dueSlots(prefixWindow, h)
	if err != nil {
		return err
	}
	for _, r := range windows {
		if err := x.st.kv.Delete(r.key); err != nil {
			return err
		}
		j, err := x.st.job(r.id)
		if err != nil {
			return err
		}
		if j == nil || j.Status.Final() || j.Assignments[r.slot].Status != AssignSubmitted {
			continue
		}
		j.Assignments[r.slot].Status = AssignAccepted
		if err := x.finishWithResult(j, j.Assignments[r.slot].ResultCID); err != nil {
			return err
		}
	}
	if err := x.processVerification(h); err != nil {
		return err
	}
	return x.clearAuction()
}

// noShow handles an assignment whose deadline passed without a result: the provider is slashed
// for unavailability and the slot is re-auctioned once, or the job judged without it.
func (x *exec) noShow(id uint64, slot int) error {
	j, err := x.st.job(id)
	if err != nil {
		return err
	}
	if j == nil || j.Status.Final() || j.Assignments[slot].Status != AssignRunning {
		return nil
	}
	a := &j.Assignments[slot]
	a.Status = AssignNoShow
	x.emit(event("job_no_show", "job_id", uintStr(id), "provider", a.Provider.String(), "slot", uintStr(uint64(slot))))
	if err := x.releaseCapacity(a.Provider); err != nil {
		return err
	}
	if err := x.punishProvider(a.Provider, x.params.NoShowSlashBps, nil, x.params.ReputationNoShowDn, "unavailability", id, a.AssignedAt); err != nil {
		return err
	}
	return x.slotLost(j, "the provider delivered no result by the deadline")
}

// slotLost re-auctions a job that lost a slot (no-show, or inputs its provider could not
// fetch), once; after that a single-slot job fails and a redundant job is judged without it.
func (x *exec) slotLost(j *Job, reason string) error {
	if j.Spec.Verification != VerifyRedundant {
		return x.retryOrFail(j, reason)
	}
	// Slots lost in the same round join one re-auction: the second loss of a round is not a
	// second round.
	queued, err := x.st.kv.Get(pendingKey(j.Spec.Priority, j.ID))
	if err != nil {
		return err
	}
	if j.Reauctions < 1 || queued != nil {
		if queued == nil {
			j.Reauctions++
			x.emit(event("job_reauction", "job_id", uintStr(j.ID), "reason", reason))
			if err := x.queueJob(j); err != nil {
				return err
			}
		}
		return x.st.setJob(j)
	}
	return x.tallyRedundant(j, true)
}

// clearAuction assigns pending jobs with work bounded by the block, not by the state. It tries,
// in this order: the jobs queued during this block (each paid for by a transaction or a due
// slot), highest priority first and oldest first; then up to expiriesPerBlock jobs whose wait
// for a provider ran out, so their escrow is returned; then backlogJobsPerBlock older jobs from
// a cursor that walks the queue in priority order and wraps around. At most
// MaxAssignmentsPerBlock assignments are made.
func (x *exec) clearAuction() error {
	r := newAuctionRound()
	var fresh [][]byte
	err := iteratePrefix(x.st.kv, []byte{prefixFresh}, func(k, _ []byte) bool {
		fresh = append(fresh, append([]byte(nil), k...))
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range fresh {
		if err := x.st.kv.Delete(k); err != nil {
			return err
		}
		if err := x.auctionJob(r, binary.BigEndian.Uint64(k[2:])); err != nil {
			return err
		}
	}
	var expired []uint64
	h := uint64(x.block.Height)
	err = x.st.kv.Iterate([]byte{prefixPendingExpiry}, pendingExpiryKey(h+1, 0), func(k, _ []byte) bool {
		expired = append(expired, binary.BigEndian.Uint64(k[9:]))
		return len(expired) < expiriesPerBlock
	})
	if err != nil {
		return err
	}
	for _, id := range expired {
		delete(r.visited, id) // its wait ran out since it was tried above: settle it now
		if err := x.auctionJob(r, id); err != nil {
			return err
		}
	}
	backlog, err := x.backlog()
	if err != nil {
		return err
	}
	for _, k := range backlog {
		if err := x.auctionJob(r, binary.BigEndian.Uint64(k[2:])); err != nil {
			return err
		}
	}
	if len(backlog) > 0 {
		if err := x.st.kv.Set([]byte{prefixAuctionCursor}, backlog[len(backlog)-1]); err != nil {
			return err
		}
	}
	for _, id := range r.judge {
		j, err := x.st.job(id)
		if err != nil {
			return err
		}
		if err := x.tallyRedundant(j, true); err != nil {
			return err
		}
	}
	return nil
}

// backlog lists the next backlogJobsPerBlock pending keys after the cursor, wrapping around.
func (x *exec) backlog() ([][]byte, error) {
	cur, err := x.st.kv.Get([]byte{prefixAuctionCursor})
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	collect := func(k, _ []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return len(keys) < backlogJobsPerBlock
	}
	from := []byte{prefixPending}
	if cur != nil {
		from = append(append([]byte(nil), cur...), 0)
	}
	if err := x.st.kv.Iterate(from, prefixEnd([]byte{prefixPending}), collect); err != nil {
		return nil, err
	}
	if len(keys) < backlogJobsPerBlock && cur != nil {
		if err := x.st.kv.Iterate([]byte{prefixPending}, from, collect); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// auctionRound is what one block's auction carries from job to job. Its maps are looked up,
// never iterated.
//
// It reads each ask index head and each provider once per block. That is sound because, within
// the auction, only an assignment writes a provider (through the round's own copy), and a
// job the auction closes has no running slot, so closing it touches no provider or staker.
type auctionRound struct {
	made    uint32
	visited map[uint64]bool
	judge   []uint64              // redundant re-auctions that found too few providers, judged after the auction
	scans   map[string][]askEntry // ask index prefix → its head
	loaded  map[Address]*bidder
}

func newAuctionRound() *auctionRound {
	return &auctionRound{visited: map[uint64]bool{}, scans: map[string][]askEntry{}, loaded: map[Address]*bidder{}}
}

// auctionJob tries to assign one pending job, or settles it when its wait is over.
func (x *exec) auctionJob(r *auctionRound, id uint64) error {
	if r.visited[id] || r.made >= x.params.MaxAssignmentsPerBlock {
		return nil
	}
	r.visited[id] = true
	j, err := x.st.job(id)
	if err != nil || j == nil {
		return err
	}
	if queued, err := x.st.kv.Get(pendingKey(j.Spec.Priority, id)); err != nil || queued == nil {
		if err != nil {
			return err
		}
		// Not pending (an index entry outlived its job): drop what is left of it.
		return x.st.kv.Delete(pendingExpiryKey(x.pendingExpiry(j), id))
	}
	h := uint64(x.block.Height)
	needed := int(j.Spec.Redundancy) - liveSlots(j)
	if j.Status.Final() || needed <= 0 {
		return x.unqueueJob(j)
	}
	bidders, err := x.candidates(r, j)
	if err != nil {
		return err
	}
	chosen, _ := x.selectProviders(j, bidders, needed)
	if len(j.Assignments) == 0 && h+x.params.MinAssignWindowBlocks > j.Spec.Deadline {
		// Too little of its window is left: a provider assigned now could not be expected to
		// answer in time, and would be slashed for it.
		reason := "the deadline came before a provider could be assigned"
		if len(chosen) < needed {
			why, err := x.explain(r, j, needed)
			if err != nil {
				return err
			}
			reason = why.String()
		}
		if err := x.unqueueJob(j); err != nil {
			return err
		}
		return x.closeJob(j, JobExpired, reason)
	}
	if len(chosen) < needed {
		// A re-auction waits while providers that could take the slot are only busy, for at
		// most one more deadline window.
		if len(j.Assignments) == 0 {
			return nil
		}
		why, err := x.explain(r, j, needed)
		if err != nil {
			return err
		}
		if why.busy > 0 && h <= j.Spec.Deadline+(j.Spec.Deadline-j.SubmittedAt) {
			return nil
		}
		// A re-auction that finds too few providers: give up rather than hold the escrow. With
		// no live slot the job fails; a redundant job with results in is judged on them after
		// the auction.
		if err := x.unqueueJob(j); err != nil {
			return err
		}
		if liveSlots(j) == 0 {
			return x.closeJob(j, JobFailed, why.String())
		}
		r.judge = append(r.judge, id)
		return nil
	}
	deadline := j.Spec.Deadline
	if len(j.Assignments) > 0 {
		deadline = h + (j.Spec.Deadline - j.SubmittedAt) // a re-auctioned slot gets a fresh window
	}
	for _, c := range chosen {
		slot := len(j.Assignments)
		j.Assignments = append(j.Assignments, Assignment{Provider: c.b.p.Address, Price: clone(c.ask), AssignedAt: h, Deadline: deadline, Status: AssignRunning})
		c.b.p.Active++
		// Written at once, so a provider at capacity leaves the open index before the next job;
		// the round's copy is the record itself, so it stays current.
		if err := x.st.setProvider(c.b.p); err != nil {
			return err
		}
		if c.b.p.Active >= c.b.p.Capacity {
			r.scans = map[string][]askEntry{} // read the index heads again without it
		}
		if err := x.st.kv.Set(slotKey(prefixDeadline, deadline, id, slot), marker); err != nil {
			return err
		}
		if err := x.st.kv.Set(providerJobKey(c.b.p.Address, id), []byte{byte(slot)}); err != nil {
			return err
		}
		x.emit(event("job_assigned", "job_id", uintStr(id), "provider", c.b.p.Address.String(), "slot", uintStr(uint64(slot)),
			"deadline", uintStr(deadline), "price", c.ask.Dec(), "type", j.Spec.Type.String()))
	}
	r.made += uint32(needed)
	if j.Status == JobPending {
		j.Status = JobAssigned
	}
	if err := x.unqueueJob(j); err != nil {
		return err
	}
	if err := x.st.setJob(j); err != nil {
		return err
	}
	return x.st.addLoad(int64(needed), 0)
}

// pendingExpiry is the height at which a pending job's wait for a provider ends: for a job no
// provider took yet, when too little of its window is left to assign it; for a re-auction,
// one deadline window after its deadline.
func (x *exec) pendingExpiry(j *Job) uint64 {
	if len(j.Assignments) == 0 {
		if j.Spec.Deadline+1 < x.params.MinAssignWindowBlocks {
			return 0
		}
		return j.Spec.Deadline + 1 - x.params.MinAssignWindowBlocks
	}
	return j.Spec.Deadline + (j.Spec.Deadline - j.SubmittedAt) + 1
}

func freshKey(p Priority, id uint64) []byte {
	k := pendingKey(p, id)
	k[0] = prefixFresh
	return k
}

func clientPendingKey(c Address) []byte { return append([]byte{prefixClientPending}, c[:]...) }

// clientPending counts a client's pending jobs.
func (x *exec) clientPending(c Address) (uint64, error) {
	b, err := x.st.kv.Get(clientPendingKey(c))
	if err != nil || b == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

func (x *exec) setClientPending(c Address, n uint64) error {
	if n == 0 {
		return x.st.kv.Delete(clientPendingKey(c))
	}
	return x.st.kv.Set(clientPendingKey(c), binary.BigEndian.AppendUint64(nil, n))
}

// checkPendingCap refuses a submission that would put more than maxPendingPerClient of the
// client's jobs in the queue.
func (x *exec) checkPendingCap(c Address) error {
	n, err := x.clientPending(c)
	if err != nil {
		return err
	}
	if n >= maxPendingPerClient {
		return Errorf(CodeTooManyPending, "account %s already has %d jobs waiting for a provider, the most one account may have; wait for some to be assigned or cancel them", c, n)
	}
	return nil
}

// queueJob puts j in the pending queue: in priority order for the backlog scan, in this
// block's fresh list, and in the expiry index at the height its wait ends. The pending entry's
// value is that height, so leaving the queue finds the expiry entry whatever happened since.
func (x *exec) queueJob(j *Job) error {
	key := pendingKey(j.Spec.Priority, j.ID)
	if v, err := x.st.kv.Get(key); err != nil || v != nil {
		return err
	}
	exp := x.pendingExpiry(j)
	if err := x.st.kv.Set(key, binary.BigEndian.AppendUint64(nil, exp)); err != nil {
		return err
	}
	if err := x.st.kv.Set(pendingExpiryKey(exp, j.ID), marker); err != nil {
		return err
	}
	if err := x.st.kv.Set(freshKey(j.Spec.Priority, j.ID), marker); err != nil {
		return err
	}
	n, err := x.clientPending(j.Client)
	if err != nil {
		return err
	}
	return x.setClientPending(j.Client, n+1)
}

// unqueueJob takes j out of the pending queue and its indexes, if it is there.
func (x *exec) unqueueJob(j *Job) error {
	key := pendingKey(j.Spec.Priority, j.ID)
	v, err := x.st.kv.Get(key)
	if err != nil || v == nil {
		return err
	}
	if len(v) != 8 {
		return Errorf(CodeInternal, "pending entry of job %d holds %d bytes, not a height", j.ID, len(v))
	}
	for _, k := range [][]byte{key, pendingExpiryKey(binary.BigEndian.Uint64(v), j.ID), freshKey(j.Spec.Priority, j.ID)} {
		if err := x.st.kv.Delete(k); err != nil {
			return err
		}
	}
	n, err := x.clientPending(j.Client)
	if err != nil {
		return err
	}
	if n == 0 {
		return Errorf(CodeInternal, "job %d was pending but its client %s counts no pending job", j.ID, j.Client)
	}
	return x.setClientPending(j.Client, n-1)
}
