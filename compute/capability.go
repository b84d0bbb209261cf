package compute

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Capabilities is the bitmask of the 8 capability flags of docs/protocol.md. The bit positions are part
// of the protocol (they travel in provider adverts and job requirements): never reorder them.
type Capabilities uint8

// The 8 flags, bit 0 to bit 7.
const (
	CapCUDA        Capabilities = 1 << iota // an NVIDIA GPU with a working driver
	CapOpenCL                               // an OpenCL ICD is installed
	CapFP16                                 // fast half-precision arithmetic
	CapINT8                                 // int8 dot products (dp4a or tensor cores)
	CapNVLink                               // at least one active NVLink
	CapInfiniBand                           // an InfiniBand device
	CapTensorCores                          // tensor cores (compute capability 7.0 or later)
	CapMultiGPU                             // two or more GPUs
)

// CapabilityNames are the JSON and text names of the flags, in bit order.
var CapabilityNames = [8]string{"CUDA", "OpenCL", "FP16", "INT8", "NVLink", "InfiniBand", "TensorCores", "MultiGPU"}

// Has reports whether every flag of want is set in c.
func (c Capabilities) Has(want Capabilities) bool { return c&want == want }

// Names lists the set flags by name, in bit order.
func (c Capabilities) Names() []string {
	var out []string
	for i, n := range CapabilityNames {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (c Capabilities) String() string {
	if c == 0 {
		return "none"
	}
	return strings.Join(c.Names(), "|")
}

// ParseCapability returns the flag with the given name (case-insensitive).
func ParseCapability(name string) (Capabilities, error) {
	for i, n := range CapabilityNames {
		if strings.EqualFold(n, name) {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability flag %q (known: %s)", name, strings.Join(CapabilityNames[:], ", "))
}

// MarshalJSON renders all 8 flags by name, each true or false, so that a reader never has to
// know the bit order: {"CUDA":true,"OpenCL":false,...}.
func (c Capabilities) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range CapabilityNames {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%t", n, c&(1<<i) != 0)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// UnmarshalJSON accepts the object form of MarshalJSON (missing flags are false) or a list of
// flag names.
func (c *Capabilities) UnmarshalJSON(data []byte) error {
	var out Capabilities
	var names []string
	if err := json.Unmarshal(data, &names); err == nil {
		for _, n := range names {
			f, err := ParseCapability(n)
			if err != nil {
				return err
			}
			out |= f
		}
		*c = out
		return nil
	}
	var m map[string]bool
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("capabilities: want an object of flag names or a list: %w", err)
	}
	for n, set := range m {
		f, err := ParseCapability(n)
		if err != nil {
			return err
		}
		if set {
			out |= f
		}
	}
	*c = out
	return nil
}
