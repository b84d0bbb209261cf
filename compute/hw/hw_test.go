package hw

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/compute"
)

type fakeProbe struct {
	devs []Device
	err  error
}

func (f fakeProbe) Probe(context.Context) ([]Device, string, error) { return f.devs, "550.00", f.err }

// fakeRoot makes a host tree with an OpenCL ICD, an InfiniBand device and /proc/meminfo.
func fakeRoot(t *testing.T, openCL, ib bool) string {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal:       16384 kB\nMemFree: 1 kB\n"), 0o644)
	if openCL {
		os.MkdirAll(filepath.Join(root, "etc/OpenCL/vendors"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/OpenCL/vendors/nvidia.icd"), []byte("libnvidia-opencl.so.1\n"), 0o644)
	}
	if ib {
		os.MkdirAll(filepath.Join(root, "sys/class/infiniband/mlx5_0"), 0o755)
	}
	return root
}

func TestNoGPUIsCPUOnly(t *testing.T) {
	rep, err := Detect(context.Background(), Options{Probe: fakeProbe{err: ErrNoDriver}, Root: fakeRoot(t, false, false)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CPUOnly || rep.Flags != 0 || len(rep.Devices) != 0 || !strings.Contains(rep.Message, "CPU-only") {
		t.Fatalf("%+v", rep)
	}
	if rep.RAMBytes != 16384<<10 || rep.CPUCores < 1 {
		t.Fatalf("cpu %d ram %d", rep.CPUCores, rep.RAMBytes)
	}
	if rep.Earnings.Known || !strings.Contains(rep.Text(), "GPUs: none") || !strings.Contains(rep.Text(), "Staking tier: unknown") {
		t.Fatalf("text:\n%s", rep.Text())
	}
	// The real default probe on this machine, whatever it has, must not fail.
	if _, err := Detect(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestHostFlagsAndJSON(t *testing.T) {
	rep, err := Detect(context.Background(), Options{Probe: fakeProbe{}, Root: fakeRoot(t, true, true), Tier: "Premium"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Flags != compute.CapOpenCL|compute.CapInfiniBand || rep.IBDevices[0] != "mlx5_0" {
		t.Fatalf("flags %s", rep.Flags)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Flags map[string]bool `json:"flags"`
		Tier  string          `json:"tier"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Flags) != 8 || !m.Flags["OpenCL"] || !m.Flags["InfiniBand"] || m.Flags["CUDA"] || m.Tier != "Premium" {
		t.Fatalf("json %s", b)
	}
	for _, n := range compute.CapabilityNames {
		if _, ok := m.Flags[n]; !ok {
			t.Fatalf("flag %s missing from %s", n, b)
		}
	}
}

func TestEarnings(t *testing.T) {
	e := Estimate([]Device{{Class: "H100"}, {Class: "H100"}, {Name: "Tesla T4"}})
	if !e.Known || e.LowCentsHour != 440 || e.HighCentsHour != 900 || e.JobsPerHour != 254 || !strings.Contains(e.Note, "1 GPU") {
		t.Fatalf("%+v", e)
	}
	// 24 h at 78%: 220 × 24 × 78 / 100 = 4118.4 → 4118 cents per GPU.
	if e.LowCentsDay != 2*4118 {
		t.Fatalf("day %d", e.LowCentsDay)
	}
	if s := e.Text(); !strings.HasPrefix(s, "$4.40–$9.00 per hour") {
		t.Fatal(s)
	}
	for name, want := range map[string]string{"NVIDIA GeForce RTX 3080": "RTX 3080", "NVIDIA GeForce RTX 4090": "RTX 4090",
		"NVIDIA A100-SXM4-80GB": "A100", "NVIDIA H100 80GB HBM3": "H100", "Tesla V100": ""} {
		if got := ClassOf(name); got != want {
			t.Errorf("ClassOf(%q) = %q", name, got)
		}
	}
}
