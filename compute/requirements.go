package compute

import (
	"fmt"
	"slices"
	"strings"
)

// Requirements is what a job asks of the hardware and software of a provider.
type Requirements struct {
	Flags        Capabilities `json:"flags"`          // all must be set on the provider
	MinVRAMBytes uint64       `json:"min_vram_bytes"` // per GPU; 0 means no GPU memory needed
	GPUCount     int          `json:"gpu_count"`      // 0 means no GPU needed
	Frameworks   []Framework  `json:"frameworks"`     // all must be declared by the provider
}

// Profile is what a provider can offer: detected hardware plus declared software.
type Profile struct {
	Flags      Capabilities `json:"flags"`
	GPUCount   int          `json:"gpu_count"`
	VRAMBytes  uint64       `json:"vram_bytes"` // of the smallest GPU
	CPUCores   int          `json:"cpu_cores"`
	RAMBytes   uint64       `json:"ram_bytes"`
	Frameworks []Framework  `json:"frameworks"` // docker frameworks the provider mapped to images
	// Executors the provider runs. Empty means all three.
	Executors []ExecutorKind `json:"executors,omitempty"`
}

func (p Profile) runs(k ExecutorKind) bool {
	return len(p.Executors) == 0 || slices.Contains(p.Executors, k)
}

func (p Profile) hasFramework(f Framework) bool {
	switch f {
	case CiroONNXInt:
		return p.runs(ExecModel)
	case WASI:
		return p.runs(ExecWASM)
	}
	return slices.Contains(p.Frameworks, f)
}

// Effective returns the executor a job of type t with the given framework runs on and the full
// requirements: the job's own ones plus those the job-type table implies. Framework
// CiroONNXInt selects the model executor and WASI the wasm executor; any other framework, or
// none, selects the type's default executor.
func Effective(t JobType, fw Framework, req Requirements) (ExecutorKind, Requirements, error) {
	spec, err := SpecFor(t)
	if err != nil {
		return "", req, err
	}
	kind := spec.Executor
	switch fw {
	case CiroONNXInt:
		kind = ExecModel
	case WASI:
		kind = ExecWASM
	}
	if !spec.Allows(kind) {
		return "", req, errf(ErrRequirementsUnmet, "job type %s cannot run on the %s executor", t, kind)
	}
	out := req
	out.Frameworks = slices.Clone(req.Frameworks)
	if kind == ExecDocker {
		if fw != "" && len(spec.Frameworks) > 0 && !slices.Contains(spec.Frameworks, fw) {
			return "", req, errf(ErrRequirementsUnmet, "job type %s does not take framework %q (takes %v)", t, fw, spec.Frameworks)
		}
		out.Flags |= spec.DockerFlags
	}
	if fw != "" && !slices.Contains(out.Frameworks, fw) {
		out.Frameworks = append(out.Frameworks, fw)
	}
	if out.Flags.Has(CapCUDA) && out.GPUCount == 0 {
		out.GPUCount = 1
	}
	return kind, out, nil
}

// CanRun says whether the provider can meet a job's requirements, before it bids. A nil error
// means yes; otherwise the error wraps ErrRequirementsUnmet and lists every unmet requirement
// in one sentence.
func (p Profile) CanRun(t JobType, fw Framework, req Requirements) error {
	kind, eff, err := Effective(t, fw, req)
	if err != nil {
		return err
	}
	var why []string
	if !p.runs(kind) {
		why = append(why, fmt.Sprintf("the %s executor is not enabled", kind))
	}
	if missing := eff.Flags &^ p.Flags; missing != 0 {
		why = append(why, "missing capability "+missing.String())
	}
	if eff.GPUCount > p.GPUCount {
		why = append(why, fmt.Sprintf("needs %d GPU(s), has %d", eff.GPUCount, p.GPUCount))
	}
	if eff.MinVRAMBytes > 0 && (p.GPUCount == 0 || p.VRAMBytes < eff.MinVRAMBytes) {
		why = append(why, fmt.Sprintf("needs %d MiB of VRAM per GPU, has %d MiB", eff.MinVRAMBytes>>20, p.VRAMBytes>>20))
	}
	for _, f := range eff.Frameworks {
		if !p.hasFramework(f) {
			why = append(why, fmt.Sprintf("framework %q is not declared", f))
		}
	}
	if len(why) > 0 {
		return errf(ErrRequirementsUnmet, "%s job: %s", t, strings.Join(why, "; "))
	}
	return nil
}
