//go:build linux

package wasm

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time of the calling OS thread. wazero runs guest code on the calling
// goroutine; callers that need an exact figure lock it to its thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
