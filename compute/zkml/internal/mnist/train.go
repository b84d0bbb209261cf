package mnist

import (
	"math"
	"math/rand/v2"

	"github.com/ciro-network/ciro-node/compute/model"
)

// Training in float64 with plain mini-batch SGD on softmax cross-entropy, deterministic for a
// seed. The trained weights are written as float32 ONNX initializers; compute/zkml/testdata
// holds the files the generator (./gen) wrote, so tests do not train.

// TrainConfig is the SGD schedule.
type TrainConfig struct {
	Epochs int
	Batch  int
	Rate   float64
	Seed   uint64
}

func softmaxGrad(logits []float64, label int, out []float64) {
	mx := logits[0]
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for i, v := range logits {
		out[i] = math.Exp(v - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	out[label]--
}

func initWeights(r *rand.Rand, n, fanIn int) []float64 {
	w := make([]float64, n)
	sd := math.Sqrt(2 / float64(fanIn))
	for i := range w {
		w[i] = r.NormFloat64() * sd
	}
	return w
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// dense is a fully connected layer, weights [out][in] (Gemm with transB).
type dense struct {
	in, out int
	w, b    []float64
	gw, gb  []float64
}

func newDense(r *rand.Rand, in, out int) *dense {
	return &dense{in: in, out: out, w: initWeights(r, in*out, in), b: make([]float64, out),
		gw: make([]float64, in*out), gb: make([]float64, out)}
}

func (d *dense) forward(x, y []float64) {
	for j := 0; j < d.out; j++ {
		s := d.b[j]
		row := d.w[j*d.in : (j+1)*d.in]
		for i, v := range x {
			s += v * row[i]
		}
		y[j] = s
	}
}

// backward accumulates gradients and writes dx when it is not nil.
func (d *dense) backward(x, dy, dx []float64) {
	for j := 0; j < d.out; j++ {
		g := dy[j]
		d.gb[j] += g
		row := d.gw[j*d.in : (j+1)*d.in]
		for i, v := range x {
			row[i] += g * v
		}
	}
	if dx != nil {
		clear(dx)
		for j := 0; j < d.out; j++ {
			g := dy[j]
			row := d.w[j*d.in : (j+1)*d.in]
			for i := range dx {
				dx[i] += g * row[i]
			}
		}
	}
}

func (d *dense) step(rate float64) {
	for i := range d.w {
		d.w[i] -= rate * d.gw[i]
		d.gw[i] = 0
	}
	for i := range d.b {
		d.b[i] -= rate * d.gb[i]
		d.gb[i] = 0
	}
}

func (d *dense) inits(w, b string) []model.ONNXInit {
	return []model.ONNXInit{
		{Name: w, Dims: []int64{int64(d.out), int64(d.in)}, F32: f32(d.w)},
		{Name: b, Dims: []int64{int64(d.out)}, F32: f32(d.b)},
	}
}

func gemm(in, w, b, out string) model.ONNXNode {
	return model.ONNXNode{Op: "Gemm", Inputs: []string{in, w, b}, Outputs: []string{out},
		Attrs: [][]byte{model.IntAttr("transB", 1)}}
}

func argmaxNode() model.ONNXNode {
	return model.ONNXNode{Op: "ArgMax", Inputs: []string{"logits"}, Outputs: []string{"class"},
		Attrs: [][]byte{model.IntAttr("axis", 1), model.IntAttr("keepdims", 0)}}
}

var (
	inputX  = []model.ONNXValue{{Name: "x", Dims: []int64{1, 784}}}
	outputs = []model.ONNXValue{{Name: "logits", Dims: []int64{1, 10}}, {Name: "class", Dims: []int64{1}}}
)

// sgd runs the schedule: perImage accumulates one image's gradients, step applies them.
func sgd(set *Set, cfg TrainConfig, perImage func(x []float64, label int), step func(rate float64)) {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	order := make([]int, len(set.Images))
	for i := range order {
		order[i] = i
	}
	for e := 0; e < cfg.Epochs; e++ {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		rate := cfg.Rate / float64(1+e) / float64(cfg.Batch)
		for b := 0; b+cfg.Batch <= len(order); b += cfg.Batch {
			for _, i := range order[b : b+cfg.Batch] {
				perImage(Floats(set.Images[i]), set.Labels[i])
			}
			step(rate)
		}
	}
}

// TrainMLP trains 784 → hidden → 10 with ReLU (hidden 0: logistic regression, 784 → 10) and
// returns the ONNX model: Gemm (→ Relu → Gemm) = logits, ArgMax = class.
func TrainMLP(set *Set, hidden int, cfg TrainConfig) []byte {
	r := rand.New(rand.NewPCG(cfg.Seed, 1))
	var l1, l2 *dense
	if hidden > 0 {
		l1 = newDense(r, 784, hidden)
		l2 = newDense(r, hidden, 10)
	} else {
		l2 = newDense(r, 784, 10)
	}
	h := make([]float64, max(hidden, 1))
	dh := make([]float64, max(hidden, 1))
	logits, dl := make([]float64, 10), make([]float64, 10)
	sgd(set, cfg, func(x []float64, label int) {
		in := x
		if l1 != nil {
			l1.forward(x, h)
			for i := range h {
				h[i] = math.Max(h[i], 0)
			}
			in = h
		}
		l2.forward(in, logits)
		softmaxGrad(logits, label, dl)
		if l1 == nil {
			l2.backward(in, dl, nil)
			return
		}
		l2.backward(in, dl, dh)
		for i := range dh {
			if h[i] <= 0 {
				dh[i] = 0
			}
		}
		l1.backward(x, dh, nil)
	}, func(rate float64) {
		if l1 != nil {
			l1.step(rate)
		}
		l2.step(rate)
	})
	if l1 == nil {
		return model.WriteONNX([]model.ONNXNode{gemm("x", "w", "b", "logits"), argmaxNode()},
			l2.inits("w", "b"), inputX, outputs)
	}
	nodes := []model.ONNXNode{
		gemm("x", "w1", "b1", "h"),
		{Op: "Relu", Inputs: []string{"h"}, Outputs: []string{"r"}},
		gemm("r", "w2", "b2", "logits"),
		argmaxNode(),
	}
	return model.WriteONNX(nodes, append(l1.inits("w1", "b1"), l2.inits("w2", "b2")...), inputX, outputs)
}
