package model

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// Tensor is a dense row-major tensor of int32. Unless Int is set its values are Q16.16;
// Int tensors hold plain integers (shapes for Reshape, ArgMax indices).
type Tensor struct {
	Shape []int
	Data  []int32
	Int   bool
}

// NumElems is the product of a shape, or -1 if it overflows or a dim is negative.
func NumElems(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return -1
		}
		n *= d
	}
	return n
}

// Model is a loaded, checked graph ready to run. It is immutable and safe for concurrent use.
type Model struct {
	graph   *Graph
	consts  map[string]Tensor
	inputs  []ValueInfo // graph inputs that are not initializers
	outputs []string
}

// Supported lists the operators of the subset.
var Supported = []string{"Add", "ArgMax", "Conv", "Flatten", "Gemm", "MatMul", "MaxPool", "Relu", "Reshape", "Sigmoid", "Softmax"}

// Limits on what a model may declare, checked at load.
const (
	maxConstElems = 1 << 26
	maxNodes      = 1 << 14
)

// Load decodes and checks a model: every operator and attribute is in the subset, every float
// initializer converts to Q16.16, and nodes are in topological order.
func Load(b []byte) (*Model, error) {
	g, err := ParseModel(b)
	if err != nil {
		return nil, err
	}
	if len(g.Nodes) > maxNodes {
		return nil, fmt.Errorf("%w: %d nodes", ErrUnsupported, len(g.Nodes))
	}
	m := &Model{graph: g, consts: map[string]Tensor{}}
	total := 0
	for _, rt := range g.Initializers {
		t, err := convert(rt)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", rt.Name, err)
		}
		if total += len(t.Data); total > maxConstElems {
			return nil, fmt.Errorf("%w: initializers hold more than %d values", ErrBudget, maxConstElems)
		}
		m.consts[rt.Name] = t
	}
	known := map[string]bool{"": true}
	for name := range m.consts {
		known[name] = true
	}
	for _, in := range g.Inputs {
		if _, ok := m.consts[in.Name]; !ok {
			m.inputs = append(m.inputs, in)
			known[in.Name] = true
		}
	}
	if len(m.inputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has no input", ErrProto)
	}
	for i, n := range g.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return nil, fmt.Errorf("%w: node %d: domain %q", ErrUnsupported, i, n.Domain)
		}
		if !slices.Contains(Supported, n.OpType) {
			return nil, fmt.Errorf("%w: node %d: operator %q", ErrUnsupported, i, n.OpType)
		}
		if err := checkAttrs(n); err != nil {
			return nil, fmt.Errorf("node %d (%s): %w", i, n.OpType, err)
		}
		for _, in := range n.Inputs {
			if !known[in] {
				return nil, fmt.Errorf("%w: node %d (%s) reads %q before it is produced", ErrProto, i, n.OpType, in)
			}
		}
		if len(n.Outputs) == 0 {
			return nil, fmt.Errorf("%w: node %d (%s) has no output", ErrProto, i, n.OpType)
		}
		for _, out := range n.Outputs {
			known[out] = true
		}
	}
	for _, o := range g.Outputs {
		if !known[o.Name] {
			return nil, fmt.Errorf("%w: output %q is never produced", ErrProto, o.Name)
		}
		m.outputs = append(m.outputs, o.Name)
	}
	if len(m.outputs) == 0 {
		return nil, fmt.Errorf("%w: the graph has no output", ErrProto)
	}
	return m, nil
}

// Inputs are the graph inputs a caller must supply.
func (m *Model) Inputs() []ValueInfo { return slices.Clone(m.inputs) }

// Outputs are the names of the graph outputs, in order.
func (m *Model) Outputs() []string { return slices.Clone(m.outputs) }

func convert(rt RawTensor) (Tensor, error) {
	shape := make([]int, len(rt.Dims))
	for i, d := range rt.Dims {
		if d < 0 || d > math.MaxInt32 {
			return Tensor{}, fmt.Errorf("%w: dim %d", ErrShape, d)
		}
		shape[i] = int(d)
	}
	n := NumElems(shape)
	if n < 0 || n > maxConstElems {
		return Tensor{}, fmt.Errorf("%w: %v elements", ErrBudget, shape)
	}
	// Allocate only once the stored data is known to match the declared size: dims are
	// untrusted and cheap to inflate.
	t := Tensor{Shape: shape}
	switch rt.DataType {
	case dtFloat:
		bits := rt.FloatBits
		if rt.Raw != nil {
			if len(rt.Raw) != 4*n {
				return Tensor{}, fmt.Errorf("%w: raw float data of %d bytes for %d values", ErrShape, len(rt.Raw), n)
			}
			bits = make([]uint32, n)
			for i := range bits {
				r := rt.Raw[4*i:]
				bits[i] = uint32(r[0]) | uint32(r[1])<<8 | uint32(r[2])<<16 | uint32(r[3])<<24
			}
		}
		if len(bits) != n {
			return Tensor{}, fmt.Errorf("%w: %d float values for %d elements", ErrShape, len(bits), n)
		}
		t.Data = make([]int32, 0, n)
		for _, b := range bits {
			q, err := QuantizeFloat32Bits(b)
			if err != nil {
				return Tensor{}, err
			}
			t.Data = append(t.Data, q)
		}
	case dtInt64, dtInt32:
		t.Int = true
		var vals []int64
		switch {
		case rt.Raw != nil:
			w := 8
			if rt.DataType == dtInt32 {
				w = 4
			}
			if len(rt.Raw) != w*n {
				return Tensor{}, fmt.Errorf("%w: raw int data of %d bytes for %d values", ErrShape, len(rt.Raw), n)
			}
			for i := 0; i < n; i++ {
				var u uint64
				for k := w - 1; k >= 0; k-- {
					u = u<<8 | uint64(rt.Raw[w*i+k])
				}
				if w == 4 {
					vals = append(vals, int64(int32(uint32(u))))
				} else {
					vals = append(vals, int64(u))
				}
			}
		case rt.DataType == dtInt64:
			vals = rt.Int64s
		default:
			for _, v := range rt.Int32s {
				vals = append(vals, int64(v))
			}
		}
		if len(vals) != n {
			return Tensor{}, fmt.Errorf("%w: %d int values for %d elements", ErrShape, len(vals), n)
		}
		t.Data = make([]int32, 0, n)
		for _, v := range vals {
			t.Data = append(t.Data, Sat32(v))
		}
	default:
		return Tensor{}, fmt.Errorf("%w: tensor data type %d", ErrUnsupported, rt.DataType)
	}
	return t, nil
}

