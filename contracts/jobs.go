package contracts

import (
	"strconv"

	"github.com/holiman/uint256"
)

// The job market: orders, escrow, results, verification and settlement. The auction that
// assigns providers runs at the end of every block (auction.go).
//
// Money flow of a job, all exact integers:
//   - submit: the client locks escrow = max_price × k + F, where F is the network fee;
//   - settle with a result: each accepted provider earns its ask minus platform_fee_bps, the
//     platform fee and F are split between burn and treasury (FeeBurnBps), and the client gets
//     back escrow minus what was paid and F;
//   - settle without a result (cancelled, expired, failed): the client gets back all of the
//     escrow that was not paid to an accepted provider, F included: a job that delivered
//     nothing costs nothing but its transaction fee.

func uintStr(v uint64) string { return strconv.FormatUint(v, 10) }

// lnTableBps is ln(1 + d) in basis points for d = 0..10, the priority demand term of F(u, d).
// A table keeps floats out of consensus; the values are rounded to the nearest basis point.
var lnTableBps = [11]uint64{0, 6931, 10986, 13863, 16094, 17918, 19459, 20794, 21972, 23026, 23979}

// NetworkFee computes the protocol's adaptive fee (docs/protocol.md)
//
//	F(u, d) = F_base × (1 + u² / (1 − u)) × (1 + 0.1 × ln(1 + d))
//
// with u in basis points (capped at 9500, the protocol's 0.95) and d an integer 0..10, as
//
//	F = floor(F_base × (10000 + floor(u² / (10000 − u))) × (100000 + ln_bps(1+d)) / 10^9)
//
// Both divisions round down.
func NetworkFee(base *uint256.Int, utilBps, demand uint64) *uint256.Int {
	if utilBps > 9500 {
		utilBps = 9500
	}
	if demand > 10 {
		demand = 10
	}
	uFactor := 10_000 + utilBps*utilBps/(10_000-utilBps)
	dFactor := 100_000 + lnTableBps[demand]
	// uFactor × dFactor ≤ 190500 × 123979 < 2^35, so F ≤ 24 × F_base: it fits in 256 bits
	// whenever F_base ≤ the hard cap, which Params.Validate requires.
	f, _ := mulDiv(base, uint256.NewInt(uFactor*dFactor), uint256.NewInt(1_000_000_000))
	return f
}

func (x *exec) networkFee(p Priority) (*uint256.Int, error) {
	l, err := x.st.load()
	if err != nil {
		return nil, err
	}
	var util uint64
	if l.Capacity > 0 {
		util = l.Active * 10_000 / l.Capacity
	}
	return NetworkFee(x.params.JobBaseFee, util, demandOf[p]), nil
}

// jobEscrow is what a submission locks: max_price × k plus the network fee.
func (x *exec) jobEscrow(spec *JobSpec) (escrow, fee *uint256.Int, err error) {
	fee, err = x.networkFee(spec.Priority)
	if err != nil {
		return nil, nil, err
	}
	total, overflow := new(uint256.Int).MulOverflow(spec.MaxPrice, uint256.NewInt(uint64(spec.Redundancy)))
	if !overflow {
		total, overflow = total.AddOverflow(total, fee)
	}
	if overflow {
		return nil, nil, Errorf(CodeInvalidArgument, "the maximum price is out of range")
	}
	return total, fee, nil
}

