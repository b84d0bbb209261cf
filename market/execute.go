package market

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/storage/content"
)

// JobParams is the JSON document a job's Spec.Params may carry (at most 1 KiB, opaque to the
// chain). Every field is optional:
//
//	{"args":["--mode","fast"],"env":["K=V"],"seed":7,"framework":"wasi",
//	 "image":"sha256:<64 hex>","wall_seconds":60,"memory_mib":256}
//
// Seed defaults to the job id, so redundant providers and a verifier seed the job's random
// source alike. Framework picks the executor where the requirements do not (see JobPlan).
type JobParams struct {
	Args        []string `json:"args,omitempty"`
	Env         []string `json:"env,omitempty"`
	Seed        *uint64  `json:"seed,omitempty"`
	Framework   string   `json:"framework,omitempty"`
	Image       string   `json:"image,omitempty"`
	WallSeconds uint32   `json:"wall_seconds,omitempty"`
	MemoryMiB   uint32   `json:"memory_mib,omitempty"`
}

// ParseParams reads Spec.Params; an empty string is the zero JobParams.
func ParseParams(s string) (JobParams, error) {
	var p JobParams
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadParams, err)
	}
	return p, nil
}

// Encode renders the params for Spec.Params.
func (p JobParams) Encode() string {
	b, _ := json.Marshal(p)
	if string(b) == "{}" {
		return ""
	}
	return string(b)
}

// ComputeType maps a chain job type to compute's (the two number them differently; the names
// are the same).
func ComputeType(t contracts.JobType) (compute.JobType, error) {
	return compute.ParseJobType(t.String())
}

// ComputeRequirements maps a chain job's requirements to compute's (capability bits are the
// same in both).
func ComputeRequirements(r contracts.Requirements) compute.Requirements {
	out := compute.Requirements{Flags: compute.Capabilities(r.Caps), MinVRAMBytes: uint64(r.MinVRAMMiB) << 20, GPUCount: int(r.GPUCount)}
	for _, f := range r.Frameworks {
		out.Frameworks = append(out.Frameworks, compute.Framework(f))
	}
	return out
}

// JobPlan is how an agent runs a chain job: the compute job and where its artifact and input
// come from.
type JobPlan struct {
	Job       compute.Job
	Framework compute.Framework
	ModelCID  string
	InputCID  string
}

// framework picks the framework that selects the executor: "wasi" or "ciro-onnx-int" among the
// required frameworks win (they name a deterministic executor), then Params.framework, then
// the first required framework, else none (the type's default executor).
func framework(spec *contracts.JobSpec, p JobParams) compute.Framework {
	for _, f := range spec.Requirements.Frameworks {
		if f == string(compute.WASI) || f == string(compute.CiroONNXInt) {
			return compute.Framework(f)
		}
	}
	if p.Framework != "" {
		return compute.Framework(p.Framework)
	}
	if len(spec.Requirements.Frameworks) > 0 {
		return compute.Framework(spec.Requirements.Frameworks[0])
	}
	return ""
}

// PlanJob turns a chain job into a compute job: the type's executor from compute's job-type
// table (compute.Effective), the arguments from Params.
func PlanJob(j *contracts.Job) (JobPlan, error) {
	ct, err := ComputeType(j.Spec.Type)
	if err != nil {
		return JobPlan{}, err
	}
	p, err := ParseParams(j.Spec.Params)
	if err != nil {
		return JobPlan{}, err
	}
	fw := framework(&j.Spec, p)
	kind, req, err := compute.Effective(ct, fw, ComputeRequirements(j.Spec.Requirements))
	if err != nil {
		return JobPlan{}, err
	}
	seed := j.ID
	if p.Seed != nil {
		seed = *p.Seed
	}
	cj := compute.Job{
		ID: fmt.Sprintf("job-%d", j.ID), Type: ct, Executor: kind, Framework: fw,
		Image: p.Image, Args: p.Args, Env: p.Env, Seed: seed, Requirements: req,
		Limits: compute.Limits{Wall: time.Duration(p.WallSeconds) * time.Second, MemoryBytes: uint64(p.MemoryMiB) << 20},
	}
	switch kind {
	case compute.ExecModel:
		cj.Ref = j.Spec.ModelCID
	case compute.ExecDocker:
		cj.Ref = p.Image
	}
	return JobPlan{Job: cj, Framework: fw, ModelCID: j.Spec.ModelCID, InputCID: j.Spec.InputCID}, nil
}

// runner fetches a job's inputs, runs it and stores its result. The provider agent and the
// verifier share it, so that both compute the output CID the same way.
type runner struct {
	content     Content
	executors   map[compute.ExecutorKind]compute.Executor
	workDir     string
	maxArtifact int64
}

// outcome is a stored run.
type outcome struct {
	// OutputCID is the CID of the output/ directory alone: the value redundant providers and
	// verifiers compare, since it is a pure function of the job for deterministic executors.
	OutputCID cid.Cid
	// ResultCID is the CID of the whole result directory (output/, logs.txt, manifest.json).
	ResultCID cid.Cid
	Status    compute.Status
	outputDir string
	cleanup   func()
}

