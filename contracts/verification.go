package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	"github.com/holiman/uint256"
)

// Verification of results against a rational adversary (docs/security.md, "Verification and
// results"):
//
//   - every assignment locks collateral in its provider's stake, SlotCollateralBps of its
//     price: the auction assigns a slot only to a provider whose stake covers it, the pool
//     cannot be unstaked below what its open assignments lock, and a slot proven wrong is
//     slashed at least that much;
//   - redundant slots are drawn at random, weighted by stake, among the eligible providers, so
//     splitting a stake over many addresses buys no extra slots;
//   - redundant results are committed, then revealed (SealResult), so no slot can copy
//     another's;
//   - a sampled result can be challenged, with a bond, by a validator; any disagreement among
//     a redundant job's results opens a dispute too. Both are settled by re-execution: the
//     other validators vote the CID they got, and a CID with two thirds of their power decides.
//     Only jobs on bit-exact executors (JobSpec.Reexecutable) can be disputed this way;
//   - a provider that cannot fetch a job's inputs says so (ReportUnavailable) instead of being
//     slashed as a no-show; it is paid a small attempt fee if no provider could fetch them, and
//     slashed as a no-show if another provider did.

// DisputeKind says what opened a dispute.
type DisputeKind uint8

// The dispute kinds.
const (
	// DisputeChallenge: a validator challenged a sampled result, with a bond.
	DisputeChallenge DisputeKind = iota
	// DisputeSplit: a redundant job's revealed results disagree.
	DisputeSplit
)

func (k DisputeKind) String() string {
	if k == DisputeChallenge {
		return "challenge"
	}
	return "split"
}

// DisputeBallot is one validator's re-execution result, with its voting power when it voted.
type DisputeBallot struct {
	Validator Address `json:"validator"`
	Power     uint64  `json:"power"`
	ResultCID string  `json:"result_cid"`
}

// Dispute is an open question about a job's result that the validators settle by
// re-execution. A challenge's bond is held in the job's escrow until the dispute ends.
type Dispute struct {
	JobID      uint64       `json:"job_id"`
	Kind       DisputeKind  `json:"kind"`
	Slot       uint8        `json:"slot"`
	Challenger Address      `json:"challenger"`
	Bond       *uint256.Int `json:"bond"`
	// Claimed is the challenger's own re-execution result.
	Claimed string `json:"claimed,omitempty"`
	Ends    uint64 `json:"ends"`
	// Eligible is the validator set's power when the dispute opened, less the challenger's:
	// a CID needs two thirds of it.
	Eligible uint64          `json:"eligible"`
	Ballots  []DisputeBallot `json:"ballots"`
}

const maxBallots = 1024

func (d *Dispute) encode() []byte {
	e := &encoder{}
	e.u64(d.JobID)
	e.u8(uint8(d.Kind))
	e.u8(d.Slot)
	e.fixed(d.Challenger[:])
	e.amount(d.Bond)
	e.str(d.Claimed)
	e.u64(d.Ends)
	e.u64(d.Eligible)
	e.u64(uint64(len(d.Ballots)))
	for _, b := range d.Ballots {
		e.fixed(b.Validator[:])
		e.u64(b.Power)
		e.str(b.ResultCID)
	}
	return e.buf
}

// DecodeDispute parses a dispute record.
func DecodeDispute(b []byte) (*Dispute, error) {
	d := newDecoder(b)
	out := &Dispute{JobID: d.u64(), Kind: DisputeKind(d.u8()), Slot: d.u8()}
	copy(out.Challenger[:], d.fixed(AddressLen))
	out.Bond = d.amount()
	out.Claimed = d.str(maxCIDLen)
	out.Ends = d.u64()
	out.Eligible = d.u64()
	n := d.u64()
	if n > maxBallots {
		d.fail("too many ballots")
		return nil, d.finish()
	}
	for i := uint64(0); i < n; i++ {
		var b DisputeBallot
		copy(b.Validator[:], d.fixed(AddressLen))
		b.Power = d.u64()
		b.ResultCID = d.str(maxCIDLen)
		out.Ballots = append(out.Ballots, b)
	}
	return out, d.finish()
}

