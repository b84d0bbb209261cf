package hw

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/ciro-network/ciro-node/compute"
)

// Device is one GPU as NVML reports it.
type Device struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	UUID        string `json:"uuid,omitempty"`
	MemoryBytes uint64 `json:"memory_bytes"`
	CCMajor     int    `json:"compute_capability_major"`
	CCMinor     int    `json:"compute_capability_minor"`
	// NVLinks is the number of active NVLink links.
	NVLinks      int  `json:"nvlink_active_links"`
	MIGEnabled   bool `json:"mig_enabled"`
	TemperatureC int  `json:"temperature_c"`
	UtilPercent  int  `json:"utilization_percent"`
	// Class is the GPU class (docs/protocol.md) the model name matches, or "".
	Class string `json:"class,omitempty"`
}

// GPUProbe lists GPUs. NVMLProbe (cgo builds) is the real one; tests pass a mock.
type GPUProbe interface {
	Probe(ctx context.Context) (devices []Device, driver string, err error)
}

// Options configure Detect. The zero value detects this machine.
type Options struct {
	// Probe lists GPUs. Nil means NVML through the system's libnvidia-ml (or, in a cgo-free
	// build, a probe that reports ErrNVMLNotBuilt).
	Probe GPUProbe
	// Root prefixes /etc/OpenCL/vendors, /sys/class/infiniband and /proc/meminfo, for tests.
	// Empty means "/".
	Root string
	// Tier is the staking tier the provider's current stake reaches, computed elsewhere
	// (contracts/); "" means unknown and the report says so.
	Tier string
	// Logger receives detection problems. Nil discards.
	Logger *slog.Logger
}

// Report is the provider's hardware as detected.
type Report struct {
	CPUOnly    bool                 `json:"cpu_only"`
	Message    string               `json:"message,omitempty"` // why there are no GPUs, when there are none
	NVML       string               `json:"nvml"`              // "ok", or why NVML gave nothing
	Driver     string               `json:"driver_version,omitempty"`
	Devices    []Device             `json:"devices"`
	Flags      compute.Capabilities `json:"flags"`
	OpenCLICDs []string             `json:"opencl_icds,omitempty"`
	IBDevices  []string             `json:"infiniband_devices,omitempty"`
	CPUCores   int                  `json:"cpu_cores"`
	RAMBytes   uint64               `json:"ram_bytes"`
	Tier       string               `json:"tier"`
	Earnings   Earnings             `json:"earnings"`

	// GPUIDs are the NVML indices the offer is restricted to ([provider] gpu_ids, applied by
	// OnlyGPUs), and DetectedGPUs how many GPUs were detected before; nil and 0 when every
	// detected GPU is offered.
	GPUIDs       []int `json:"gpu_ids,omitempty"`
	DetectedGPUs int   `json:"detected_gpus,omitempty"`
}

// Profile is the report as the requirement check of compute.Profile sees it.
func (r Report) Profile(frameworks []compute.Framework) compute.Profile {
	p := compute.Profile{Flags: r.Flags, GPUCount: len(r.Devices), CPUCores: r.CPUCores, RAMBytes: r.RAMBytes, Frameworks: frameworks}
	for i, d := range r.Devices {
		if i == 0 || d.MemoryBytes < p.VRAMBytes {
			p.VRAMBytes = d.MemoryBytes
		}
	}
	return p
}

// Detect reads this machine's hardware. It returns an error only when ctx ends; missing GPUs,
// drivers or files make a CPU-only or partial report with a message.
//
// The `ciro-node provider check-hardware [--output json]` command is wired (in cmd/) as:
//
//	rep, err := hw.Detect(ctx, hw.Options{Tier: tierFromStake, Logger: log})
//	if err != nil { return err }
//	if output == "json" { return json.NewEncoder(os.Stdout).Encode(rep) } // all 8 flags by name
//	_, err = io.WriteString(os.Stdout, rep.Text())
func Detect(ctx context.Context, opts Options) (Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root := opts.Root
	if root == "" {
		root = "/"
	}
	probe := opts.Probe
	if probe == nil {
		probe = defaultProbe()
	}
	rep := Report{Tier: opts.Tier, CPUCores: runtime.NumCPU(), Devices: []Device{}}
	devs, driver, err := probe.Probe(ctx)
	if ctx.Err() != nil {
		return Report{}, ctx.Err()
	}
	switch {
	case err != nil:
		rep.NVML = err.Error()
		rep.CPUOnly = true
		switch {
		case errors.Is(err, ErrNVMLNotBuilt):
			rep.Message = "NVML is not built into this binary (cgo-free build): reporting a CPU-only provider. WASM and model-runtime jobs only."
		default:
			rep.Message = "No NVIDIA driver found: reporting a CPU-only provider. WASM and model-runtime jobs only."
		}
		log.Info("no GPUs detected", "reason", err)
	case len(devs) == 0:
		rep.NVML = "ok"
		rep.CPUOnly = true
		rep.Message = "The NVIDIA driver reports no GPUs: reporting a CPU-only provider."
	default:
		rep.NVML = "ok"
		rep.Driver = driver
		for i := range devs {
			devs[i].Class = ClassOf(devs[i].Name)
		}
		rep.Devices = devs
	}
	rep.OpenCLICDs, _ = filepath.Glob(filepath.Join(root, "etc/OpenCL/vendors/*.icd"))
	if ents, err := os.ReadDir(filepath.Join(root, "sys/class/infiniband")); err == nil {
		for _, e := range ents {
			rep.IBDevices = append(rep.IBDevices, e.Name())
		}
	}
	rep.RAMBytes = memTotal(filepath.Join(root, "proc/meminfo"))
	rep.Flags = DeriveFlags(rep.Devices, len(rep.OpenCLICDs) > 0, len(rep.IBDevices) > 0)
	rep.Earnings = Estimate(rep.Devices)
	return rep, nil
}

