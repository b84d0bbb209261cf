package model

// mlp is the tests' 784 → 32 → 10 perceptron (mlpModel).
func mlp(seed uint64) (model []byte, w1, b1, w2, b2 []float32) {
	return mlpModel(seed, 784, 32, 10)
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
