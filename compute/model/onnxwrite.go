package model

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The demo network's sizes: an 8×8 image, 16 hidden units, 10 classes.
const (
	demoIn     = 64
	demoHidden = 16
	demoOut    = 10
)

// DemoMLP returns a valid ONNX model (opset 13) that this package's runtime and Executor run: a
// 64-16-10 perceptron over one [1,64] input "x" (an 8×8 image), MatMul+Add → Relu →
// Gemm(transB) = "logits", then "probs" = Softmax(logits) and "class" = ArgMax(logits). Its
// weights are drawn deterministically from seed, so equal seeds give equal bytes. It is the
// devnet's demo inference model; DemoInput gives a matching input.bin.
func DemoMLP(seed uint64) []byte {
	b, _, _, _, _ := mlpModel(seed, demoIn, demoHidden, demoOut)
	return b
}

// DemoInput returns the contents of an input.bin (InputFile) for DemoMLP: 64 little-endian
// int32 values in Q16.16, a deterministic 8×8 image drawn from seed with pixel values k/255
// (k in 0..255, rounded to the nearest Q16.16 step) and a zero border.
func DemoInput(seed uint64) []byte {
	r := rng(seed ^ 0x6a09e667f3bcc908) // not the weights' stream when the seeds are equal
	t := Tensor{Shape: []int{1, demoIn}, Data: make([]int32, demoIn)}
	for y := 1; y < 7; y++ {
		for x := 1; x < 7; x++ {
			if r.next()%3 != 0 {
				k := int64(r.next() % 256)
				t.Data[y*8+x] = int32((k*One + 127) / 255)
			}
		}
	}
	return EncodeTensor(t)
}

// A tiny ONNX writer, written against the ONNX schema independently of the decoder in onnx.go:
// the tests build their models with it, and the devnet's demo jobs ship no files, so DemoMLP
// builds their model. Floats appear here only as initializer values written into the model
// bytes; inference never sees them.

type onnxNode struct {
	op      string
	inputs  []string
	outputs []string
	attrs   [][]byte
}

type onnxInit struct {
	name  string
	dims  []int64
	f32   []float32 // FLOAT, as raw_data
	i64   []int64   // INT64, as int64_data
	float bool
}

func aInt(name string, v int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, AttrInt)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(v))
	return b
}

func aInts(name string, vs ...int64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, AttrInts)
	for _, v := range vs { // unpacked, as onnx's Python helper writes them
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

func aFloat(name string, f float32) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, AttrFloat)
	b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, math.Float32bits(f))
	return b
}

func tensorProto(t onnxInit) []byte {
	var b []byte
	var packed []byte
	for _, d := range t.dims {
		packed = protowire.AppendVarint(packed, uint64(d))
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, packed)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendString(b, t.name)
	if t.float {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		raw := make([]byte, 0, 4*len(t.f32))
		for _, f := range t.f32 {
			raw = protowire.AppendFixed32(raw, math.Float32bits(f))
		}
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	} else {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, 7)
		var p []byte
		for _, v := range t.i64 {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	}
	return b
}

func valueInfo(name string, dims ...int64) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		dim = protowire.AppendTag(dim, 1, protowire.VarintType)
		dim = protowire.AppendVarint(dim, uint64(d))
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, 1)
	tt = protowire.AppendTag(tt, 2, protowire.BytesType)
	tt = protowire.AppendBytes(tt, shape)
	var typ []byte
	typ = protowire.AppendTag(typ, 1, protowire.BytesType)
	typ = protowire.AppendBytes(typ, tt)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, typ)
	return b
}