// DeriveFlags computes the 8 capability flags. From NVML: CUDA (any GPU), FP16 (compute
// capability 5.3, 6.0, 6.2 or 7.0 and later: fast half precision), INT8 (6.1 and later: dp4a),
// TensorCores (7.0 and later), NVLink (an active link on any GPU) and MultiGPU (two or more).
// OpenCL and InfiniBand come from the host's files. A flag holds only if every GPU has it, so
// that a job placed on any of them gets what it asked for.
func DeriveFlags(devs []Device, openCL, infiniBand bool) compute.Capabilities {
	var f compute.Capabilities
	if openCL {
		f |= compute.CapOpenCL
	}
	if infiniBand {
		f |= compute.CapInfiniBand
	}
	if len(devs) == 0 {
		return f
	}
	all := compute.CapCUDA | compute.CapFP16 | compute.CapINT8 | compute.CapTensorCores
	for _, d := range devs {
		cc := d.CCMajor*10 + d.CCMinor
		var g compute.Capabilities = compute.CapCUDA
		if cc == 53 || cc == 60 || cc == 62 || cc >= 70 {
			g |= compute.CapFP16
		}
		if cc >= 61 {
			g |= compute.CapINT8
		}
		if cc >= 70 {
			g |= compute.CapTensorCores
		}
		all &= g
		if d.NVLinks > 0 {
			f |= compute.CapNVLink
		}
	}
	f |= all
	if len(devs) >= 2 {
		f |= compute.CapMultiGPU
	}
	return f
}

func memTotal(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, err := strconv.ParseUint(fields[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// Text renders the report for a terminal.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hardware\n")
	switch {
	case r.CPUOnly:
		fmt.Fprintf(&b, "  GPUs: none (%s)\n", r.Message)
	case r.GPUIDs != nil:
		fmt.Fprintf(&b, "  GPUs: %d offered of %d detected ([provider] gpu_ids = %v; driver %s)\n",
			len(r.Devices), r.DetectedGPUs, r.GPUIDs, r.Driver)
	default:
		fmt.Fprintf(&b, "  GPUs: %d (driver %s)\n", len(r.Devices), r.Driver)
	}
	for _, d := range r.Devices {
		class := d.Class
		if class == "" {
			class = "no known class"
		}
		fmt.Fprintf(&b, "    [%d] %s, %d MiB, compute %d.%d, NVLink links %d, MIG %t, %d °C, %d%% busy (%s)\n",
			d.Index, d.Name, d.MemoryBytes>>20, d.CCMajor, d.CCMinor, d.NVLinks, d.MIGEnabled, d.TemperatureC, d.UtilPercent, class)
	}
	fmt.Fprintf(&b, "  CPU cores: %d\n  RAM: %d MiB\n", r.CPUCores, r.RAMBytes>>20)
	fmt.Fprintf(&b, "Capability flags\n")
	for i, n := range compute.CapabilityNames {
		mark := "no"
		if r.Flags&(1<<i) != 0 {
			mark = "yes"
		}
		fmt.Fprintf(&b, "  %-12s %s\n", n, mark)
	}
	tier := r.Tier
	if tier == "" {
		tier = "unknown (no stake read)"
	}
	fmt.Fprintf(&b, "Staking tier: %s\n", tier)
	fmt.Fprintf(&b, "Earnings estimate: %s\n", r.Earnings.Text())
	return b.String()
}
