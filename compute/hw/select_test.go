package hw

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/compute"
)

// fourGPUs is a mixed machine with an OpenCL ICD: an H100 with NVLink, an RTX 3080, a Tesla T4
// and a GTX 1080 (compute 6.1: INT8 but no fast FP16, no tensor cores).
func fourGPUs() Report {
	devs := []Device{
		{Index: 0, Name: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30, CCMajor: 9, NVLinks: 18},
		{Index: 1, Name: "NVIDIA GeForce RTX 3080", MemoryBytes: 10 << 30, CCMajor: 8, CCMinor: 6},
		{Index: 2, Name: "Tesla T4", MemoryBytes: 16 << 30, CCMajor: 7, CCMinor: 5},
		{Index: 3, Name: "NVIDIA GeForce GTX 1080", MemoryBytes: 8 << 30, CCMajor: 6, CCMinor: 1},
	}
	for i := range devs {
		devs[i].Class = ClassOf(devs[i].Name)
	}
	return Report{NVML: "ok", Driver: "550.00", Devices: devs, OpenCLICDs: []string{"/etc/OpenCL/vendors/nvidia.icd"},
		Flags: DeriveFlags(devs, true, false), Earnings: Estimate(devs), CPUCores: 16, RAMBytes: 64 << 30}
}

func TestOnlyGPUs(t *testing.T) {
	cpuOnly := Report{CPUOnly: true, NVML: "hw: no NVIDIA driver", Message: "No NVIDIA driver found: reporting a CPU-only provider.",
		Devices: []Device{}, CPUCores: 4}
	for _, tc := range []struct {
		name      string
		in        Report
		ids       []int
		wantIdx   []int // Devices' indices, in order
		wantFlags compute.Capabilities
		wantLow   int64 // Earnings.LowCentsHour
		wantErr   error
		errHas    []string
	}{
		{name: "empty keeps every GPU", in: fourGPUs(), ids: nil, wantIdx: []int{0, 1, 2, 3},
			wantFlags: compute.CapCUDA | compute.CapINT8 | compute.CapNVLink | compute.CapMultiGPU | compute.CapOpenCL,
			wantLow:   220 + 40},
		{name: "one GPU", in: fourGPUs(), ids: []int{1}, wantIdx: []int{1},
			wantFlags: compute.CapCUDA | compute.CapFP16 | compute.CapINT8 | compute.CapTensorCores | compute.CapOpenCL,
			wantLow:   40},
		{name: "two in NVML order, flags of the weaker", in: fourGPUs(), ids: []int{3, 0}, wantIdx: []int{0, 3},
			wantFlags: compute.CapCUDA | compute.CapINT8 | compute.CapNVLink | compute.CapMultiGPU | compute.CapOpenCL,
			wantLow:   220},
		{name: "no NVLink without the H100", in: fourGPUs(), ids: []int{1, 2}, wantIdx: []int{1, 2},
			wantFlags: compute.CapCUDA | compute.CapFP16 | compute.CapINT8 | compute.CapTensorCores | compute.CapMultiGPU | compute.CapOpenCL,
			wantLow:   40},
		{name: "absent index", in: fourGPUs(), ids: []int{0, 5, 7}, wantErr: ErrGPUNotPresent,
			errHas: []string{"no GPU has index 5, 7", "the GPUs detected are 0, 1, 2, 3"}},
		{name: "no GPUs at all", in: cpuOnly, ids: []int{0}, wantErr: ErrGPUNotPresent,
			errHas: []string{"no GPU has index 0", "this machine reports no GPUs", "No NVIDIA driver found"}},
		{name: "negative", in: fourGPUs(), ids: []int{-1}, errHas: []string{"GPU index -1 is negative"}},
		{name: "repeated", in: fourGPUs(), ids: []int{2, 1, 2}, errHas: []string{"GPU index 2 is given twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in
			before.Devices = slices.Clone(tc.in.Devices)
			got, err := tc.in.OnlyGPUs(tc.ids)
			if len(tc.errHas) > 0 {
				if err == nil {
					t.Fatalf("no error; report %+v", got)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v does not wrap %v", err, tc.wantErr)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var idx []int
			for _, d := range got.Devices {
				idx = append(idx, d.Index)
			}
			if !slices.Equal(idx, tc.wantIdx) {
				t.Errorf("devices %v, want %v", idx, tc.wantIdx)
			}
			if got.Flags != tc.wantFlags {
				t.Errorf("flags %s, want %s", got.Flags, tc.wantFlags)
			}
			if got.Earnings.LowCentsHour != tc.wantLow {
				t.Errorf("earnings %+v, want %d cents/h at the low end", got.Earnings, tc.wantLow)
			}
			if p := got.Profile(nil); p.GPUCount != len(tc.wantIdx) || p.Flags != tc.wantFlags {
				t.Errorf("profile %+v", p)
			}
			if len(tc.ids) == 0 {
				if !reflect.DeepEqual(got, tc.in) {
					t.Errorf("empty ids changed the report: %+v", got)
				}
			} else {
				want := slices.Sorted(slices.Values(tc.ids))
				if !slices.Equal(got.GPUIDs, want) || got.DetectedGPUs != len(tc.in.Devices) {
					t.Errorf("gpu_ids %v of %d detected, want %v of %d", got.GPUIDs, got.DetectedGPUs, want, len(tc.in.Devices))
				}
				if !strings.Contains(got.Text(), "offered of 4 detected") {
					t.Errorf("text:\n%s", got.Text())
				}
			}
			// The host's own findings are kept; the input report is not modified.
			if got.CPUCores != tc.in.CPUCores || got.RAMBytes != tc.in.RAMBytes || len(got.OpenCLICDs) != len(tc.in.OpenCLICDs) {
				t.Errorf("host findings changed: %+v", got)
			}
			if !reflect.DeepEqual(tc.in, before) {
				t.Errorf("input report modified: %+v", tc.in)
			}
		})
	}
}

// TestOnlyGPUsVRAM: the profile's per-GPU VRAM is the smallest of the offered GPUs only.
func TestOnlyGPUsVRAM(t *testing.T) {
	all := fourGPUs()
	if v := all.Profile(nil).VRAMBytes; v != 8<<30 {
		t.Fatalf("all GPUs: VRAM %d", v)
	}
	big, err := all.OnlyGPUs([]int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if v := big.Profile(nil).VRAMBytes; v != 16<<30 {
		t.Fatalf("GPUs 0 and 2: VRAM %d MiB, want 16 GiB", v>>20)
	}
}