func (x *exec) submitJob(client Address, spec JobSpec) error {
	h := uint64(x.block.Height)
	if spec.Deadline <= h {
		return Errorf(CodeDeadlinePast, "deadline height %d has passed: the chain is at height %d", spec.Deadline, h)
	}
	if spec.Deadline > h+x.params.MaxJobDeadlineBlocks {
		return Errorf(CodeInvalidArgument, "deadline height %d is more than %d blocks ahead", spec.Deadline, x.params.MaxJobDeadlineBlocks)
	}
	if spec.MaxPrice.Lt(x.params.MinJobPrice) {
		return Errorf(CodePriceBelowFloor, "the maximum price %s is below the protocol floor of %s", FormatCIRO(spec.MaxPrice), FormatCIRO(x.params.MinJobPrice))
	}
	floor, err := x.st.jobFloor(spec.Type)
	if err != nil {
		return err
	}
	if floor != nil && spec.MaxPrice.Lt(floor) {
		return Errorf(CodePriceBelowFloor, "the maximum price %s is below every provider's ask for %s (the lowest is %s)", FormatCIRO(spec.MaxPrice), spec.Type, FormatCIRO(floor))
	}
	if err := x.checkPendingCap(client); err != nil {
		return err
	}
	escrow, fee, err := x.jobEscrow(&spec)
	if err != nil {
		return err
	}
	if err := x.debit(client, escrow); err != nil {
		return err
	}
	id, err := x.st.nextSeq("job")
	if err != nil {
		return err
	}
	id++ // job ids start at 1
	j := &Job{ID: id, Client: client, Spec: spec, Status: JobPending, SubmittedAt: uint64(x.block.Height),
		Escrow: escrow, Fee: fee, Paid: zero(), Refunded: zero()}
	if err := x.st.setJob(j); err != nil {
		return err
	}
	if err := x.queueJob(j); err != nil {
		return err
	}
	if err := x.st.kv.Set(clientJobKey(client, id), marker); err != nil {
		return err
	}
	x.emit(event("job_submitted", "job_id", uintStr(id), "client", client.String(), "type", spec.Type.String(),
		"verification", spec.Verification.String(), "escrow", escrow.Dec()))
	return nil
}

func (x *exec) cancelJob(sender Address, id uint64) error {
	j, err := x.st.job(id)
	if err != nil {
		return err
	}
	if j == nil {
		return Errorf(CodeNotFound, "there is no job %d", id)
	}
	if j.Client != sender {
		return Errorf(CodeUnauthorized, "job %d belongs to %s", id, j.Client)
	}
	if j.Status != JobPending || len(j.Assignments) > 0 {
		return Errorf(CodeJobState, "job %d is %s; only a job no provider has taken can be cancelled", id, j.Status)
	}
	if err := x.unqueueJob(j); err != nil {
		return err
	}
	return x.closeJob(j, JobCancelled, "cancelled by the client")
}

func (x *exec) registerProvider(sender Address, m *RegisterProvider) error {
	st, err := x.st.staker(sender)
	if err != nil {
		return err
	}
	if st == nil || st.Roles&RoleProvider == 0 {
		return Errorf(CodeNotProvider, "account %s has not staked as a provider: stake with the provider role first", sender)
	}
	offer := m.offer()
	offer.Address = sender
	old, err := x.st.provider(sender)
	if err != nil {
		return err
	}
	capDelta := int64(offer.Capacity)
	if old != nil {
		offer.Active, offer.Earnings, offer.Completed, offer.Failed = old.Active, old.Earnings, old.Completed, old.Failed
		capDelta -= int64(old.Capacity)
	} else {
		offer.Earnings = zero()
	}
	if err := x.st.setProvider(offer); err != nil {
		return err
	}
	if err := x.st.addLoad(0, capDelta); err != nil {
		return err
	}
	x.emit(event("provider_registered", "provider", sender.String(), "capacity", uintStr(uint64(offer.Capacity))))
	return nil
}

func (x *exec) withdraw(sender Address, amount *uint256.Int) error {
	p, err := x.st.provider(sender)
	if err != nil {
		return err
	}
	if p == nil {
		return Errorf(CodeNotProvider, "account %s is not a registered provider", sender)
	}
	if amount == nil || amount.IsZero() {
		amount = clone(p.Earnings)
	}
	if amount.IsZero() {
		return Errorf(CodeInsufficientFunds, "there are no earnings to withdraw")
	}
	if amount.Gt(p.Earnings) {
		return Errorf(CodeInsufficientFunds, "earnings are %s, less than %s", FormatCIRO(p.Earnings), FormatCIRO(amount))
	}
	if err := subFrom(p.Earnings, amount); err != nil {
		return err
	}
	if err := x.st.setProvider(p); err != nil {
		return err
	}
	if err := x.credit(sender, amount); err != nil {
		return err
	}
	x.emit(event("withdraw", "provider", sender.String(), "amount", amount.Dec()))
	return nil
}

