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
	p     *Provider
	st    *Staker
	tier  Tier
	dirty bool
}

// loadBidders reads every provider with its staker, in address order.
func (x *exec) loadBidders() ([]*bidder, error) {
	var list []*bidder
	var decodeErr error
	err := iteratePrefix(x.st.kv, []byte{prefixProvider}, func(_, v []byte) bool {
		p, err := DecodeProvider(v)
		if err != nil {
			decodeErr = err
			return false
		}
		list = append(list, &bidder{p: p})
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, err
	}
	for _, b := range list {
		st, err := x.st.staker(b.p.Address)
		if err != nil {
			return nil, err
		}
		b.st = st
		if st != nil {
			b.tier = TierFor(st.Tokens, x.params.CIROPriceMicroUSD)
		}
	}
	return list, nil
}

// rejection counts why providers could not take a job, for the reason a client reads.
type rejection struct {
	noStake, jailed, tier, hardware, price, busy, already int
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
		list = append(list, scored{b: b, ask: ask, score: x.score(j, b, ask)})
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
		if a.Status == AssignRunning || a.Status == AssignSubmitted || a.Status == AssignAccepted {
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

// dueSlots lists index entries of prefix whose height is at most h.
func (x *exec) dueSlots(prefix byte, h uint64) ([]slotRef, error) {
	var refs []slotRef
	err := x.st.kv.Iterate([]byte{prefix}, slotKey(prefix, h+1, 0, 0), func(k, _ []byte) bool {
		refs = append(refs, slotRef{key: append([]byte(nil), k...), id: binary.BigEndian.Uint64(k[9:17]), slot: int(k[17])})
		return true
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
	if err := x.punishProvider(a.Provider, x.params.NoShowSlashBps, x.params.ReputationNoShowDn, "unavailability", id, a.AssignedAt); err != nil {
		return err
	}
	if j.Spec.Verification != VerifyRedundant {
		return x.retryOrFail(j, "the provider delivered no result by the deadline")
	}
	// Slots that miss the same deadline join one re-auction: the second no-show of a round is
	// not a second round.
	queued, err := x.st.kv.Get(pendingKey(j.Spec.Priority, id))
	if err != nil {
		return err
	}
	if j.Reauctions < 1 || queued != nil {
		if queued == nil {
			j.Reauctions++
			x.emit(event("job_reauction", "job_id", uintStr(id), "reason", "a provider delivered no result by the deadline"))
			if err := x.st.kv.Set(pendingKey(j.Spec.Priority, id), marker); err != nil {
				return err
			}
		}
		return x.st.setJob(j)
	}
	return x.tallyRedundant(j, true)
}

// clearAuction assigns pending jobs, highest priority first and oldest first within a
// priority, until MaxAssignmentsPerBlock assignments are made.
func (x *exec) clearAuction() error {
	var pending [][]byte
	err := iteratePrefix(x.st.kv, []byte{prefixPending}, func(k, _ []byte) bool {
		pending = append(pending, append([]byte(nil), k...))
		return true
	})
	if err != nil || len(pending) == 0 {
		return err
	}
	bidders, err := x.loadBidders()
	if err != nil {
		return err
	}
	h := uint64(x.block.Height)
	made := uint32(0)
	var judge []uint64 // redundant re-auctions that found too few providers, judged after the auction
	for _, key := range pending {
		if made >= x.params.MaxAssignmentsPerBlock {
			break
		}
		id := binary.BigEndian.Uint64(key[2:])
		j, err := x.st.job(id)
		if err != nil {
			return err
		}
		needed := int(j.Spec.Redundancy) - liveSlots(j)
		if j.Status.Final() || needed <= 0 {
			if err := x.st.kv.Delete(key); err != nil {
				return err
			}
			continue
		}
		chosen, why := x.selectProviders(j, bidders, needed)
		if len(j.Assignments) == 0 && h+x.params.MinAssignWindowBlocks > j.Spec.Deadline {
			// Too little of its window is left: a provider assigned now could not be expected to
			// answer in time, and would be slashed for it.
			reason := why.String()
			if len(chosen) >= needed {
				reason = "the deadline came before a provider could be assigned"
			}
			if err := x.st.kv.Delete(key); err != nil {
				return err
			}
			if err := x.closeJob(j, JobExpired, reason); err != nil {
				return err
			}
			continue
		}
		if len(chosen) < needed {
			// A re-auction waits while providers that could take the slot are only busy, for at
			// most one more deadline window.
			if len(j.Assignments) > 0 && why.busy > 0 && h <= j.Spec.Deadline+(j.Spec.Deadline-j.SubmittedAt) {
				continue
			}
			if len(j.Assignments) > 0 {
				// A re-auction that finds too few providers: give up rather than hold the
				// escrow. With no live slot the job fails; a redundant job with results in is
				// judged on them, once the providers read above are written back.
				if err := x.st.kv.Delete(key); err != nil {
					return err
				}
				if liveSlots(j) == 0 {
					if err := x.closeJob(j, JobFailed, why.String()); err != nil {
						return err
					}
				} else {
					judge = append(judge, id)
				}
			}
			continue
		}
		deadline := j.Spec.Deadline
		if len(j.Assignments) > 0 {
			deadline = h + (j.Spec.Deadline - j.SubmittedAt) // a re-auctioned slot gets a fresh window
		}
		for _, c := range chosen {
			slot := len(j.Assignments)
			j.Assignments = append(j.Assignments, Assignment{Provider: c.b.p.Address, Price: clone(c.ask), AssignedAt: h, Deadline: deadline, Status: AssignRunning})
			c.b.p.Active++
			c.b.dirty = true
			if err := x.st.kv.Set(slotKey(prefixDeadline, deadline, id, slot), marker); err != nil {
				return err
			}
			if err := x.st.kv.Set(providerJobKey(c.b.p.Address, id), []byte{byte(slot)}); err != nil {
				return err
			}
			x.emit(event("job_assigned", "job_id", uintStr(id), "provider", c.b.p.Address.String(), "slot", uintStr(uint64(slot)),
				"deadline", uintStr(deadline), "price", c.ask.Dec(), "type", j.Spec.Type.String()))
		}
		made += uint32(needed)
		if j.Status == JobPending {
			j.Status = JobAssigned
		}
		if err := x.st.kv.Delete(key); err != nil {
			return err
		}
		if err := x.st.setJob(j); err != nil {
			return err
		}
		if err := x.st.addLoad(int64(needed), 0); err != nil {
			return err
		}
	}
	for _, b := range bidders {
		if b.dirty {
			if err := x.st.setProvider(b.p); err != nil {
				return err
			}
		}
	}
	for _, id := range judge {
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
