package contracts

import "github.com/holiman/uint256"

// Transaction types of the job market. Numbers are part of the wire format.
const (
	TxSubmitJob        TxType = 16
	TxCancelJob        TxType = 17
	TxRegisterProvider TxType = 18
	TxSubmitResult     TxType = 19
	TxChallenge        TxType = 20
	TxWithdraw         TxType = 21
)

func init() {
	for t, n := range map[TxType]string{
		TxSubmitJob: "submit_job", TxCancelJob: "cancel_job", TxRegisterProvider: "register_provider",
		TxSubmitResult: "submit_result", TxChallenge: "challenge", TxWithdraw: "withdraw",
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

// Challenge is a validator's evidence against a sampled result: it re-ran the job with the same
// executor and got ResultCID instead.
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