// modelProto assembles a ModelProto with opset 13.
func modelProto(nodes []onnxNode, inits []onnxInit, inputs, outputs [][]byte) []byte {
	var g []byte
	for _, n := range nodes {
		var nb []byte
		for _, in := range n.inputs {
			nb = protowire.AppendTag(nb, 1, protowire.BytesType)
			nb = protowire.AppendString(nb, in)
		}
		for _, out := range n.outputs {
			nb = protowire.AppendTag(nb, 2, protowire.BytesType)
			nb = protowire.AppendString(nb, out)
		}
		nb = protowire.AppendTag(nb, 4, protowire.BytesType)
		nb = protowire.AppendString(nb, n.op)
		for _, a := range n.attrs {
			nb = protowire.AppendTag(nb, 5, protowire.BytesType)
			nb = protowire.AppendBytes(nb, a)
		}
		g = protowire.AppendTag(g, 1, protowire.BytesType)
		g = protowire.AppendBytes(g, nb)
	}
	g = protowire.AppendTag(g, 2, protowire.BytesType)
	g = protowire.AppendString(g, "ciro")
	for _, t := range inits {
		g = protowire.AppendTag(g, 5, protowire.BytesType)
		g = protowire.AppendBytes(g, tensorProto(t))
	}
	for _, in := range inputs {
		g = protowire.AppendTag(g, 11, protowire.BytesType)
		g = protowire.AppendBytes(g, in)
	}
	for _, out := range outputs {
		g = protowire.AppendTag(g, 12, protowire.BytesType)
		g = protowire.AppendBytes(g, out)
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 8)
	m = protowire.AppendTag(m, 2, protowire.BytesType)
	m = protowire.AppendString(m, "ciro-node")
	var ops []byte
	ops = protowire.AppendTag(ops, 2, protowire.VarintType)
	ops = protowire.AppendVarint(ops, 13)
	m = protowire.AppendTag(m, 8, protowire.BytesType)
	m = protowire.AppendBytes(m, ops)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendBytes(m, g)
	return m
}

// rng is splitmix64: known weights from a seed.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// weights returns n values in [-scale, scale] on a grid of scale/1000.
func (r *rng) weights(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(int(r.next()%2001)-1000) * scale / 1000
	}
	return out
}

// mlpModel is in → MatMul+Add (hidden) → Relu → Gemm(transB, out) = logits;
// probs = Softmax(logits); class = ArgMax(logits). It returns the float weights too, for the
// tests' independent reference.
func mlpModel(seed uint64, in, hidden, out int) (model []byte, w1, b1, w2, b2 []float32) {
	r := rng(seed)
	w1, b1 = r.weights(in*hidden, 0.08), r.weights(hidden, 0.1)
	w2, b2 = r.weights(out*hidden, 0.3), r.weights(out, 0.1)
	nodes := []onnxNode{
		{op: "MatMul", inputs: []string{"x", "w1"}, outputs: []string{"h0"}},
		{op: "Add", inputs: []string{"h0", "b1"}, outputs: []string{"h1"}},
		{op: "Relu", inputs: []string{"h1"}, outputs: []string{"h2"}},
		{op: "Gemm", inputs: []string{"h2", "w2", "b2"}, outputs: []string{"logits"},
			attrs: [][]byte{aInt("transB", 1), aFloat("alpha", 1), aFloat("beta", 1)}},
		{op: "Softmax", inputs: []string{"logits"}, outputs: []string{"probs"}, attrs: [][]byte{aInt("axis", -1)}},
		{op: "ArgMax", inputs: []string{"logits"}, outputs: []string{"class"}, attrs: [][]byte{aInt("axis", 1), aInt("keepdims", 0)}},
	}
	i, h, o := int64(in), int64(hidden), int64(out)
	inits := []onnxInit{
		{name: "w1", dims: []int64{i, h}, f32: w1, float: true},
		{name: "b1", dims: []int64{h}, f32: b1, float: true},
		{name: "w2", dims: []int64{o, h}, f32: w2, float: true},
		{name: "b2", dims: []int64{o}, f32: b2, float: true},
	}
	return modelProto(nodes, inits, [][]byte{valueInfo("x", 1, i)},
		[][]byte{valueInfo("logits", 1, o), valueInfo("probs", 1, o), valueInfo("class", 1)}), w1, b1, w2, b2
}
