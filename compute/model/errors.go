package model

import "errors"

// Sentinels of the decoder and interpreter; each is also wrapped by a compute.Err* code at the
// executor boundary.
var (
	ErrProto       = errors.New("model: malformed protobuf")
	ErrUnsupported = errors.New("model: outside the supported ONNX subset")
	ErrShape       = errors.New("model: shape mismatch")
	ErrBudget      = errors.New("model: tensor memory budget exceeded")
)
