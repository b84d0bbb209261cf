package wasm

import "errors"

// ErrModuleMemoryTooLarge is returned when a module's declared initial memory alone exceeds the
// job's memory limit; the run then never starts.
var ErrModuleMemoryTooLarge = errors.New("wasm: the module's initial memory exceeds the memory limit")
