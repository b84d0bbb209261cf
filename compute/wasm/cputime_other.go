//go:build !linux

package wasm

import "time"

// threadCPU is unavailable off Linux; usage then reports CPU as zero.
func threadCPU() time.Duration { return 0 }
