package model

import "slices"

// What other packages need of a model beyond running it: the zero-knowledge compiler
// (compute/zkml) reads the checked graph and the converted constants, so that its circuit
// mirrors exactly what Run computes, and its model builders write ONNX with this package's
// writer.

// Nodes returns the checked graph's nodes, in order.
func (m *Model) Nodes() []Node { return slices.Clone(m.graph.Nodes) }

// Opset is the default-domain opset the model imports (0 when it names none).
func (m *Model) Opset() int64 { return m.graph.Opset }

// Const returns an initializer as the runtime holds it (converted to Q16.16, or integer).
func (m *Model) Const(name string) (Tensor, bool) {
	t, ok := m.consts[name]
	if !ok {
		return Tensor{}, false
	}
	return Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data), Int: t.Int}, true
}

// ONNXNode is one operator for WriteONNX; attributes are built with IntAttr, IntsAttr and
// FloatAttr.
type ONNXNode struct {
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   [][]byte
}

// ONNXInit is one initializer for WriteONNX: float32 values when F32 is set, else int64.
type ONNXInit struct {
	Name string
	Dims []int64
	F32  []float32
	I64  []int64
}

// ONNXValue is a graph input or output with its shape.
type ONNXValue struct {
	Name string
	Dims []int64
}

// IntAttr is an INT attribute.
func IntAttr(name string, v int64) []byte { return aInt(name, v) }

// IntsAttr is an INTS attribute.
func IntsAttr(name string, vs ...int64) []byte { return aInts(name, vs...) }

// FloatAttr is a FLOAT attribute.
func FloatAttr(name string, f float32) []byte { return aFloat(name, f) }

// WriteONNX serializes a ModelProto (opset 13) with the given graph.
func WriteONNX(nodes []ONNXNode, inits []ONNXInit, inputs, outputs []ONNXValue) []byte {
	ns := make([]onnxNode, len(nodes))
	for i, n := range nodes {
		ns[i] = onnxNode{op: n.Op, inputs: n.Inputs, outputs: n.Outputs, attrs: n.Attrs}
	}
	is := make([]onnxInit, len(inits))
	for i, t := range inits {
		is[i] = onnxInit{name: t.Name, dims: t.Dims, f32: t.F32, i64: t.I64, float: t.F32 != nil}
	}
	vi := func(vs []ONNXValue) [][]byte {
		out := make([][]byte, len(vs))
		for i, v := range vs {
			out[i] = valueInfo(v.Name, v.Dims...)
		}
		return out
	}
	return modelProto(ns, is, vi(inputs), vi(outputs))
}

// SigmoidTable is the table Sigmoid interpolates in (part of the protocol, like the rounding).
func SigmoidTable() [257]int32 { return sigmoidTable }
