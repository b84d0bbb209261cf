// Package hw detects what a provider's machine can do: NVIDIA GPUs through NVML (count, model,
// VRAM, compute capability, NVLink, MIG, temperature, utilisation), OpenCL ICDs, InfiniBand
// devices, CPU cores and RAM, and derives the 8 capability flags from them. It renders the
// provider's hardware report (text and JSON) with an earnings estimate per docs/protocol.md's GPU
// classes.
//
// It must not decide prices, stake tiers or bids: the tier is an input to the report. Without
// an NVIDIA driver, or in a cgo-free build (NVML needs cgo), it reports a CPU-only provider
// with a message, never an error.
package hw