// run executes j under a fresh work directory and imports the result, pinned as a result.
// A run that ended with a failure of the job's own (compute.JobFault: a non-zero exit, a
// malformed job or model) is still a result; cancellation, timeouts, fetch failures and the
// provider's own failures are errors.
func (r *runner) run(ctx context.Context, j *contracts.Job) (*outcome, error) {
	plan, err := PlanJob(j)
	if err != nil {
		return nil, err
	}
	ex := r.executors[plan.Job.Executor]
	if ex == nil {
		return nil, fmt.Errorf("%w: job %d needs the %s executor", ErrNoExecutor, j.ID, plan.Job.Executor)
	}
	if err := os.MkdirAll(r.workDir, 0o700); err != nil {
		return nil, fmt.Errorf("market: work dir: %w", err)
	}
	work, err := os.MkdirTemp(r.workDir, fmt.Sprintf("job-%d-", j.ID))
	if err != nil {
		return nil, fmt.Errorf("market: work dir: %w", err)
	}
	cleanup := func() { os.RemoveAll(work) }
	in := compute.Inputs{}
	if plan.ModelCID != "" && plan.Job.Executor != compute.ExecDocker {
		if in.Artifact, err = r.artifact(ctx, plan.ModelCID); err != nil {
			cleanup()
			return nil, err
		}
	}
	if plan.InputCID != "" {
		if in.Dir, err = r.input(ctx, plan.InputCID, work); err != nil {
			cleanup()
			return nil, err
		}
	}
	res, runErr := ex.Run(ctx, plan.Job, in)
	if res.Dir == "" {
		cleanup()
		return nil, fmt.Errorf("market: run job %d: %w", j.ID, runErr)
	}
	cleanup = func() { os.RemoveAll(work); os.RemoveAll(res.Dir) }
	if runErr != nil && (res.Status != compute.StatusFailed || !compute.JobFault(runErr)) {
		cleanup()
		return nil, fmt.Errorf("market: run job %d: %w", j.ID, runErr)
	}
	o, err := r.store(ctx, j.ID, res.Dir, res.OutputDir())
	if err != nil {
		cleanup()
		return nil, err
	}
	o.Status, o.cleanup = res.Status, cleanup
	return o, nil
}

// store imports the logs, records their CID in the manifest, then imports the output directory
// and the whole result directory.
func (r *runner) store(ctx context.Context, id uint64, resultDir, outputDir string) (*outcome, error) {
	name := fmt.Sprintf("job-%d", id)
	logs, err := r.content.AddFile(ctx, filepath.Join(resultDir, compute.LogsFileName), content.AddOptions{Pin: content.PinResult, Name: name + " logs"})
	if err != nil {
		return nil, fmt.Errorf("market: store logs of job %d: %w", id, err)
	}
	if err := compute.WriteLogsCID(resultDir, logs.String()); err != nil {
		return nil, fmt.Errorf("market: manifest of job %d: %w", id, err)
	}
	out, err := r.content.AddFile(ctx, outputDir, content.AddOptions{Pin: content.PinResult, Name: name + " output"})
	if err != nil {
		return nil, fmt.Errorf("market: store output of job %d: %w", id, err)
	}
	full, err := r.content.AddFile(ctx, resultDir, content.AddOptions{Pin: content.PinResult, Name: name + " result"})
	if err != nil {
		return nil, fmt.Errorf("market: store result of job %d: %w", id, err)
	}
	return &outcome{OutputCID: out, ResultCID: full, outputDir: outputDir}, nil
}

func (r *runner) artifact(ctx context.Context, c string) ([]byte, error) {
	root, err := cid.Decode(c)
	if err != nil {
		return nil, &UnavailableError{CID: c, Err: fmt.Errorf("model CID %q: %w", c, err)}
	}
	rd, size, err := r.content.Cat(ctx, root)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("market: fetch model %s: %w", c, err)
		}
		return nil, &UnavailableError{CID: c, Err: fmt.Errorf("fetch model: %w", err)}
	}
	defer rd.Close()
	if size > r.maxArtifact {
		return nil, fmt.Errorf("%w: model %s has %d bytes, limit %d", ErrTooLarge, c, size, r.maxArtifact)
	}
	b, err := io.ReadAll(io.LimitReader(rd, r.maxArtifact+1))
	if err != nil {
		return nil, fmt.Errorf("market: read model %s: %w", c, err)
	}
	return b, nil
}

// input fetches the input CID into work. A directory is mounted as is; a single file appears
// as /input/input.
func (r *runner) input(ctx context.Context, c, work string) (string, error) {
	root, err := cid.Decode(c)
	if err != nil {
		return "", &UnavailableError{CID: c, Err: fmt.Errorf("input CID %q: %w", c, err)}
	}
	tmp := filepath.Join(work, "fetched")
	if err := r.content.Get(ctx, root, tmp, content.GetOptions{}); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("market: fetch input %s: %w", c, err)
		}
		return "", &UnavailableError{CID: c, Err: fmt.Errorf("fetch input: %w", err)}
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return tmp, nil
	}
	dir := filepath.Join(work, "input")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, compute.SingleFileInput)); err != nil {
		return "", err
	}
	return dir, nil
}

// Commitment is what a provider puts in SubmitResult.Commitment: the 32-byte SHA-256 digest of
// its full result directory's root CID, so that the chain binds the logs and manifest too.
// FullResultCID turns it back into that CID.
func Commitment(full cid.Cid) []byte {
	dec, err := mh.Decode(full.Hash())
	if err != nil || dec.Code != mh.SHA2_256 {
		sum := sha256.Sum256(full.Bytes())
		return sum[:]
	}
	return slices.Clone(dec.Digest)
}

// FullResultCID rebuilds the full result directory's CID (CIDv1, dag-pb, sha2-256, as
// storage/content imports) from a commitment.
func FullResultCID(commitment []byte) (cid.Cid, error) {
	h, err := mh.Encode(commitment, mh.SHA2_256)
	if err != nil {
		return cid.Undef, fmt.Errorf("market: commitment: %w", err)
	}
	return cid.NewCidV1(cid.DagProtobuf, h), nil
}
