package hw

import "errors"

// ErrNVMLNotBuilt is the probe error of a cgo-free build: NVML needs cgo.
var ErrNVMLNotBuilt = errors.New("hw: NVML is not built in (this binary was built with CGO_ENABLED=0)")

// ErrNoDriver is the probe error when the NVIDIA driver library cannot be loaded or initialised.
var ErrNoDriver = errors.New("hw: no NVIDIA driver")

// ErrGPUNotPresent is the error of Report.OnlyGPUs when a GPU it is asked to keep was not
// detected.
var ErrGPUNotPresent = errors.New("hw: GPU not present")
