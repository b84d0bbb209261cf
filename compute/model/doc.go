// Package model is the native model runtime: a deterministic, integer-only interpreter for a
// documented subset of ONNX (docs/compute.md), and the compute.Executor that runs it. It owns
// the ONNX protobuf decoder (a minimal wire decoder, fuzzed), the fixed-point rules (Q16.16
// activations in int32, int64 accumulators, one rounding rule, saturation) and the activation
// tables. The same model bytes and input give the same bits on every machine; the
// zero-knowledge circuits mirror this arithmetic, so any change to it is a protocol change.
//
// It must not use floating point in inference (floats appear only as the bit patterns of
// initializers, converted exactly by integer code), read clocks, or fetch models: the caller
// resolves the model's CID into bytes.
package model