func (s state) dispute(id uint64) (*Dispute, error) {
	b, err := s.kv.Get(disputeKey(id))
	if err != nil || b == nil {
		return nil, err
	}
	return DecodeDispute(b)
}

// GetDispute reads job id's open dispute, or nil.
func GetDispute(kv KV, id uint64) (*Dispute, error) { return state{kv: kv}.dispute(id) }

// challengeWindow is how long a sampled result waits for challenges: the job's declared work
// (its execution window) within [ChallengeWindowBlocks, ChallengeWindowMaxBlocks].
func (x *exec) challengeWindow(a *Assignment) uint64 {
	var work uint64
	if a.Deadline > a.AssignedAt {
		work = a.Deadline - a.AssignedAt
	}
	return min(max(work, x.params.ChallengeWindowBlocks), x.params.ChallengeWindowMaxBlocks)
}

// slotCollateral is what one assignment at price locks: SlotCollateralBps of the price.
func (x *exec) slotCollateral(price *uint256.Int) (*uint256.Int, bool) {
	return new(uint256.Int).MulDivOverflow(price, uint256.NewInt(x.params.SlotCollateralBps), uint256.NewInt(10_000))
}

// canCollateralize reports whether a bidder's pool covers one more slot at ask on top of the
// slots it runs. The auction values the running slots at this ask, which keeps the check
// constant-time per bidder; undelegation checks the exact sum (lockedCollateral).
func (x *exec) canCollateralize(b *bidder, ask *uint256.Int) bool {
	c, overflow := x.slotCollateral(ask)
	if overflow {
		return false
	}
	need, overflow := new(uint256.Int).MulOverflow(c, uint256.NewInt(uint64(b.p.Active)+1))
	return !overflow && !need.Gt(b.st.Tokens)
}

// lockedCollateral sums the collateral of a provider's open assignments: those not yet judged.
func (x *exec) lockedCollateral(who Address) (*uint256.Int, error) {
	var ids []uint64
	prefix := append([]byte{prefixProviderJob}, who[:]...)
	if err := iteratePrefix(x.st.kv, prefix, func(k, _ []byte) bool {
		ids = append(ids, binary.BigEndian.Uint64(k[len(prefix):]))
		return true
	}); err != nil {
		return nil, err
	}
	total := zero()
	for _, id := range ids {
		j, err := x.st.job(id)
		if err != nil {
			return nil, err
		}
		if j == nil || j.Status.Final() {
			continue
		}
		for _, a := range j.Assignments {
			if a.Provider != who {
				continue
			}
			switch a.Status {
			case AssignRunning, AssignCommitted, AssignSubmitted, AssignUnavailable:
			default:
				continue
			}
			c, overflow := x.slotCollateral(a.Price)
			if !overflow {
				total, overflow = total.AddOverflow(total, c)
			}
			if overflow {
				return nil, Errorf(CodeInvalidArgument, "the collateral of %s's assignments is out of range", who)
			}
		}
	}
	return total, nil
}

// checkCollateral refuses to take out of staker's pool stake that its open assignments lock.
func (x *exec) checkCollateral(st *Staker, out *uint256.Int) error {
	locked, err := x.lockedCollateral(st.Address)
	if err != nil || locked.IsZero() {
		return err
	}
	left, underflow := new(uint256.Int).SubOverflow(st.Tokens, out)
	if underflow || left.Lt(locked) {
		return Errorf(CodeCollateralLocked, "staker %s's open assignments lock %s of its %s stake; wait until they are judged to unstake %s",
			st.Address, FormatCIRO(locked), FormatCIRO(st.Tokens), FormatCIRO(out))
	}
	return nil
}

