package compute

import (
	"fmt"
	"slices"
	"strings"
)

// JobType is one of the 13 job types of docs/protocol.md. The zero value is invalid.
type JobType uint8

// The 13 job types, numbered from 1 in docs/protocol.md's order. The numbers are part of the protocol.
const (
	AIInference JobType = iota + 1
	AITraining
	ComputerVision
	NLP
	AudioProcessing
	TimeSeriesAnalysis
	MultimodalAI
	ReinforcementLearning
	SpecializedAI
	ProofGeneration
	ProofVerification
	DataProcessing
	Custom
)

var jobTypeNames = [...]string{"", "AIInference", "AITraining", "ComputerVision", "NLP",
	"AudioProcessing", "TimeSeriesAnalysis", "MultimodalAI", "ReinforcementLearning",
	"SpecializedAI", "ProofGeneration", "ProofVerification", "DataProcessing", "Custom"}

// AllJobTypes lists the 13 job types in order.
func AllJobTypes() []JobType {
	out := make([]JobType, 0, 13)
	for t := AIInference; t <= Custom; t++ {
		out = append(out, t)
	}
	return out
}

// Valid reports whether t is one of the 13 job types.
func (t JobType) Valid() bool { return t >= AIInference && t <= Custom }

func (t JobType) String() string {
	if !t.Valid() {
		return fmt.Sprintf("JobType(%d)", uint8(t))
	}
	return jobTypeNames[t]
}

// ParseJobType parses a job type name (case-insensitive).
func ParseJobType(s string) (JobType, error) {
	for t := AIInference; t <= Custom; t++ {
		if strings.EqualFold(jobTypeNames[t], s) {
			return t, nil
		}
	}
	return 0, errf(ErrUnknownJobType, "%q", s)
}

// MarshalText renders the job type by name.
func (t JobType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, errf(ErrUnknownJobType, "%d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses a job type by name.
func (t *JobType) UnmarshalText(b []byte) error {
	v, err := ParseJobType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ExecutorKind names an executor.
type ExecutorKind string

// The executors.
const (
	ExecWASM   ExecutorKind = "wasm"   // wazero, WASI preview 1: deterministic, no network
	ExecDocker ExecutorKind = "docker" // Docker Engine, image by digest, GPUs when CUDA is needed
	ExecModel  ExecutorKind = "model"  // the native integer ONNX-subset runtime: bit-exact
)

// Valid reports whether k is a known executor.
func (k ExecutorKind) Valid() bool { return k == ExecWASM || k == ExecDocker || k == ExecModel }

// Deterministic reports whether the executor gives bit-identical results on every machine,
// which the redundant and zk verification methods need.
func (k ExecutorKind) Deterministic() bool { return k == ExecWASM || k == ExecModel }

// Framework names a software stack a job needs. The built-in ones are constants; any other
// string is a custom framework (ComfyUI, FFmpeg, ...) matched by exact name against what the
// provider declares.
type Framework string

// Frameworks named by the protocol (docs/protocol.md), plus the two this package provides itself.
const (
	PyTorch    Framework = "PyTorch"
	TensorFlow Framework = "TensorFlow"
	ONNX       Framework = "ONNX"
	// CiroONNXInt is the native integer runtime for the ONNX subset (executor model). Every
	// provider has it.
	CiroONNXInt Framework = "ciro-onnx-int"
	// WASI is a WebAssembly module for WASI preview 1 (executor wasm). Every provider has it.
	WASI Framework = "wasi"
)

// JobTypeSpec is one row of the job-type table.
type JobTypeSpec struct {
	Type JobType
	// Executor is the default executor; Alternatives are the others the type accepts.
	Executor     ExecutorKind
	Alternatives []ExecutorKind
	// Frameworks the type accepts when it runs on docker; empty means any framework.
	Frameworks []Framework
	// DockerFlags are the capability flags the type needs when it runs on docker. The wasm and
	// model executors need none.
	DockerFlags Capabilities
	Note        string
}

// jobTable is THE job-type table (docs/compute.md renders it). Deterministic executors are
// preferred where the work allows, since they admit redundant and zk verification.
var jobTable = [...]JobTypeSpec{
	{AIInference, ExecDocker, []ExecutorKind{ExecModel}, []Framework{PyTorch, TensorFlow, ONNX}, CapCUDA,
		"model executor when the framework is ciro-onnx-int (zk and redundant verification)"},
	{AITraining, ExecDocker, nil, []Framework{PyTorch, TensorFlow}, CapCUDA | CapFP16,
		"GPU floating point: not bit-exact, use sampled or none verification"},
	{ComputerVision, ExecDocker, []ExecutorKind{ExecModel}, []Framework{PyTorch, TensorFlow, ONNX}, CapCUDA,
		"small CNNs may run on the model executor"},
	{NLP, ExecDocker, nil, []Framework{PyTorch, TensorFlow, ONNX}, CapCUDA, ""},
	{AudioProcessing, ExecDocker, nil, []Framework{PyTorch, TensorFlow, "FFmpeg"}, 0,
		"CPU is enough for FFmpeg; a job adds CUDA to its requirements when it wants a GPU"},
	{TimeSeriesAnalysis, ExecDocker, []ExecutorKind{ExecModel, ExecWASM}, []Framework{PyTorch, TensorFlow, ONNX}, 0, ""},
	{MultimodalAI, ExecDocker, nil, []Framework{PyTorch, TensorFlow}, CapCUDA | CapFP16, ""},
	{ReinforcementLearning, ExecDocker, []ExecutorKind{ExecWASM}, []Framework{PyTorch, TensorFlow}, CapCUDA,
		"environments without a GPU may run as WASM"},
	{SpecializedAI, ExecDocker, nil, nil, CapCUDA, "custom frameworks (ComfyUI, ...) named by the job"},
	{ProofGeneration, ExecDocker, []ExecutorKind{ExecWASM}, nil, 0, "a prover image (gnark, ...) named by the job"},
	{ProofVerification, ExecWASM, []ExecutorKind{ExecDocker}, nil, 0, "verifiers are small and deterministic"},
	{DataProcessing, ExecWASM, []ExecutorKind{ExecDocker}, nil, 0, ""},
	{Custom, ExecWASM, []ExecutorKind{ExecDocker, ExecModel}, nil, 0, "whatever the job names; nothing implied"},
}

// JobTable returns a copy of the job-type table, in job-type order.
func JobTable() []JobTypeSpec {
	out := make([]JobTypeSpec, len(jobTable))
	copy(out, jobTable[:])
	return out
}

// SpecFor returns the table row of t.
func SpecFor(t JobType) (JobTypeSpec, error) {
	if !t.Valid() {
		return JobTypeSpec{}, errf(ErrUnknownJobType, "%d", uint8(t))
	}
	return jobTable[t-1], nil
}

// Allows reports whether the type may run on executor k.
func (s JobTypeSpec) Allows(k ExecutorKind) bool {
	return s.Executor == k || slices.Contains(s.Alternatives, k)
}
