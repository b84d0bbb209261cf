package model

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny ONNX writer for tests, written against the ONNX schema independently of the decoder.

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
	g = protowire.AppendString(g, "test")
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
	m = protowire.AppendString(m, "ciro-test")
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

// mlp is 784 → MatMul+Add (32) → Relu → Gemm(transB, 10) = logits; probs = Softmax(logits);
// class = ArgMax(logits).
func mlp(seed uint64) (model []byte, w1, b1, w2, b2 []float32) {
	r := rng(seed)
	w1, b1 = r.weights(784*32, 0.08), r.weights(32, 0.1)
	w2, b2 = r.weights(10*32, 0.3), r.weights(10, 0.1)
	nodes := []onnxNode{
		{op: "MatMul", inputs: []string{"x", "w1"}, outputs: []string{"h0"}},
		{op: "Add", inputs: []string{"h0", "b1"}, outputs: []string{"h1"}},
		{op: "Relu", inputs: []string{"h1"}, outputs: []string{"h2"}},
		{op: "Gemm", inputs: []string{"h2", "w2", "b2"}, outputs: []string{"logits"},
			attrs: [][]byte{aInt("transB", 1), aFloat("alpha", 1), aFloat("beta", 1)}},
		{op: "Softmax", inputs: []string{"logits"}, outputs: []string{"probs"}, attrs: [][]byte{aInt("axis", -1)}},
		{op: "ArgMax", inputs: []string{"logits"}, outputs: []string{"class"}, attrs: [][]byte{aInt("axis", 1), aInt("keepdims", 0)}},
	}
	inits := []onnxInit{
		{name: "w1", dims: []int64{784, 32}, f32: w1, float: true},
		{name: "b1", dims: []int64{32}, f32: b1, float: true},
		{name: "w2", dims: []int64{10, 32}, f32: w2, float: true},
		{name: "b2", dims: []int64{10}, f32: b2, float: true},
	}
	return modelProto(nodes, inits, [][]byte{valueInfo("x", 1, 784)},
		[][]byte{valueInfo("logits", 1, 10), valueInfo("probs", 1, 10), valueInfo("class", 1)}), w1, b1, w2, b2
}

// cnnWeights are the tiny CNN's parameters.
type cnnWeights struct {
	c1w, c1b, c2w, c2b, fw, fb []float32
}

// cnn is [1,784] → Reshape [1,1,28,28] → Conv 4×3×3 pad 1 → Relu → MaxPool 2 → Conv 8×3×3
// stride 1 → Sigmoid → MaxPool 2 stride 2 → Flatten → Gemm 10 = logits.
func cnn(seed uint64) ([]byte, cnnWeights) {
	r := rng(seed)
	w := cnnWeights{
		c1w: r.weights(4*1*3*3, 0.5), c1b: r.weights(4, 0.1),
		c2w: r.weights(8*4*3*3, 0.3), c2b: r.weights(8, 0.1),
		fw: r.weights(10*8*6*6, 0.1), fb: r.weights(10, 0.1),
	}
	nodes := []onnxNode{
		{op: "Reshape", inputs: []string{"x", "shape"}, outputs: []string{"img"}},
		{op: "Conv", inputs: []string{"img", "c1w", "c1b"}, outputs: []string{"c1"},
			attrs: [][]byte{aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1), aInts("strides", 1, 1)}},
		{op: "Relu", inputs: []string{"c1"}, outputs: []string{"r1"}},
		{op: "MaxPool", inputs: []string{"r1"}, outputs: []string{"p1"}, attrs: [][]byte{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}},
		{op: "Conv", inputs: []string{"p1", "c2w", "c2b"}, outputs: []string{"c2"}},
		{op: "Sigmoid", inputs: []string{"c2"}, outputs: []string{"s2"}},
		{op: "MaxPool", inputs: []string{"s2"}, outputs: []string{"p2"}, attrs: [][]byte{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}},
		{op: "Flatten", inputs: []string{"p2"}, outputs: []string{"flat"}},
		{op: "Gemm", inputs: []string{"flat", "fw", "fb"}, outputs: []string{"logits"}, attrs: [][]byte{aInt("transB", 1)}},
	}
	inits := []onnxInit{
		{name: "shape", dims: []int64{4}, i64: []int64{1, 1, 28, 28}},
		{name: "c1w", dims: []int64{4, 1, 3, 3}, f32: w.c1w, float: true},
		{name: "c1b", dims: []int64{4}, f32: w.c1b, float: true},
		{name: "c2w", dims: []int64{8, 4, 3, 3}, f32: w.c2w, float: true},
		{name: "c2b", dims: []int64{8}, f32: w.c2b, float: true},
		{name: "fw", dims: []int64{10, 288}, f32: w.fw, float: true},
		{name: "fb", dims: []int64{10}, f32: w.fb, float: true},
	}
	return modelProto(nodes, inits, [][]byte{valueInfo("x", 1, 784)}, [][]byte{valueInfo("logits", 1, 10)}), w
}

// digit draws a deterministic 28×28 "image" with pixel values in [0, 1] on a 1/255 grid.
func digit(seed uint64) []float32 {
	r := rng(seed)
	px := make([]float32, 784)
	for y := 4; y < 24; y++ {
		for x := 6; x < 22; x++ {
			if r.next()%3 != 0 {
				px[y*28+x] = float32(r.next()%256) / 255
			}
		}
	}
	return px
}