// drawByStake picks up to n of list at random, without replacement, each draw weighted by the
// providers' stake: an operator's chance of a slot is its share of the eligible stake however
// many addresses it splits that stake over. The randomness is SHA-256 of the block's seed, the
// job id and the draw number; list must be in a deterministic order (address order).
func (x *exec) drawByStake(j *Job, list []scored, n int) []scored {
	pool := append([]scored(nil), list...)
	var out []scored
	for draw := 0; draw < n && len(pool) > 0; draw++ {
		total := zero()
		for _, s := range pool {
			total, _ = total.AddOverflow(total, s.b.st.Tokens) // a sum of stakes is within the supply
		}
		pick := 0
		if !total.IsZero() {
			h := sha256.New()
			h.Write([]byte("ciro/draw/v1"))
			h.Write(x.block.Seed)
			h.Write(binary.BigEndian.AppendUint64(nil, j.ID))
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(j.Assignments)+draw)))
			r := new(uint256.Int).SetBytes(h.Sum(nil))
			r.Mod(r, total)
			acc := zero()
			for i, s := range pool {
				acc.Add(acc, s.b.st.Tokens)
				if r.Lt(acc) {
					pick = i
					break
				}
			}
		}
		out = append(out, pool[pick])
		pool = append(pool[:pick], pool[pick+1:]...)
	}
	return out
}

// punishWrong slashes a provider whose result was proven wrong: MaliciousSlashBps of its pool,
// and never less than the slot's collateral.
func (x *exec) punishWrong(j *Job, a *Assignment, reason string) error {
	floor, overflow := x.slotCollateral(a.Price)
	if overflow {
		floor = nil
	}
	return x.punishProvider(a.Provider, x.params.MaliciousSlashBps, floor, x.params.ReputationBadDn, reason, j.ID, a.AssignedAt)
}

func (x *exec) redundantJob(sender Address, id uint64, want AssignmentStatus) (*Job, int, error) {
	j, err := x.st.job(id)
	if err != nil {
		return nil, 0, err
	}
	if j == nil {
		return nil, 0, Errorf(CodeNotFound, "there is no job %d", id)
	}
	if j.Status.Final() {
		return nil, 0, Errorf(CodeJobState, "job %d is already %s; it takes no more results", id, j.Status)
	}
	if j.Spec.Verification != VerifyRedundant {
		return nil, 0, Errorf(CodeNotSupported, "job %d uses %s verification: send its result with SubmitResult", id, j.Spec.Verification)
	}
	slot := assignmentOf(j, sender, want)
	if slot < 0 {
		for _, a := range j.Assignments {
			if a.Provider == sender && a.Status != AssignNoShow {
				return nil, 0, Errorf(CodeDuplicateResult, "provider %s's slot on job %d is %s, not %s", sender, id, a.Status, want)
			}
		}
		return nil, 0, Errorf(CodeNotAssigned, "job %d is not assigned to %s", id, sender)
	}
	return j, slot, nil
}

func (x *exec) commitResult(sender Address, m *CommitResult) error {
	j, slot, err := x.redundantJob(sender, m.JobID, AssignRunning)
	if err != nil {
		return err
	}
	a := &j.Assignments[slot]
	a.Status = AssignCommitted
	a.Seal = append([]byte(nil), m.Seal[:]...)
	if err := x.st.kv.Delete(slotKey(prefixDeadline, a.Deadline, j.ID, slot)); err != nil {
		return err
	}
	if err := x.releaseCapacity(a.Provider); err != nil {
		return err
	}
	x.emit(event("job_committed", "job_id", uintStr(j.ID), "provider", sender.String(), "slot", uintStr(uint64(slot))))
	return x.tallyRedundant(j, false)
}

