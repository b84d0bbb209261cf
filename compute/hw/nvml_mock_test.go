//go:build cgo

package hw

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/ciro-network/ciro-node/compute"
)

// gpu describes one mocked GPU model.
type gpu struct {
	name    string
	memGiB  uint64
	major   int
	minor   int
	nvlinks int // active links; 0 answers NOT_SUPPORTED like a GeForce card
}

func mockNVML(count int, g gpu) *mock.Interface {
	dev := &mock.Device{
		GetNameFunc: func() (string, nvml.Return) { return g.name, nvml.SUCCESS },
		GetUUIDFunc: func() (string, nvml.Return) { return "GPU-0000", nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: g.memGiB << 30}, nvml.SUCCESS
		},
		GetCudaComputeCapabilityFunc: func() (int, int, nvml.Return) { return g.major, g.minor, nvml.SUCCESS },
		GetNvLinkStateFunc: func(link int) (nvml.EnableState, nvml.Return) {
			if g.nvlinks == 0 {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			if link < g.nvlinks {
				return nvml.FEATURE_ENABLED, nvml.SUCCESS
			}
			return nvml.FEATURE_DISABLED, nvml.SUCCESS
		},
		GetMigModeFunc: func() (int, int, nvml.Return) {
			if g.major >= 8 && g.nvlinks > 0 {
				return nvml.DEVICE_MIG_DISABLE, nvml.DEVICE_MIG_DISABLE, nvml.SUCCESS
			}
			return 0, 0, nvml.ERROR_NOT_SUPPORTED
		},
		GetTemperatureFunc:      func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 41, nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: 12}, nvml.SUCCESS },
	}
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { return nvml.SUCCESS },
		SystemGetDriverVersionFunc: func() (string, nvml.Return) { return "550.54.15", nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return count, nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(int) (nvml.Device, nvml.Return) { return dev, nvml.SUCCESS },
	}
}

func TestFlagsFromNVMLMockProfiles(t *testing.T) {
	const all = compute.CapCUDA | compute.CapFP16 | compute.CapINT8 | compute.CapTensorCores
	cases := []struct {
		name  string
		count int
		g     gpu
		want  compute.Capabilities
		class string
		vram  uint64
	}{
		{"8x H100 SXM", 8, gpu{"NVIDIA H100 80GB HBM3", 80, 9, 0, 18}, all | compute.CapNVLink | compute.CapMultiGPU, "H100", 80 << 30},
		{"8x A100 SXM", 8, gpu{"NVIDIA A100-SXM4-80GB", 80, 8, 0, 12}, all | compute.CapNVLink | compute.CapMultiGPU, "A100", 80 << 30},
		{"1x RTX 4090", 1, gpu{"NVIDIA GeForce RTX 4090", 24, 8, 9, 0}, all, "RTX 4090", 24 << 30},
		{"2x RTX 3080", 2, gpu{"NVIDIA GeForce RTX 3080", 10, 8, 6, 0}, all | compute.CapMultiGPU, "RTX 3080", 10 << 30},
		{"1x GTX 1080 (Pascal 6.1)", 1, gpu{"NVIDIA GeForce GTX 1080", 8, 6, 1, 0}, compute.CapCUDA | compute.CapINT8, "", 8 << 30},
		{"1x Tesla K80 (3.7)", 1, gpu{"Tesla K80", 12, 3, 7, 0}, compute.CapCUDA, "", 12 << 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Detect(context.Background(), Options{Probe: NVMLProbe{Lib: mockNVML(c.count, c.g)}, Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if rep.CPUOnly || len(rep.Devices) != c.count || rep.Driver != "550.54.15" {
				t.Fatalf("%+v", rep)
			}
			if rep.Flags != c.want {
				t.Fatalf("flags %s, want %s", rep.Flags, c.want)
			}
			d := rep.Devices[0]
			if d.Class != c.class || d.MemoryBytes != c.vram || d.NVLinks != c.g.nvlinks || d.TemperatureC != 41 || d.UtilPercent != 12 {
				t.Fatalf("device %+v", d)
			}
			if c.class != "" && (!rep.Earnings.Known || rep.Earnings.JobsPerHour == 0) {
				t.Fatalf("earnings %+v", rep.Earnings)
			}
			text := rep.Text()
			for _, n := range compute.CapabilityNames {
				if !strings.Contains(text, n) {
					t.Fatalf("text lacks %s:\n%s", n, text)
				}
			}
			// The detected profile feeds the pre-bid check.
			p := rep.Profile([]compute.Framework{compute.PyTorch})
			err = p.CanRun(compute.AITraining, compute.PyTorch, compute.Requirements{MinVRAMBytes: 40 << 30, GPUCount: 4})
			if wantOK := c.vram >= 40<<30 && c.count >= 4; (err == nil) != wantOK {
				t.Fatalf("CanRun = %v, want ok=%t", err, wantOK)
			}
		})
	}
}

func TestNVMLInitFailureIsCPUOnly(t *testing.T) {
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
	rep, err := Detect(context.Background(), Options{Probe: NVMLProbe{Lib: lib}, Root: t.TempDir()})
	if err != nil || !rep.CPUOnly || !strings.Contains(rep.Message, "No NVIDIA driver") {
		t.Fatalf("%v %+v", err, rep)
	}
	// The real library loader, pointed at a path with no driver, fails cleanly too.
	_, _, err = NVMLProbe{Lib: nvml.New(nvml.WithLibraryPath("/nonexistent/libnvidia-ml.so.1"))}.Probe(context.Background())
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("err = %v", err)
	}
}

// TestCGOFreeBuild builds and runs this package's tests with CGO_ENABLED=0: NVML is then not
// built in, and detection says so (TestNoCGOSaysNVMLNotBuilt).
func TestCGOFreeBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package again without cgo")
	}
	cmd := exec.Command("go", "test", "-count=1", "-run", "TestNoCGOSaysNVMLNotBuilt", "-v", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNoCGOSaysNVMLNotBuilt") {
		t.Fatalf("cgo-free test run: %v\n%s", err, out)
	}
}
