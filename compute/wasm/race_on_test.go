//go:build race

package wasm

// raceEnabled: under the race detector wazero's compiler and the guest's host calls run an
// order of magnitude slower, so the heavy tests skip in `-race -short` runs.
const raceEnabled = true