// assignmentOf finds sender's assignment on a job in a state; -1 if none.
func assignmentOf(j *Job, who Address, status AssignmentStatus) int {
	for i, a := range j.Assignments {
		if a.Provider == who && a.Status == status {
			return i
		}
	}
	return -1
}

func (x *exec) submitResult(sender Address, m *SubmitResult) error {
	j, err := x.st.job(m.JobID)
	if err != nil {
		return err
	}
	if j == nil {
		return Errorf(CodeNotFound, "there is no job %d", m.JobID)
	}
	if j.Status.Final() {
		return Errorf(CodeJobState, "job %d is already %s; it takes no more results", m.JobID, j.Status)
	}
	if j.Spec.Verification == VerifyRedundant {
		return Errorf(CodeNotSupported, "job %d uses redundant verification: commit the result with CommitResult, then reveal it with RevealResult", m.JobID)
	}
	slot := assignmentOf(j, sender, AssignRunning)
	if slot < 0 {
		for _, a := range j.Assignments {
			if a.Provider == sender {
				return Errorf(CodeDuplicateResult, "provider %s already answered job %d (%s)", sender, m.JobID, a.Status)
			}
		}
		return Errorf(CodeNotAssigned, "job %d is not assigned to %s", m.JobID, sender)
	}
	a := &j.Assignments[slot]
	a.Status = AssignSubmitted
	a.ResultCID = m.ResultCID
	a.Commitment = m.Commitment
	if err := x.st.kv.Delete(slotKey(prefixDeadline, a.Deadline, j.ID, slot)); err != nil {
		return err
	}
	if err := x.releaseCapacity(a.Provider); err != nil {
		return err
	}
	x.emit(event("job_result", "job_id", uintStr(j.ID), "provider", sender.String(), "slot", uintStr(uint64(slot)), "result_cid", m.ResultCID))
	switch j.Spec.Verification {
	case VerifyNone:
		a.Status = AssignAccepted
		return x.finishWithResult(j, a.ResultCID)
	case VerifySampled:
		a.WindowEnd = uint64(x.block.Height) + x.challengeWindow(a)
		j.Status = JobVerifying
		if err := x.st.kv.Set(slotKey(prefixWindow, a.WindowEnd, j.ID, slot), marker); err != nil {
			return err
		}
		return x.st.setJob(j)
	default:
		return Errorf(CodeInternal, "job %d has verification %s", j.ID, j.Spec.Verification)
	}
}

