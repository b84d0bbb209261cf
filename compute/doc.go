// Package compute runs work on a provider: hardware detection (NVML and others) into
// capability flags, and executors (WASM, Docker, the native model runtime) under resource
// limits. It knows nothing of the auction.
package compute