func (x *exec) revealResult(sender Address, m *RevealResult) error {
	j, slot, err := x.redundantJob(sender, m.JobID, AssignCommitted)
	if err != nil {
		return err
	}
	if j.RevealEnd == 0 {
		return Errorf(CodeTooEarly, "job %d takes reveals once every slot has committed", j.ID)
	}
	a := &j.Assignments[slot]
	seal := SealResult(m.ResultCID, sender, m.Salt)
	if !bytes.Equal(seal[:], a.Seal) {
		// The slash must commit, so the tx succeeds: a reveal that does not open its seal is
		// a wrong result.
		a.Status = AssignRejected
		a.ResultCID = m.ResultCID
		x.emit(event("reveal_mismatch", "job_id", uintStr(j.ID), "provider", sender.String(), "slot", uintStr(uint64(slot))))
		if err := x.punishWrong(j, a, "malicious_result"); err != nil {
			return err
		}
		return x.tallyRedundant(j, false)
	}
	a.Status = AssignSubmitted
	a.ResultCID = m.ResultCID
	a.Commitment = m.Commitment
	x.emit(event("job_result", "job_id", uintStr(j.ID), "provider", sender.String(), "slot", uintStr(uint64(slot)), "result_cid", m.ResultCID))
	return x.tallyRedundant(j, false)
}

// openRevealPhase ends a redundant job's commit phase: slots still running are voided (a slot
// that could still commit after seeing reveals could copy them) and committed slots have
// RevealWindowBlocks to reveal.
func (x *exec) openRevealPhase(j *Job) error {
	if err := x.voidRunning(j); err != nil {
		return err
	}
	j.RevealEnd = uint64(x.block.Height) + x.params.RevealWindowBlocks
	if err := x.st.kv.Set(slotKey(prefixRevealEnd, j.RevealEnd, j.ID, 0), marker); err != nil {
		return err
	}
	if err := x.unqueueJob(j); err != nil {
		return err
	}
	x.emit(event("job_reveal_open", "job_id", uintStr(j.ID), "reveal_end", uintStr(j.RevealEnd)))
	return x.st.setJob(j)
}

// voidRunning voids slots still running: their providers get their capacity back.
func (x *exec) voidRunning(j *Job) error {
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignRunning {
			continue
		}
		a.Status = AssignVoid
		if err := x.st.kv.Delete(slotKey(prefixDeadline, a.Deadline, j.ID, i)); err != nil {
			return err
		}
		if err := x.releaseCapacity(a.Provider); err != nil {
			return err
		}
	}
	return nil
}

// totalPower sums the voting power of the validator set last sent to CometBFT.
func (x *exec) totalPower() (uint64, error) {
	var total uint64
	err := iteratePrefix(x.st.kv, []byte{prefixValset}, func(_, v []byte) bool {
		if len(v) == 8 {
			total += binary.BigEndian.Uint64(v) // at most MaxValidators × MaxValidatorPower < 2^63
		}
		return true
	})
	return total, err
}

// validatorPower is sender's power in the validator set, with its staker; 0 when it is not an
// active validator.
func (x *exec) validatorPower(sender Address) (*Staker, uint64, error) {
	st, err := x.st.staker(sender)
	if err != nil || st == nil || !st.IsValidatorCandidate() || st.Jailed || st.ConsAddress() == nil {
		return st, 0, err
	}
	v, err := x.st.kv.Get(ValidatorSetKey(st.ConsAddress()))
	if err != nil || len(v) != 8 {
		return st, 0, err
	}
	return st, binary.BigEndian.Uint64(v), nil
}