// tallyRedundant moves a redundant job on once its slots have answered (or, with final, once
// no slot can answer any more). While slots commit, nothing is public. Once none is running
// and no re-auction is queued, the reveal phase opens; once every committed slot revealed (or
// the reveal window closed: final), the results are judged. A slot that never revealed is
// slashed like a wrong result: it could otherwise keep its result back once it saw the
// others'. Unanimous results are accepted. On a bit-exact executor any disagreement is
// settled by the validators' re-execution (a split dispute). Otherwise the CID more than half
// of k providers returned wins, its providers are paid and the others are slashed; with no
// such majority the results are void and the job fails: nothing shows who was wrong.
func (x *exec) tallyRedundant(j *Job, final bool) error {
	k := int(j.Spec.Redundancy)
	running, committed := 0, 0
	counts := map[string]int{}
	var order []string // first-seen order, for a deterministic walk
	for _, a := range j.Assignments {
		switch a.Status {
		case AssignRunning:
			running++
		case AssignCommitted:
			committed++
		case AssignSubmitted:
			if counts[a.ResultCID] == 0 {
				order = append(order, a.ResultCID)
			}
			counts[a.ResultCID]++
		}
	}
	if j.RevealEnd == 0 {
		queued, err := x.st.kv.Get(pendingKey(j.Spec.Priority, j.ID))
		if err != nil {
			return err
		}
		if (running > 0 || queued != nil) && !final {
			return x.st.setJob(j)
		}
		if committed > 0 {
			return x.openRevealPhase(j)
		}
	} else {
		if committed > 0 && !final {
			return x.st.setJob(j)
		}
		if err := x.st.kv.Delete(slotKey(prefixRevealEnd, j.RevealEnd, j.ID, 0)); err != nil {
			return err
		}
		final = true // the commit phase is over: no other slot can answer
	}
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignCommitted {
			continue
		}
		a.Status = AssignRejected
		x.emit(event("reveal_missing", "job_id", uintStr(j.ID), "provider", a.Provider.String(), "slot", uintStr(uint64(i))))
		if err := x.punishWrong(j, a, "malicious_result"); err != nil {
			return err
		}
	}
	if len(order) >= 2 && j.Spec.Reexecutable() {
		if err := x.voidRunning(j); err != nil {
			return err
		}
		total, err := x.totalPower()
		if err != nil {
			return err
		}
		return x.openDispute(j, &Dispute{JobID: j.ID, Kind: DisputeSplit, Eligible: total})
	}
	winner := ""
	for _, cid := range order {
		if counts[cid] > k/2 {
			winner = cid
		}
	}
	if winner == "" && final && len(order) == 1 {
		winner = order[0] // fewer answers than hoped, but none contradicts another
	}
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignSubmitted {
			continue
		}
		switch {
		case winner == "":
			a.Status = AssignVoid
		case a.ResultCID == winner:
			a.Status = AssignAccepted
		default:
			a.Status = AssignRejected
			if err := x.punishWrong(j, a, "malicious_result"); err != nil {
				return err
			}
		}
	}
	if winner == "" {
		if len(order) == 0 {
			return x.closeJob(j, JobFailed, "no provider delivered a result by the deadline")
		}
		return x.closeJob(j, JobFailed, "the providers' results did not agree")
	}
	return x.finishWithResult(j, winner)
}

// retryOrFail re-auctions a job that lost its only live slot, once; the second time it fails.
func (x *exec) retryOrFail(j *Job, reason string) error {
	if j.Reauctions >= 1 {
		return x.closeJob(j, JobFailed, reason)
	}
	j.Reauctions++
	j.Status = JobPending
	x.emit(event("job_reauction", "job_id", uintStr(j.ID), "reason", reason))
	if err := x.queueJob(j); err != nil {
		return err
	}
	return x.st.setJob(j)
}

// releaseCapacity frees one of a provider's concurrent slots.
func (x *exec) releaseCapacity(who Address) error {
	p, err := x.st.provider(who)
	if err != nil || p == nil {
		return err
	}
	if p.Active > 0 {
		p.Active--
	}
	if err := x.st.setProvider(p); err != nil {
		return err
	}
	return x.st.addLoad(-1, 0)
}

// punishProvider slashes a provider's stake as it was when the faulty assignment began
// (assignedAt), unbonding entries that left since included, and at least atLeast when that is
// set (the rest from the pool, capped at it), and lowers its reputation.
func (x *exec) punishProvider(who Address, slashBps uint64, atLeast *uint256.Int, repDown int64, reason string, jobID, assignedAt uint64) error {
	st, err := x.st.staker(who)
	if err != nil {
		return err
	}
	if p, err := x.st.provider(who); err != nil {
		return err
	} else if p != nil {
		p.Failed++
		if err := x.st.setProvider(p); err != nil {
			return err
		}
		if err := x.countFault(who); err != nil {
			return err
		}
	}
	if st == nil {
		return nil
	}
	total, err := x.slashAtHeight(st, slashBps, assignedAt, reason)
	if err != nil {
		return err
	}
	if atLeast != nil && atLeast.Gt(total) {
		// The collateral floor: what the percentage left short comes from the pool.
		extra, err := checkedSub(atLeast, total)
		if err != nil {
			return err
		}
		if extra.Gt(st.Tokens) {
			extra = clone(st.Tokens)
		}
		if err := subFrom(st.Tokens, extra); err != nil {
			return err
		}
		if err := x.splitBurnTreasury(extra, x.params.SlashBurnBps); err != nil {
			return err
		}
		x.emit(event("slash", "staker", st.Address.String(), "reason", reason, "amount", extra.Dec(),
			"from_pool", extra.Dec(), "from_unbonding", "0", "infraction_height", uint64Str(assignedAt),
			"height", uint64Str(uint64(x.block.Height))))
	}
	x.adjustReputation(st, -repDown)
	x.emit(event("provider_penalised", "provider", who.String(), "reason", reason, "job_id", uintStr(jobID)))
	return x.st.setStaker(st)
}

