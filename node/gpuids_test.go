package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/compute/hw"
)

func TestGPUIDsConfig(t *testing.T) {
	c := DefaultConfig()
	if err := ApplyEnv(&c, []string{"CIRO_PROVIDER_GPU_IDS=2,0"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Provider.GPUIDs, []int{2, 0}) {
		t.Fatalf("env override gave %v", c.Provider.GPUIDs)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ids  []int
		want string
	}{
		"negative":  {[]int{0, -1}, "gpu_ids: -1 is not a GPU index"},
		"duplicate": {[]int{1, 3, 1}, "gpu_ids: GPU 1 is listed twice"},
	} {
		for _, enabled := range []bool{false, true} {
			bad := DefaultConfig()
			bad.Provider.Enabled, bad.Provider.GPUIDs = enabled, tc.ids
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s (provider enabled %t): got %v, want %q", name, enabled, err, tc.want)
			}
		}
	}
}

// TestOfferedGPUs: the provider's report keeps only the GPUs of gpu_ids, and Docker gets them
// by index; an absent one is an error naming the key.
func TestOfferedGPUs(t *testing.T) {
	devs := []hw.Device{{Index: 0, Name: "NVIDIA H100 80GB HBM3", CCMajor: 9}, {Index: 1, Name: "Tesla T4", CCMajor: 7, CCMinor: 5},
		{Index: 2, Name: "NVIDIA GeForce RTX 4090", CCMajor: 8, CCMinor: 9}}
	rep := hw.Report{NVML: "ok", Devices: devs, Flags: hw.DeriveFlags(devs, false, false)}

	all, err := offeredGPUs(rep, nil)
	if err != nil || len(all.Devices) != 3 || dockerGPUIDs(all) != nil {
		t.Fatalf("no gpu_ids: %d devices, docker IDs %v, err %v", len(all.Devices), dockerGPUIDs(all), err)
	}
	some, err := offeredGPUs(rep, []int{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := dockerGPUIDs(some); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("docker IDs %v, want [1 2]", got)
	}
	if p := some.Profile(nil); p.GPUCount != 2 || some.Devices[0].Name != "Tesla T4" {
		t.Fatalf("profile %+v, first GPU %q", p, some.Devices[0].Name)
	}
	got, err := offeredGPUs(rep, []int{1, 3})
	if !errors.Is(err, hw.ErrGPUNotPresent) || !strings.Contains(err.Error(), "gpu_ids") || len(got.Devices) != 3 {
		t.Fatalf("absent GPU: err %v, %d devices returned", err, len(got.Devices))
	}
}

// TestCheckHardwareGPUIDs runs check-hardware's detection on this machine with a gpu_ids no
// machine has: the error says so and the report still lists what was detected.
func TestCheckHardwareGPUIDs(t *testing.T) {
	home := t.TempDir()
	c := DefaultConfig()
	c.Provider.GPUIDs = []int{4096}
	if err := SaveConfig(home, c); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckHardware(context.Background(), home, ValidatorKeyName)
	if !errors.Is(err, hw.ErrGPUNotPresent) || !strings.Contains(err.Error(), "no GPU has index 4096") {
		t.Fatalf("got %v, want no GPU has index 4096", err)
	}
	if rep.CPUCores < 1 || rep.GPUIDs != nil {
		t.Fatalf("report %+v, want the detected one", rep)
	}
	c.Provider.GPUIDs = nil
	if err := SaveConfig(home, c); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckHardware(context.Background(), home, ValidatorKeyName); err != nil {
		t.Fatalf("no gpu_ids: %v", err)
	}
	// No config yet: every GPU counts.
	if _, err := CheckHardware(context.Background(), t.TempDir(), ValidatorKeyName); err != nil {
		t.Fatalf("no config: %v", err)
	}
}