func (x *exec) challenge(sender Address, m *Challenge) error {
	_, power, err := x.validatorPower(sender)
	if err != nil {
		return err
	}
	if power == 0 {
		return Errorf(CodeNotValidator, "account %s is not an active validator; only validators may challenge sampled results", sender)
	}
	j, err := x.st.job(m.JobID)
	if err != nil {
		return err
	}
	if j == nil {
		return Errorf(CodeNotFound, "there is no job %d", m.JobID)
	}
	slot := int(m.Slot)
	if j.Spec.Verification != VerifySampled || slot >= len(j.Assignments) || j.Assignments[slot].Status != AssignSubmitted {
		return Errorf(CodeJobState, "job %d slot %d has no sampled result waiting for challenges", m.JobID, m.Slot)
	}
	if !j.Spec.Reexecutable() {
		return Errorf(CodeNotSupported, "job %d does not run on a bit-exact executor (wasi or ciro-onnx-int): re-execution cannot prove its result wrong", m.JobID)
	}
	if d, err := x.st.dispute(j.ID); err != nil {
		return err
	} else if d != nil {
		return Errorf(CodeDisputeOpen, "job %d is already disputed: send a DisputeVote with your re-execution instead", j.ID)
	}
	a := &j.Assignments[slot]
	if a.ResultCID == m.ResultCID {
		return Errorf(CodeInvalidArgument, "the re-execution matches the provider's result %s", m.ResultCID)
	}
	total, err := x.totalPower()
	if err != nil {
		return err
	}
	if total <= power {
		return Errorf(CodeNotSupported, "no other validator can re-execute job %d to settle a challenge", j.ID)
	}
	bond := clone(x.params.ChallengeBond)
	if a.Price.Gt(bond) {
		bond = clone(a.Price)
	}
	if err := x.debit(sender, bond); err != nil {
		return err
	}
	escrow, overflow := new(uint256.Int).AddOverflow(j.Escrow, bond)
	if overflow {
		return Errorf(CodeInvalidArgument, "the bond is out of range")
	}
	j.Escrow = escrow
	if err := x.st.kv.Delete(slotKey(prefixWindow, a.WindowEnd, j.ID, slot)); err != nil {
		return err
	}
	d := &Dispute{JobID: j.ID, Kind: DisputeChallenge, Slot: m.Slot, Challenger: sender, Bond: bond, Claimed: m.ResultCID,
		Eligible: total - power}
	x.emit(event("job_challenged", "job_id", uintStr(j.ID), "provider", a.Provider.String(), "challenger", sender.String(),
		"claimed", a.ResultCID, "reexecuted", m.ResultCID, "bond", bond.Dec()))
	return x.openDispute(j, d)
}

func (x *exec) openDispute(j *Job, d *Dispute) error {
	d.Ends = uint64(x.block.Height) + x.params.DisputeWindowBlocks
	if d.Bond == nil {
		d.Bond = zero()
	}
	j.Status = JobVerifying
	if err := x.st.kv.Set(disputeKey(j.ID), d.encode()); err != nil {
		return err
	}
	if err := x.st.kv.Set(slotKey(prefixDisputeEnd, d.Ends, j.ID, 0), marker); err != nil {
		return err
	}
	attrs := []string{"job_id", uintStr(j.ID), "kind", d.Kind.String(), "slot", uintStr(uint64(d.Slot)), "ends", uintStr(d.Ends)}
	if d.Kind == DisputeChallenge {
		attrs = append(attrs, "challenger", d.Challenger.String())
	}
	x.emit(event("dispute_opened", attrs...))
	return x.st.setJob(j)
}

func (x *exec) disputeVote(sender Address, m *DisputeVote) error {
	_, power, err := x.validatorPower(sender)
	if err != nil {
		return err
	}
	if power == 0 {
		return Errorf(CodeNotValidator, "account %s is not an active validator; only validators vote on disputes", sender)
	}
	d, err := x.st.dispute(m.JobID)
	if err != nil {
		return err
	}
	if d == nil {
		return Errorf(CodeNotFound, "job %d has no open dispute", m.JobID)
	}
	j, err := x.st.job(m.JobID)
	if err != nil || j == nil {
		return Errorf(CodeInternal, "disputed job %d is missing: %v", m.JobID, err)
	}
	if d.Kind == DisputeChallenge && sender == d.Challenger {
		return Errorf(CodeUnauthorized, "the challenger of job %d cannot vote on its own challenge", j.ID)
	}
	for _, a := range j.Assignments {
		if a.Provider == sender {
			return Errorf(CodeUnauthorized, "%s worked on job %d and cannot judge it", sender, j.ID)
		}
	}
	for _, b := range d.Ballots {
		if b.Validator == sender {
			return Errorf(CodeDuplicateResult, "%s already voted on job %d's dispute", sender, j.ID)
		}
	}
	d.Ballots = append(d.Ballots, DisputeBallot{Validator: sender, Power: power, ResultCID: m.ResultCID})
	x.emit(event("dispute_vote", "job_id", uintStr(j.ID), "validator", sender.String(), "result_cid", m.ResultCID))
	var got uint64
	for _, b := range d.Ballots {
		if b.ResultCID == m.ResultCID {
			got += b.Power
		}
	}
	// Two thirds of the eligible power, in integers: 3 × got ≥ 2 × eligible. Both sides stay
	// below 2^63 × 3 / 8 (CometBFT's total power limit), so neither product wraps.
	if 3*got >= 2*d.Eligible {
		return x.resolveDispute(j, d, m.ResultCID, true)
	}
	return x.st.kv.Set(disputeKey(j.ID), d.encode())
}