// finishWithResult completes a job: accepted providers are paid, the rest refunded.
func (x *exec) finishWithResult(j *Job, resultCID string) error {
	j.ResultCID = resultCID
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignAccepted {
			continue
		}
		if err := x.pay(j, a); err != nil {
			return err
		}
	}
	if err := x.splitBurnTreasury(j.Fee, x.params.FeeBurnBps); err != nil {
		return err
	}
	if err := subFrom(j.Escrow, j.Fee); err != nil {
		return err
	}
	return x.closeJob(j, JobCompleted, "")
}

// pay moves an accepted provider's price out of escrow: the platform fee to burn and treasury,
// the rest to the provider's earnings.
func (x *exec) pay(j *Job, a *Assignment) error {
	platform := bps(a.Price, x.params.PlatformFeeBps)
	earned, err := checkedSub(a.Price, platform)
	if err != nil {
		return err
	}
	p, err := x.st.provider(a.Provider)
	if err != nil {
		return err
	}
	if p == nil {
		return Errorf(CodeInternal, "assigned provider %s has no record", a.Provider)
	}
	if err := addTo(p.Earnings, earned); err != nil {
		return err
	}
	p.Completed++
	if err := x.st.setProvider(p); err != nil {
		return err
	}
	if err := x.countVerifiedJob(a.Provider, j.Spec.Verification); err != nil {
		return err
	}
	if err := x.splitBurnTreasury(platform, x.params.FeeBurnBps); err != nil {
		return err
	}
	if err := subFrom(j.Escrow, a.Price); err != nil {
		return err
	}
	if err := addTo(j.Paid, a.Price); err != nil {
		return err
	}
	if st, err := x.st.staker(a.Provider); err != nil {
		return err
	} else if st != nil {
		x.adjustReputation(st, x.params.ReputationSuccessUp)
		if err := x.st.setStaker(st); err != nil {
			return err
		}
	}
	x.emit(event("provider_paid", "job_id", uintStr(j.ID), "provider", a.Provider.String(), "amount", earned.Dec(), "platform_fee", platform.Dec()))
	return nil
}

// closeJob refunds what is left in escrow and records the final state. Slots still running
// (a redundant job judged before all of them answered) are voided: their providers get their
// capacity back, are not paid, and can no longer answer. A job that is settled leaves the
// pending index.
func (x *exec) closeJob(j *Job, status JobStatus, reason string) error {
	if err := x.settleUnavailable(j); err != nil {
		return err
	}
	if err := x.voidRunning(j); err != nil {
		return err
	}
	if err := x.unqueueJob(j); err != nil {
		return err
	}
	if !j.Escrow.IsZero() {
		if err := x.credit(j.Client, j.Escrow); err != nil {
			return err
		}
		if err := addTo(j.Refunded, j.Escrow); err != nil {
			return err
		}
		x.emit(event("job_refunded", "job_id", uintStr(j.ID), "client", j.Client.String(), "amount", j.Escrow.Dec()))
		j.Escrow = zero()
	}
	j.Status = status
	j.Reason = truncate(reason, maxReasonLen)
	j.SettledAt = uint64(x.block.Height)
	for _, a := range j.Assignments {
		if err := x.st.kv.Delete(providerJobKey(a.Provider, j.ID)); err != nil {
			return err
		}
	}
	attrs := []string{"job_id", uintStr(j.ID), "client", j.Client.String(), "status", status.String()}
	if j.ResultCID != "" {
		attrs = append(attrs, "result_cid", j.ResultCID)
	}
	if reason != "" {
		attrs = append(attrs, "reason", j.Reason)
	}
	x.emit(event("job_settled", attrs...))
	return x.st.setJob(j)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
