// Package docker is the container executor: jobs run through the Docker Engine API (the
// official Go client) in an image named by digest that must already be on the provider. It
// owns the container sandbox: no pulls ever, network "none" unless configured, read-only root
// filesystem, all capabilities dropped, no-new-privileges, CPU, memory (no swap) and pids
// limits, the input bound read-only at /input, the output directory bound at /output, GPUs
// through DeviceRequests only when the job needs CUDA, a kill at the wall-time limit, captured
// logs, and removal of the container on every path.
//
// It must not fetch images or inputs, or know about the market. Providers map frameworks to
// image digests in their configuration (Options.Images).
package docker