// resolveDispute settles a dispute on the quorum's CID q, or, without quorum (the window ended
// first), in the provider's favour: nothing was proven.
func (x *exec) resolveDispute(j *Job, d *Dispute, q string, quorum bool) error {
	if err := x.st.kv.Delete(disputeKey(j.ID)); err != nil {
		return err
	}
	if err := x.st.kv.Delete(slotKey(prefixDisputeEnd, d.Ends, j.ID, 0)); err != nil {
		return err
	}
	outcome := func(o string) {
		x.emit(event("dispute_resolved", "job_id", uintStr(j.ID), "kind", d.Kind.String(), "outcome", o, "result_cid", q))
	}
	if d.Kind == DisputeChallenge {
		a := &j.Assignments[d.Slot]
		left, underflow := new(uint256.Int).SubOverflow(j.Escrow, d.Bond)
		if underflow {
			return Errorf(CodeInternal, "job %d's escrow does not hold the challenge bond", j.ID)
		}
		j.Escrow = left
		if quorum && q != a.ResultCID {
			if err := x.credit(d.Challenger, d.Bond); err != nil {
				return err
			}
			a.Status = AssignRejected
			outcome("result_overturned")
			if err := x.punishWrong(j, a, "malicious_result"); err != nil {
				return err
			}
			return x.retryOrFail(j, "the validators' re-execution contradicted the result")
		}
		if quorum {
			// The challenge failed: its bond is lost, like a slash.
			if err := x.splitBurnTreasury(d.Bond, x.params.SlashBurnBps); err != nil {
				return err
			}
			outcome("result_upheld")
		} else {
			if err := x.credit(d.Challenger, d.Bond); err != nil {
				return err
			}
			outcome("no_quorum")
		}
		a.Status = AssignAccepted
		return x.finishWithResult(j, a.ResultCID)
	}
	accepted := 0
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignSubmitted {
			continue
		}
		switch {
		case !quorum:
			a.Status = AssignVoid
		case a.ResultCID == q:
			a.Status = AssignAccepted
			accepted++
		default:
			a.Status = AssignRejected
			if err := x.punishWrong(j, a, "malicious_result"); err != nil {
				return err
			}
		}
	}
	switch {
	case !quorum:
		outcome("no_quorum")
		return x.closeJob(j, JobFailed, "the validators reached no quorum on the providers' disagreeing results")
	case accepted == 0:
		outcome("all_wrong")
		return x.closeJob(j, JobFailed, "no provider's result matched the validators' re-execution")
	}
	outcome("split_settled")
	return x.finishWithResult(j, q)
}

