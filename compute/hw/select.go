package hw

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OnlyGPUs returns the report as a provider that offers only the GPUs whose NVML indices are ids
// sees it: Devices keeps those GPUs (in NVML order) and the capability flags and the earnings
// estimate are derived again from them alone; the host's OpenCL and InfiniBand findings, CPU and
// RAM are kept. GPUIDs records ids and DetectedGPUs how many GPUs there were before. Empty ids
// return r unchanged: every GPU is offered.
//
// A negative or repeated id is an error, and so is an id that names no detected GPU: that error
// wraps ErrGPUNotPresent and says which GPUs there are, since a GPU silently left out would make
// the provider offer less than its operator expects. r itself is not modified.
func (r Report) OnlyGPUs(ids []int) (Report, error) {
	if len(ids) == 0 {
		return r, nil
	}
	for i, id := range ids {
		if id < 0 {
			return r, fmt.Errorf("hw: GPU index %d is negative; NVML indices start at 0", id)
		}
		if slices.Contains(ids[:i], id) {
			return r, fmt.Errorf("hw: GPU index %d is given twice", id)
		}
	}
	var missing []string
	for _, id := range ids {
		if !slices.ContainsFunc(r.Devices, func(d Device) bool { return d.Index == id }) {
			missing = append(missing, strconv.Itoa(id))
		}
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("%w: no GPU has index %s; %s", ErrGPUNotPresent, strings.Join(missing, ", "), r.presentGPUs())
	}
	out := r
	out.Devices = make([]Device, 0, len(ids))
	for _, d := range r.Devices {
		if slices.Contains(ids, d.Index) {
			out.Devices = append(out.Devices, d)
		}
	}
	out.GPUIDs = slices.Clone(ids)
	slices.Sort(out.GPUIDs)
	out.DetectedGPUs = len(r.Devices)
	out.Flags = DeriveFlags(out.Devices, len(r.OpenCLICDs) > 0, len(r.IBDevices) > 0)
	out.Earnings = Estimate(out.Devices)
	return out, nil
}

// presentGPUs says which GPUs the report holds, for errors.
func (r Report) presentGPUs() string {
	if len(r.Devices) == 0 {
		if r.Message != "" {
			return "this machine reports no GPUs (" + r.Message + ")"
		}
		return "this machine reports no GPUs"
	}
	idx := make([]string, len(r.Devices))
	for i, d := range r.Devices {
		idx[i] = strconv.Itoa(d.Index)
	}
	return "the GPUs detected are " + strings.Join(idx, ", ")
}