// float32 bit pattern of 1.0, the only alpha and beta Gemm accepts.
const oneF32 = 0x3f800000

func checkAttrs(n Node) error {
	allowed := map[string][]string{
		"Gemm":    {"alpha", "beta", "transA", "transB"},
		"Conv":    {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"},
		"MaxPool": {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode", "storage_order"},
		"Softmax": {"axis"},
		"ArgMax":  {"axis", "keepdims", "select_last_index"},
		"Flatten": {"axis"},
		"Reshape": {"allowzero"},
	}[n.OpType]
	for name, a := range n.Attrs {
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("%w: attribute %q", ErrUnsupported, name)
		}
		switch name {
		case "alpha", "beta":
			if a.FBits != oneF32 {
				return fmt.Errorf("%w: %s must be 1.0", ErrUnsupported, name)
			}
		case "transA":
			if a.I != 0 {
				return fmt.Errorf("%w: transA must be 0", ErrUnsupported)
			}
		case "group", "dilations":
			if name == "group" && a.I != 1 {
				return fmt.Errorf("%w: group must be 1", ErrUnsupported)
			}
			for _, d := range a.Ints {
				if d != 1 {
					return fmt.Errorf("%w: dilations must be 1", ErrUnsupported)
				}
			}
		case "auto_pad":
			if s := string(a.S); s != "" && s != "NOTSET" {
				return fmt.Errorf("%w: auto_pad %q", ErrUnsupported, s)
			}
		case "ceil_mode", "storage_order", "select_last_index", "allowzero":
			if a.I != 0 {
				return fmt.Errorf("%w: %s must be 0", ErrUnsupported, name)
			}
		}
	}
	return nil
}

// Run evaluates the graph. budget bounds the values held by intermediate tensors (4 bytes
// each); ctx is checked between nodes and inside the heavy loops.
func (m *Model) Run(ctx context.Context, inputs map[string]Tensor, budgetBytes uint64) (map[string]Tensor, error) {
	out, _, err := m.RunBudget(ctx, inputs, budgetBytes)
	return out, err
}

// RunBudget is Run that also reports the bytes of tensors the run allocated.
func (m *Model) RunBudget(ctx context.Context, inputs map[string]Tensor, budgetBytes uint64) (map[string]Tensor, uint64, error) {
	env := make(map[string]Tensor, len(m.consts)+len(m.graph.Nodes))
	for k, v := range m.consts {
		env[k] = v
	}
	for _, in := range m.inputs {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, 0, fmt.Errorf("%w: input %q missing", ErrShape, in.Name)
		}
		if NumElems(t.Shape) != len(t.Data) {
			return nil, 0, fmt.Errorf("%w: input %q has %d values for shape %v", ErrShape, in.Name, len(t.Data), t.Shape)
		}
		if len(in.Shape) > 0 {
			if len(in.Shape) != len(t.Shape) {
				return nil, 0, fmt.Errorf("%w: input %q has rank %d, the model declares %v", ErrShape, in.Name, len(t.Shape), in.Shape)
			}
			for i, d := range in.Shape {
				if d >= 0 && int64(t.Shape[i]) != d {
					return nil, 0, fmt.Errorf("%w: input %q has shape %v, the model declares %v", ErrShape, in.Name, t.Shape, in.Shape)
				}
			}
		}
		env[in.Name] = t
	}
	ev := &evaluator{ctx: ctx, budget: budgetBytes / 4, opset: m.graph.Opset}
	for _, in := range m.inputs { // the inputs count against the budget too
		n := uint64(len(env[in.Name].Data))
		if n > ev.budget {
			return nil, 4 * n, fmt.Errorf("%w: input %q alone", ErrBudget, in.Name)
		}
		ev.budget -= n
		ev.allocated += n
	}
	for i, n := range m.graph.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, 4 * ev.allocated, err
		}
		args := make([]Tensor, len(n.Inputs))
		for j, name := range n.Inputs {
			args[j] = env[name]
		}
		out, err := ev.apply(n, args)
		if err != nil {
			return nil, 0, fmt.Errorf("node %d (%s %s): %w", i, n.OpType, n.Name, err)
		}
		env[n.Outputs[0]] = out
	}
	res := make(map[string]Tensor, len(m.outputs))
	for _, o := range m.outputs {
		res[o] = env[o]
	}
	return res, 4 * ev.allocated, nil
}
