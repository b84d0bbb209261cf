package contracts

import (
	"fmt"

	"github.com/holiman/uint256"
)

// JobType is one of the 13 kinds of work docs/protocol.md names. The numbers are part of the wire format.
type JobType uint8

// The job types.
const (
	JobAIInference JobType = iota
	JobAITraining
	JobComputerVision
	JobNLP
	JobAudioProcessing
	JobTimeSeriesAnalysis
	JobMultimodalAI
	JobReinforcementLearning
	JobSpecializedAI
	JobProofGeneration
	JobProofVerification
	JobDataProcessing
	JobCustom
	NumJobTypes = 13
)

var jobTypeNames = [NumJobTypes]string{
	"AIInference", "AITraining", "ComputerVision", "NLP", "AudioProcessing", "TimeSeriesAnalysis",
	"MultimodalAI", "ReinforcementLearning", "SpecializedAI", "ProofGeneration", "ProofVerification",
	"DataProcessing", "Custom",
}

func (t JobType) String() string {
	if t < NumJobTypes {
		return jobTypeNames[t]
	}
	return fmt.Sprintf("JobType(%d)", uint8(t))
}

// ParseJobType reads a job type by name, as docs/protocol.md writes it.
func ParseJobType(s string) (JobType, error) {
	for i, n := range jobTypeNames {
		if n == s {
			return JobType(i), nil
		}
	}
	return 0, Errorf(CodeUnknownJobType, "job type %q is not one of the 13 known types", s)
}

// Capability flags, one bit each, in docs/protocol.md's order.
const (
	CapCUDA uint8 = 1 << iota
	CapOpenCL
	CapFP16
	CapINT8
	CapNVLink
	CapInfiniBand
	CapTensorCores
	CapMultiGPU
)

// Verification is how a job's result is checked.
type Verification uint8

// The verification methods.
const (
	VerifyNone Verification = iota
	VerifyRedundant
	VerifySampled
	VerifyZK
)

var verificationNames = []string{"none", "redundant", "sampled", "zk"}

func (v Verification) String() string {
	if int(v) < len(verificationNames) {
		return verificationNames[v]
	}
	return fmt.Sprintf("Verification(%d)", uint8(v))
}

// Priority orders allocation: higher levels are assigned first.
type Priority uint8

// The priority levels.
const (
	PriorityStandard Priority = iota
	PriorityHigh
	PriorityCritical
	PriorityEmergency
	numPriorities
)

var priorityNames = []string{"standard", "high", "critical", "emergency"}

