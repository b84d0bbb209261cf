package contracts

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/holiman/uint256"
)

// Transaction types of the job market. Numbers are part of the wire format.
const (
	TxSubmitJob        TxType = 16
	TxCancelJob        TxType = 17
	TxRegisterProvider TxType = 18
	TxSubmitResult     TxType = 19
	TxChallenge        TxType = 20
	TxWithdraw         TxType = 21
	// Verification and availability (commit-reveal, disputes settled by validators' votes,
	// inputs a provider cannot fetch).
	TxCommitResult      TxType = 32
	TxRevealResult      TxType = 33
	TxDisputeVote       TxType = 34
	TxReportUnavailable TxType = 35
)

func init() {
	for t, n := range map[TxType]string{
		TxSubmitJob: "submit_job", TxCancelJob: "cancel_job", TxRegisterProvider: "register_provider",
		TxSubmitResult: "submit_result", TxChallenge: "challenge", TxWithdraw: "withdraw",
		TxCommitResult: "commit_result", TxRevealResult: "reveal_result", TxDisputeVote: "dispute_vote",
		TxReportUnavailable: "report_unavailable",
	} {
		txTypeNames[t] = n
	}
}

// SubmitJob orders a job and locks its escrow.
type SubmitJob struct{ Spec JobSpec }

func (*SubmitJob) Type() TxType           { return TxSubmitJob }
func (m *SubmitJob) ValidateBasic() error { return m.Spec.Validate() }
func (m *SubmitJob) encode(e *encoder)    { m.Spec.encode(e) }
func (m *SubmitJob) decode(d *decoder)    { m.Spec.decode(d) }

// CancelJob withdraws a job no provider has taken yet, for a full refund.
type CancelJob struct{ JobID uint64 }

func (*CancelJob) Type() TxType         { return TxCancelJob }
func (*CancelJob) ValidateBasic() error { return nil }
func (m *CancelJob) encode(e *encoder)  { e.u64(m.JobID) }
func (m *CancelJob) decode(d *decoder)  { m.JobID = d.u64() }

// RegisterProvider declares, or updates, a provider's hardware, frameworks, capacity and
// standing asks. The sender must have staked with the provider role.
type RegisterProvider struct {
	Caps       uint8
	GPUModel   string
	GPUCount   uint32
	VRAMMiB    uint32
	Frameworks []string
	Region     string
	Capacity   uint32
	Asks       []Ask
}

func (*RegisterProvider) Type() TxType { return TxRegisterProvider }
func (m *RegisterProvider) ValidateBasic() error {
	if m.Capacity == 0 || m.Capacity > 1000 {
		return Errorf(CodeInvalidArgument, "capacity must be between 1 and 1000 concurrent jobs, got %d", m.Capacity)
	}
	if len(m.Asks) == 0 {
		return Errorf(CodeInvalidArgument, "a provider needs at least one ask (a price for a job type)")
	}
	seen := map[JobType]bool{}
	for _, a := range m.Asks {
		if a.Type >= NumJobTypes {
			return Errorf(CodeUnknownJobType, "ask for job type %d, which is not one of the 13 known types", a.Type)
		}
		if seen[a.Type] {
			return Errorf(CodeInvalidArgument, "two asks for %s", a.Type)
		}
		seen[a.Type] = true
		if a.Price == nil || a.Price.IsZero() {
			return Errorf(CodeInvalidArgument, "the ask for %s needs a positive price", a.Type)
		}
	}
	for _, f := range m.Frameworks {
		if f == "" {
			return Errorf(CodeInvalidArgument, "a framework name is empty")
		}
	}
	return nil
}
func (m *RegisterProvider) offer() *Provider {
	return &Provider{Caps: m.Caps, GPUModel: m.GPUModel, GPUCount: m.GPUCount, VRAMMiB: m.VRAMMiB,
		Frameworks: m.Frameworks, Region: m.Region, Capacity: m.Capacity, Asks: m.Asks}
}
func (m *RegisterProvider) encode(e *encoder) { m.offer().encodeOffer(e) }
func (m *RegisterProvider) decode(d *decoder) {
	p := &Provider{}
	p.decodeOffer(d)
	*m = RegisterProvider{Caps: p.Caps, GPUModel: p.GPUModel, GPUCount: p.GPUCount, VRAMMiB: p.VRAMMiB,
		Frameworks: p.Frameworks, Region: p.Region, Capacity: p.Capacity, Asks: p.Asks}
}

// SubmitResult delivers an assigned provider's result: the CID of its result directory and,
// optionally, a commitment (e.g. a hash the verification method uses).
type SubmitResult struct {
	JobID      uint64
	ResultCID  string
	Commitment []byte
}

func (*SubmitResult) Type() TxType { return TxSubmitResult }
func (m *SubmitResult) ValidateBasic() error {
	if m.ResultCID == "" {
		return Errorf(CodeInvalidArgument, "a result needs a CID")
	}
	return nil
}
func (m *SubmitResult) encode(e *encoder) {
	e.u64(m.JobID)
	e.str(m.ResultCID)
	e.bytes(m.Commitment)
}
func (m *SubmitResult) decode(d *decoder) {
	m.JobID = d.u64()
	m.ResultCID = d.str(maxCIDLen)
	m.Commitment = d.bytes(maxCommitmentLen)
}