func (x *exec) reportUnavailable(sender Address, m *ReportUnavailable) error {
	j, err := x.st.job(m.JobID)
	if err != nil {
		return err
	}
	if j == nil {
		return Errorf(CodeNotFound, "there is no job %d", m.JobID)
	}
	if j.Status.Final() {
		return Errorf(CodeJobState, "job %d is already %s", m.JobID, j.Status)
	}
	slot := assignmentOf(j, sender, AssignRunning)
	if slot < 0 {
		return Errorf(CodeNotAssigned, "job %d has no running slot of %s", m.JobID, sender)
	}
	if m.Missing != j.Spec.ModelCID && m.Missing != j.Spec.InputCID {
		return Errorf(CodeInvalidArgument, "%s is neither job %d's model nor its input", m.Missing, j.ID)
	}
	a := &j.Assignments[slot]
	a.Status = AssignUnavailable
	if err := x.st.kv.Delete(slotKey(prefixDeadline, a.Deadline, j.ID, slot)); err != nil {
		return err
	}
	if err := x.releaseCapacity(a.Provider); err != nil {
		return err
	}
	x.emit(event("job_input_unavailable", "job_id", uintStr(j.ID), "provider", sender.String(), "slot", uintStr(uint64(slot)), "missing", m.Missing))
	reports, fetched := 0, false
	for _, s := range j.Assignments {
		switch s.Status {
		case AssignUnavailable:
			reports++
		case AssignCommitted, AssignSubmitted, AssignAccepted, AssignRejected:
			fetched = true
		}
	}
	if reports >= 2 && !fetched {
		return x.closeJob(j, JobFailed, "two providers could not fetch the job's inputs ("+m.Missing+")")
	}
	return x.slotLost(j, "a provider could not fetch the job's inputs")
}

// settleUnavailable judges a settling job's reports of unavailable inputs. If any provider
// fetched the inputs (it answered), the reports were false and are slashed as no-shows;
// otherwise each reporter is paid UnavailableFeeBps of its price out of the escrow, the
// client's cost of naming inputs nobody could fetch.
func (x *exec) settleUnavailable(j *Job) error {
	fetched := false
	for _, a := range j.Assignments {
		switch a.Status {
		case AssignCommitted, AssignSubmitted, AssignAccepted, AssignRejected:
			fetched = true
		}
	}
	for i := range j.Assignments {
		a := &j.Assignments[i]
		if a.Status != AssignUnavailable {
			continue
		}
		if fetched {
			a.Status = AssignNoShow
			if err := x.punishProvider(a.Provider, x.params.NoShowSlashBps, nil, x.params.ReputationNoShowDn, "false_unavailable", j.ID, a.AssignedAt); err != nil {
				return err
			}
			continue
		}
		fee := bps(a.Price, x.params.UnavailableFeeBps)
		if fee.Gt(j.Escrow) {
			fee = clone(j.Escrow)
		}
		p, err := x.st.provider(a.Provider)
		if err != nil {
			return err
		}
		if p == nil || fee.IsZero() {
			continue
		}
		if err := addTo(p.Earnings, fee); err != nil {
			return err
		}
		if err := x.st.setProvider(p); err != nil {
			return err
		}
		if err := subFrom(j.Escrow, fee); err != nil {
			return err
		}
		if err := addTo(j.Paid, fee); err != nil {
			return err
		}
		x.emit(event("provider_paid", "job_id", uintStr(j.ID), "provider", a.Provider.String(), "amount", fee.Dec(), "platform_fee", "0", "for", "unavailable_inputs"))
	}
	return nil
}

// processVerification ends reveal phases and disputes whose windows closed at or before h.
func (x *exec) processVerification(h uint64) error {
	reveals, err := x.dueSlots(prefixRevealEnd, h)
	if err != nil {
		return err
	}
	for _, r := range reveals {
		if err := x.st.kv.Delete(r.key); err != nil {
			return err
		}
		j, err := x.st.job(r.id)
		if err != nil {
			return err
		}
		if j == nil || j.Status.Final() || j.Status == JobVerifying {
			continue
		}
		if err := x.tallyRedundant(j, true); err != nil {
			return err
		}
	}
	disputes, err := x.dueSlots(prefixDisputeEnd, h)
	if err != nil {
		return err
	}
	for _, r := range disputes {
		if err := x.st.kv.Delete(r.key); err != nil {
			return err
		}
		d, err := x.st.dispute(r.id)
		if err != nil {
			return err
		}
		j, err := x.st.job(r.id)
		if err != nil {
			return err
		}
		if d == nil || j == nil || j.Status.Final() {
			continue
		}
		if err := x.resolveDispute(j, d, "", false); err != nil {
			return err
		}
	}
	return nil
}