func (p Priority) String() string {
	if p < numPriorities {
		return priorityNames[p]
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// minTierFor is the least staking tier a provider needs to take a job of a priority: urgent
// work goes to providers with more at stake.
var minTierFor = [numPriorities]Tier{TierBasic, TierBasic, TierPremium, TierEnterprise}

// demandOf is d in the fee formula (docs/protocol.md), the priority demand multiplier (0 to 10).
var demandOf = [numPriorities]uint64{0, 1, 3, 10}

// JobStatus is where a job is in its lifecycle.
type JobStatus uint8

// The job states. Pending → Assigned → (Verifying) → Completed | Failed; Pending → Cancelled;
// Pending → Expired when no provider could take it by its deadline.
const (
	JobPending JobStatus = iota
	JobAssigned
	JobVerifying
	JobCompleted
	JobFailed
	JobCancelled
	JobExpired
)

var jobStatusNames = []string{"pending", "assigned", "verifying", "completed", "failed", "cancelled", "expired"}

func (s JobStatus) String() string {
	if int(s) < len(jobStatusNames) {
		return jobStatusNames[s]
	}
	return fmt.Sprintf("JobStatus(%d)", uint8(s))
}

// Final reports whether the job is settled one way or another.
func (s JobStatus) Final() bool { return s >= JobCompleted }

// MarshalText renders the status by name, for JSON.
func (s JobStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status by name.
func (s *JobStatus) UnmarshalText(b []byte) error {
	for i, n := range jobStatusNames {
		if n == string(b) {
			*s = JobStatus(i)
			return nil
		}
	}
	return Errorf(CodeInvalidArgument, "%q is not a job status", b)
}

// Limits on a job spec's fields.
const (
	maxCIDLen        = 128
	maxFrameworks    = 8
	maxFrameworkLen  = 32
	maxJobParamsLen  = 1024
	maxRegionLen     = 32
	maxGPUModelLen   = 64
	maxRedundancy    = 7
	maxAsks          = NumJobTypes
	maxReasonLen     = 256
	maxCommitmentLen = 64
	sealLen          = 32
)

// Requirements is what a provider must have to take a job.
type Requirements struct {
	Caps       uint8    `json:"caps"`
	MinVRAMMiB uint32   `json:"min_vram_mib"`
	GPUCount   uint32   `json:"gpu_count"`
	Frameworks []string `json:"frameworks"`
}

// JobSpec is what a client asks for.
type JobSpec struct {
	Type         JobType      `json:"type"`
	ModelCID     string       `json:"model_cid"`
	InputCID     string       `json:"input_cid"`
	Params       string       `json:"params,omitempty"` // executor arguments, opaque to the chain
	Requirements Requirements `json:"requirements"`
	// MaxPrice is the most the client pays each provider.
	MaxPrice *uint256.Int `json:"max_price"`
	// Deadline is the last height at which a result is accepted.
	Deadline     uint64       `json:"deadline"`
	Verification Verification `json:"verification"`
	// Redundancy is k for redundant verification; 1 otherwise.
	Redundancy uint8    `json:"redundancy"`
	Priority   Priority `json:"priority"`
}

func (s *JobSpec) encode(e *encoder) {
	e.u8(uint8(s.Type))
	e.str(s.ModelCID)
	e.str(s.InputCID)
	e.str(s.Params)
	e.u8(s.Requirements.Caps)
	e.u64(uint64(s.Requirements.MinVRAMMiB))
	e.u64(uint64(s.Requirements.GPUCount))
	e.u64(uint64(len(s.Requirements.Frameworks)))
	for _, f := range s.Requirements.Frameworks {
		e.str(f)
	}
	e.amount(s.MaxPrice)
	e.u64(s.Deadline)
	e.u8(uint8(s.Verification))
	e.u8(s.Redundancy)
	e.u8(uint8(s.Priority))
}

func (s *JobSpec) decode(d *decoder) {
	s.Type = JobType(d.u8())
	s.ModelCID = d.str(maxCIDLen)
	s.InputCID = d.str(maxCIDLen)
	s.Params = d.str(maxJobParamsLen)
	s.Requirements.Caps = d.u8()
	s.Requirements.MinVRAMMiB = d.u32()
	s.Requirements.GPUCount = d.u32()
	n := d.u64()
	if n > maxFrameworks {
		d.fail("too many frameworks")
		return
	}
	s.Requirements.Frameworks = nil
	for i := uint64(0); i < n; i++ {
		s.Requirements.Frameworks = append(s.Requirements.Frameworks, d.str(maxFrameworkLen))
	}
	s.MaxPrice = d.amount()
	s.Deadline = d.u64()
	s.Verification = Verification(d.u8())
	s.Redundancy = d.u8()
	s.Priority = Priority(d.u8())
}

// Validate checks a spec without state: the codes say which field is wrong.
func (s *JobSpec) Validate() error {
	switch {
	case s.Type >= NumJobTypes:
		return Errorf(CodeUnknownJobType, "job type %d is not one of the 13 known types", s.Type)
	case s.ModelCID == "" && s.InputCID == "":
		return Errorf(CodeInvalidArgument, "a job needs a model CID or an input CID")
	case s.MaxPrice == nil || s.MaxPrice.IsZero():
		return Errorf(CodeInvalidArgument, "a job needs a positive maximum price")
	case s.Priority >= numPriorities:
		return Errorf(CodeInvalidArgument, "priority %d is not standard, high, critical or emergency", s.Priority)
	case s.Verification > VerifyZK:
		return Errorf(CodeInvalidArgument, "verification method %d is not known", s.Verification)
	case s.Verification == VerifyZK:
		return Errorf(CodeNotSupported, "zk verification is not supported yet: use none, redundant or sampled")
	case s.Verification == VerifyRedundant && (s.Redundancy < 2 || s.Redundancy > maxRedundancy):
		return Errorf(CodeInvalidArgument, "redundant verification needs k between 2 and %d, got %d", maxRedundancy, s.Redundancy)
	case s.Verification != VerifyRedundant && s.Redundancy != 1:
		return Errorf(CodeInvalidArgument, "only redundant verification runs a job more than once; set redundancy to 1")
	}
	for _, f := range s.Requirements.Frameworks {
		if f == "" {
			return Errorf(CodeInvalidArgument, "a framework name is empty")
		}
	}
	return nil
}

// Bit-exact runtimes: a job that names one of them runs on an executor whose output is the
// same on every machine (the provider agent's planner picks these frameworks first), so a
// validator's re-execution can prove a result wrong. Any other job (Docker, GPU floating
// point) cannot be judged by re-execution: it cannot be challenged, and a redundant split on
// it is voided without a slash.
const (
	frameworkWASI        = "wasi"
	frameworkCiroONNXInt = "ciro-onnx-int"
)

// Reexecutable reports whether the job runs on a bit-exact executor, so that validators'
// re-execution can settle a dispute about its result.
func (s *JobSpec) Reexecutable() bool {
	for _, f := range s.Requirements.Frameworks {
		if f == frameworkWASI || f == frameworkCiroONNXInt {
			return true
		}
	}
	return false
}

// Ask is a provider's standing price for one job type.
type Ask struct {
	Type  JobType      `json:"type"`
	Price *uint256.Int `json:"price"`
}

// AssignmentStatus is where one provider's part of a job is.
type AssignmentStatus uint8

// The assignment states.
const (
	AssignRunning   AssignmentStatus = iota // assigned, no result yet
	AssignSubmitted                         // result in, not yet judged
	AssignAccepted                          // result accepted: paid
	AssignRejected                          // result lost the vote or was challenged: slashed, unpaid
	AssignNoShow                            // deadline passed with no result: slashed, unpaid
	AssignVoid                              // judged neither way (no majority): unpaid, not slashed
	// AssignCommitted is a redundant slot that sealed its result (CommitResult) and has not
	// revealed it yet.
	AssignCommitted
	// AssignUnavailable is a slot whose provider reported that it could not fetch the job's
	// inputs (ReportUnavailable). It is judged when the job settles: paid the attempt fee when
	// no provider could fetch them, slashed like a no-show when another provider did.
	AssignUnavailable
)

var assignmentNames = []string{"running", "submitted", "accepted", "rejected", "no_show", "void", "committed", "unavailable"}

func (s AssignmentStatus) String() string {
	if int(s) < len(assignmentNames) {
		return assignmentNames[s]
	}
	return fmt.Sprintf("AssignmentStatus(%d)", uint8(s))
}

// MarshalText renders the status by name, for JSON.
func (s AssignmentStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status by name.
func (s *AssignmentStatus) UnmarshalText(b []byte) error {
	for i, n := range assignmentNames {
		if n == string(b) {
			*s = AssignmentStatus(i)
			return nil
		}
	}
	return Errorf(CodeInvalidArgument, "%q is not an assignment status", b)
}

// Assignment is one provider's part of a job.
type Assignment struct {
	Provider   Address          `json:"provider"`
	Price      *uint256.Int     `json:"price"`
	AssignedAt uint64           `json:"assigned_at"`
	Deadline   uint64           `json:"deadline"`
	Status     AssignmentStatus `json:"status"`
	ResultCID  string           `json:"result_cid,omitempty"`
	Commitment []byte           `json:"commitment,omitempty"`
	// WindowEnd is the last height of a sampled result's challenge window.
	WindowEnd uint64 `json:"window_end,omitempty"`
	// Seal is a redundant slot's commitment, SealResult(result CID, provider, salt).
	Seal []byte `json:"seal,omitempty"`
}

// Job is a client's order and everything that happened to it.
type Job struct {
	ID          uint64       `json:"id"`
	Client      Address      `json:"client"`
	Spec        JobSpec      `json:"spec"`
	Status      JobStatus    `json:"status"`
	SubmittedAt uint64       `json:"submitted_at"`
	Escrow      *uint256.Int `json:"escrow"` // still locked
	Fee         *uint256.Int `json:"fee"`    // network fee, part of Escrow until settled
	Reauctions  uint8        `json:"reauctions"`
	Assignments []Assignment `json:"assignments"`
	ResultCID   string       `json:"result_cid,omitempty"`
	Paid        *uint256.Int `json:"paid"`     // to providers, before the platform fee
	Refunded    *uint256.Int `json:"refunded"` // to the client
	SettledAt   uint64       `json:"settled_at,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	// RevealEnd, for a redundant job, is 0 while its slots commit, then the last height at
	// which a committed slot may reveal its result.
	RevealEnd uint64 `json:"reveal_end,omitempty"`
}

func (j *Job) encode() []byte {
	e := &encoder{}
	e.u64(j.ID)
	e.fixed(j.Client[:])
	j.Spec.encode(e)
	e.u8(uint8(j.Status))
	e.u64(j.SubmittedAt)
	e.amount(j.Escrow)
	e.amount(j.Fee)
	e.u8(j.Reauctions)
	e.u64(uint64(len(j.Assignments)))
	for _, a := range j.Assignments {
		e.fixed(a.Provider[:])
		e.amount(a.Price)
		e.u64(a.AssignedAt)
		e.u64(a.Deadline)
		e.u8(uint8(a.Status))
		e.str(a.ResultCID)
		e.bytes(a.Commitment)
		e.u64(a.WindowEnd)
		e.bytes(a.Seal)
	}
	e.str(j.ResultCID)
	e.amount(j.Paid)
	e.amount(j.Refunded)
	e.u64(j.SettledAt)
	e.str(j.Reason)
	e.u64(j.RevealEnd)
	return e.buf
}

// DecodeJob parses a job record.
func DecodeJob(b []byte) (*Job, error) {
	d := newDecoder(b)
	j := &Job{ID: d.u64()}
	copy(j.Client[:], d.fixed(AddressLen))
	j.Spec.decode(d)
	j.Status = JobStatus(d.u8())
	j.SubmittedAt = d.u64()
	j.Escrow = d.amount()
	j.Fee = d.amount()
	j.Reauctions = d.u8()
	n := d.u64()
	if n > 2*maxRedundancy+2 {
		d.fail("too many assignments")
		return nil, d.finish()
	}
	for i := uint64(0); i < n; i++ {
		var a Assignment
		copy(a.Provider[:], d.fixed(AddressLen))
		a.Price = d.amount()
		a.AssignedAt = d.u64()
		a.Deadline = d.u64()
		a.Status = AssignmentStatus(d.u8())
		a.ResultCID = d.str(maxCIDLen)
		a.Commitment = d.bytes(maxCommitmentLen)
		a.WindowEnd = d.u64()
		a.Seal = d.bytes(sealLen)
		j.Assignments = append(j.Assignments, a)
	}
	j.ResultCID = d.str(maxCIDLen)
	j.Paid = d.amount()
	j.Refunded = d.amount()
	j.SettledAt = d.u64()
	j.Reason = d.str(maxReasonLen)
	j.RevealEnd = d.u64()
	return j, d.finish()
}

// Provider is a staker's offer of compute: what it has, what it charges, how much it can take.
type Provider struct {
	Address    Address  `json:"address"`
	Caps       uint8    `json:"caps"`
	GPUModel   string   `json:"gpu_model"`
	GPUCount   uint32   `json:"gpu_count"`
	VRAMMiB    uint32   `json:"vram_mib"` // per GPU
	Frameworks []string `json:"frameworks"`
	Region     string   `json:"region"`
	// Capacity is how many assignments the provider runs at once.
	Capacity uint32 `json:"capacity"`
	Asks     []Ask  `json:"asks"`
	// Active counts running assignments.
	Active uint32 `json:"active"`
	// Earnings accrue here from settled jobs until withdrawn.
	Earnings  *uint256.Int `json:"earnings"`
	Completed uint64       `json:"completed"`
	Failed    uint64       `json:"failed"`
}

func (p *Provider) encode() []byte {
	e := &encoder{}
	e.fixed(p.Address[:])
	p.encodeOffer(e)
	e.u64(uint64(p.Active))
	e.amount(p.Earnings)
	e.u64(p.Completed)
	e.u64(p.Failed)
	return e.buf
}

// encodeOffer writes what a provider declares, the part a RegisterProvider tx carries.
func (p *Provider) encodeOffer(e *encoder) {
	e.u8(p.Caps)
	e.str(p.GPUModel)
	e.u64(uint64(p.GPUCount))
	e.u64(uint64(p.VRAMMiB))
	e.u64(uint64(len(p.Frameworks)))
	for _, f := range p.Frameworks {
		e.str(f)
	}
	e.str(p.Region)
	e.u64(uint64(p.Capacity))
	e.u64(uint64(len(p.Asks)))
	for _, a := range p.Asks {
		e.u8(uint8(a.Type))
		e.amount(a.Price)
	}
}

func (p *Provider) decodeOffer(d *decoder) {
	p.Caps = d.u8()
	p.GPUModel = d.str(maxGPUModelLen)
	p.GPUCount = d.u32()
	p.VRAMMiB = d.u32()
	n := d.u64()
	if n > maxFrameworks {
		d.fail("too many frameworks")
		return
	}
	p.Frameworks = nil
	for i := uint64(0); i < n; i++ {
		p.Frameworks = append(p.Frameworks, d.str(maxFrameworkLen))
	}
	p.Region = d.str(maxRegionLen)
	p.Capacity = d.u32()
	n = d.u64()
	if n > maxAsks {
		d.fail("too many asks")
		return
	}
	p.Asks = nil
	for i := uint64(0); i < n; i++ {
		p.Asks = append(p.Asks, Ask{Type: JobType(d.u8()), Price: d.amount()})
	}
}

// DecodeProvider parses a provider record.
func DecodeProvider(b []byte) (*Provider, error) {
	d := newDecoder(b)
	p := &Provider{}
	copy(p.Address[:], d.fixed(AddressLen))
	p.decodeOffer(d)
	p.Active = d.u32()
	p.Earnings = d.amount()
	p.Completed = d.u64()
	p.Failed = d.u64()
	return p, d.finish()
}

// askFor is the provider's price for a job type, or nil.
func (p *Provider) askFor(t JobType) *uint256.Int {
	for _, a := range p.Asks {
		if a.Type == t {
			return a.Price
		}
	}
	return nil
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// Meets reports whether the provider's hardware and frameworks satisfy r, and if not why.
func (p *Provider) Meets(r Requirements) (bool, string) {
	switch {
	case p.Caps&r.Caps != r.Caps:
		return false, fmt.Sprintf("missing capability flags %08b", r.Caps&^p.Caps)
	case p.VRAMMiB < r.MinVRAMMiB:
		return false, fmt.Sprintf("%d MiB VRAM per GPU, job needs %d", p.VRAMMiB, r.MinVRAMMiB)
	case p.GPUCount < r.GPUCount:
		return false, fmt.Sprintf("%d GPUs, job needs %d", p.GPUCount, r.GPUCount)
	case !hasAll(p.Frameworks, r.Frameworks):
		return false, fmt.Sprintf("frameworks %v do not cover %v", p.Frameworks, r.Frameworks)
	}
	return true, ""
}