// Challenge is a validator's claim against a sampled result: it re-ran the job with the same
// executor and got ResultCID instead. It locks a bond (ChallengeBond, at least the slot's
// price) and opens a dispute that the other validators settle by re-execution (DisputeVote);
// the bond is lost if their quorum confirms the provider's result.
type Challenge struct {
	JobID     uint64
	Slot      uint8
	ResultCID string
}

func (*Challenge) Type() TxType { return TxChallenge }
func (m *Challenge) ValidateBasic() error {
	if m.ResultCID == "" {
		return Errorf(CodeInvalidArgument, "a challenge needs the re-execution's result CID")
	}
	return nil
}
func (m *Challenge) encode(e *encoder) {
	e.u64(m.JobID)
	e.u8(m.Slot)
	e.str(m.ResultCID)
}
func (m *Challenge) decode(d *decoder) {
	m.JobID = d.u64()
	m.Slot = d.u8()
	m.ResultCID = d.str(maxCIDLen)
}

// Withdraw moves a provider's earnings to its balance; a zero amount withdraws everything.
type Withdraw struct{ Amount *uint256.Int }

func (*Withdraw) Type() TxType         { return TxWithdraw }
func (*Withdraw) ValidateBasic() error { return nil }
func (m *Withdraw) encode(e *encoder)  { e.amount(m.Amount) }
func (m *Withdraw) decode(d *decoder)  { m.Amount = d.amount() }

// SealResult is the commitment a redundant slot posts before any result is public:
//
//	SHA-256("ciro/seal/v1" ‖ len(result CID) ‖ result CID ‖ provider ‖ salt)
//
// The provider's address in the preimage stops a provider from re-posting another slot's seal,
// and the salt stops anyone from testing guesses of the CID against it.
func SealResult(resultCID string, provider Address, salt [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("ciro/seal/v1"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(resultCID))))
	h.Write([]byte(resultCID))
	h.Write(provider[:])
	h.Write(salt[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// CommitResult is a redundant slot's sealed answer: Seal is SealResult(result CID, provider,
// salt). The result itself follows in RevealResult once every slot has committed.
type CommitResult struct {
	JobID uint64
	Seal  [32]byte
}

func (*CommitResult) Type() TxType { return TxCommitResult }
func (m *CommitResult) ValidateBasic() error {
	if m.Seal == ([32]byte{}) {
		return Errorf(CodeInvalidArgument, "a commitment needs a seal")
	}
	return nil
}
func (m *CommitResult) encode(e *encoder) {
	e.u64(m.JobID)
	e.fixed(m.Seal[:])
}
func (m *CommitResult) decode(d *decoder) {
	m.JobID = d.u64()
	copy(m.Seal[:], d.fixed(sealLen))
}

// RevealResult opens a redundant slot's seal: the result CID and the salt it was sealed with,
// and optionally the same opaque commitment SubmitResult carries.
type RevealResult struct {
	JobID      uint64
	ResultCID  string
	Salt       [32]byte
	Commitment []byte
}

func (*RevealResult) Type() TxType { return TxRevealResult }
func (m *RevealResult) ValidateBasic() error {
	if m.ResultCID == "" {
		return Errorf(CodeInvalidArgument, "a reveal needs the result CID")
	}
	return nil
}
func (m *RevealResult) encode(e *encoder) {
	e.u64(m.JobID)
	e.str(m.ResultCID)
	e.fixed(m.Salt[:])
	e.bytes(m.Commitment)
}
func (m *RevealResult) decode(d *decoder) {
	m.JobID = d.u64()
	m.ResultCID = d.str(maxCIDLen)
	copy(m.Salt[:], d.fixed(sealLen))
	m.Commitment = d.bytes(maxCommitmentLen)
}

// DisputeVote is a validator's re-execution of a disputed job: the result CID it got.
type DisputeVote struct {
	JobID     uint64
	ResultCID string
}

func (*DisputeVote) Type() TxType { return TxDisputeVote }
func (m *DisputeVote) ValidateBasic() error {
	if m.ResultCID == "" {
		return Errorf(CodeInvalidArgument, "a dispute vote needs the re-execution's result CID")
	}
	return nil
}
func (m *DisputeVote) encode(e *encoder) {
	e.u64(m.JobID)
	e.str(m.ResultCID)
}
func (m *DisputeVote) decode(d *decoder) {
	m.JobID = d.u64()
	m.ResultCID = d.str(maxCIDLen)
}

// ReportUnavailable is an assigned provider's statement that it cannot fetch the job's inputs;
// Missing names the CID it could not get.
type ReportUnavailable struct {
	JobID   uint64
	Missing string
}

func (*ReportUnavailable) Type() TxType { return TxReportUnavailable }
func (m *ReportUnavailable) ValidateBasic() error {
	if m.Missing == "" {
		return Errorf(CodeInvalidArgument, "a report of unavailable inputs needs the CID that could not be fetched")
	}
	return nil
}
func (m *ReportUnavailable) encode(e *encoder) {
	e.u64(m.JobID)
	e.str(m.Missing)
}
func (m *ReportUnavailable) decode(d *decoder) {
	m.JobID = d.u64()
	m.Missing = d.str(maxCIDLen)
}
