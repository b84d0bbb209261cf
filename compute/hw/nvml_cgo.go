//go:build cgo

package hw

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVMLProbe reads GPUs through an NVML library: nvml.New() for the real driver, or go-nvml's
// mock in tests.
type NVMLProbe struct {
	Lib nvml.Interface
}

func defaultProbe() GPUProbe { return NVMLProbe{Lib: nvml.New()} }

// Probe implements GPUProbe. A failing Init (no driver library, no kernel module) gives
// ErrNoDriver; a device that cannot be read gives an error naming it.
func (p NVMLProbe) Probe(ctx context.Context) (devs []Device, driver string, err error) {
	if ret := p.Lib.Init(); ret != nvml.SUCCESS {
		return nil, "", fmt.Errorf("%w: NVML init: %v", ErrNoDriver, nvml.ErrorString(ret))
	}
	defer p.Lib.Shutdown()
	driver, _ = p.Lib.SystemGetDriverVersion()
	n, ret := p.Lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, driver, fmt.Errorf("%w: device count: %v", ErrNoDriver, nvml.ErrorString(ret))
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, driver, err
		}
		h, ret := p.Lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, driver, fmt.Errorf("hw: GPU %d: handle: %v", i, nvml.ErrorString(ret))
		}
		d := Device{Index: i}
		if d.Name, ret = h.GetName(); ret != nvml.SUCCESS {
			return nil, driver, fmt.Errorf("hw: GPU %d: name: %v", i, nvml.ErrorString(ret))
		}
		d.UUID, _ = h.GetUUID()
		if mem, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			d.MemoryBytes = mem.Total
		}
		if d.CCMajor, d.CCMinor, ret = h.GetCudaComputeCapability(); ret != nvml.SUCCESS {
			return nil, driver, fmt.Errorf("hw: GPU %d: compute capability: %v", i, nvml.ErrorString(ret))
		}
		// Optional readings: a GPU without NVLink or MIG answers NOT_SUPPORTED.
		for link := 0; link < nvml.NVLINK_MAX_LINKS; link++ {
			st, ret := h.GetNvLinkState(link)
			if ret != nvml.SUCCESS {
				break
			}
			if st == nvml.FEATURE_ENABLED {
				d.NVLinks++
			}
		}
		if cur, _, ret := h.GetMigMode(); ret == nvml.SUCCESS {
			d.MIGEnabled = cur == nvml.DEVICE_MIG_ENABLE
		}
		if t, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			d.TemperatureC = int(t)
		}
		if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
			d.UtilPercent = int(u.Gpu)
		}
		devs = append(devs, d)
	}
	return devs, driver, nil
}
