package mnist

import (
	"math"
	"math/rand/v2"

	"github.com/ciro-network/ciro-node/compute/model"
)

// conv is a valid (unpadded), stride-1 convolution with its gradients.
type conv struct {
	c, m, k int // input channels, maps, kernel side
	w, b    []float64
	gw, gb  []float64
}

func newConv(r *rand.Rand, c, m, k int) *conv {
	return &conv{c: c, m: m, k: k, w: initWeights(r, m*c*k*k, c*k*k), b: make([]float64, m),
		gw: make([]float64, m*c*k*k), gb: make([]float64, m)}
}

// forward maps x [c][h][h] to y [m][h-k+1][h-k+1].
func (cv *conv) forward(x []float64, h int, y []float64) {
	o := h - cv.k + 1
	for m := 0; m < cv.m; m++ {
		for oy := 0; oy < o; oy++ {
			for ox := 0; ox < o; ox++ {
				s := cv.b[m]
				for c := 0; c < cv.c; c++ {
					for ky := 0; ky < cv.k; ky++ {
						xr := x[(c*h+oy+ky)*h+ox:]
						wr := cv.w[((m*cv.c+c)*cv.k+ky)*cv.k:]
						for kx := 0; kx < cv.k; kx++ {
							s += xr[kx] * wr[kx]
						}
					}
				}
				y[(m*o+oy)*o+ox] = s
			}
		}
	}
}

func (cv *conv) backward(x []float64, h int, dy, dx []float64) {
	o := h - cv.k + 1
	if dx != nil {
		clear(dx)
	}
	for m := 0; m < cv.m; m++ {
		for oy := 0; oy < o; oy++ {
			for ox := 0; ox < o; ox++ {
				g := dy[(m*o+oy)*o+ox]
				if g == 0 {
					continue
				}
				cv.gb[m] += g
				for c := 0; c < cv.c; c++ {
					for ky := 0; ky < cv.k; ky++ {
						base := (c*h+oy+ky)*h + ox
						wb := ((m*cv.c+c)*cv.k + ky) * cv.k
						for kx := 0; kx < cv.k; kx++ {
							cv.gw[wb+kx] += g * x[base+kx]
							if dx != nil {
								dx[base+kx] += g * cv.w[wb+kx]
							}
						}
					}
				}
			}
		}
	}
}

func (cv *conv) step(rate float64) {
	for i := range cv.w {
		cv.w[i] -= rate * cv.gw[i]
		cv.gw[i] = 0
	}
	for i := range cv.b {
		cv.b[i] -= rate * cv.gb[i]
		cv.gb[i] = 0
	}
}

// reluPool applies ReLU then a 2×2 stride-2 max pool to z [c][h][h], recording the winners.
func reluPool(z []float64, c, h int, p []float64, idx []int) {
	o := h / 2
	for ch := 0; ch < c; ch++ {
		for oy := 0; oy < o; oy++ {
			for ox := 0; ox < o; ox++ {
				best, bi := math.Inf(-1), 0
				for ky := 0; ky < 2; ky++ {
					for kx := 0; kx < 2; kx++ {
						i := (ch*h+2*oy+ky)*h + 2*ox + kx
						if v := math.Max(z[i], 0); v > best {
							best, bi = v, i
						}
					}
				}
				p[(ch*o+oy)*o+ox], idx[(ch*o+oy)*o+ox] = best, bi
			}
		}
	}
}

// unpool routes dp back to the winners, through the ReLU.
func unpool(dp []float64, idx []int, z, dz []float64) {
	clear(dz)
	for i, g := range dp {
		if z[idx[i]] > 0 {
			dz[idx[i]] += g
		}
	}
}

// TrainCNN trains a LeNet-like network: [1,784] → Reshape [1,1,28,28] → Conv 4×5×5 → Relu →
// MaxPool 2 → Conv 8×5×5 → Relu → MaxPool 2 → Flatten (128) → Gemm 10 = logits, ArgMax = class.
func TrainCNN(set *Set, cfg TrainConfig) []byte {
	r := rand.New(rand.NewPCG(cfg.Seed, 2))
	c1, c2 := newConv(r, 1, 4, 5), newConv(r, 4, 8, 5)
	fc := newDense(r, 128, 10)
	z1, p1, i1 := make([]float64, 4*24*24), make([]float64, 4*12*12), make([]int, 4*12*12)
	z2, p2, i2 := make([]float64, 8*8*8), make([]float64, 8*4*4), make([]int, 8*4*4)
	dz1, dp1, dz2, dp2 := make([]float64, len(z1)), make([]float64, len(p1)), make([]float64, len(z2)), make([]float64, len(p2))
	logits, dl := make([]float64, 10), make([]float64, 10)
	sgd(set, cfg, func(x []float64, label int) {
		c1.forward(x, 28, z1)
		reluPool(z1, 4, 24, p1, i1)
		c2.forward(p1, 12, z2)
		reluPool(z2, 8, 8, p2, i2)
		fc.forward(p2, logits)
		softmaxGrad(logits, label, dl)
		fc.backward(p2, dl, dp2)
		unpool(dp2, i2, z2, dz2)
		c2.backward(p1, 12, dz2, dp1)
		unpool(dp1, i1, z1, dz1)
		c1.backward(x, 28, dz1, nil)
	}, func(rate float64) {
		c1.step(rate)
		c2.step(rate)
		fc.step(rate)
	})
	pool := [][]byte{model.IntsAttr("kernel_shape", 2, 2), model.IntsAttr("strides", 2, 2)}
	nodes := []model.ONNXNode{
		{Op: "Reshape", Inputs: []string{"x", "shape"}, Outputs: []string{"img"}},
		{Op: "Conv", Inputs: []string{"img", "c1w", "c1b"}, Outputs: []string{"z1"}, Attrs: [][]byte{model.IntsAttr("kernel_shape", 5, 5)}},
		{Op: "Relu", Inputs: []string{"z1"}, Outputs: []string{"a1"}},
		{Op: "MaxPool", Inputs: []string{"a1"}, Outputs: []string{"p1"}, Attrs: pool},
		{Op: "Conv", Inputs: []string{"p1", "c2w", "c2b"}, Outputs: []string{"z2"}, Attrs: [][]byte{model.IntsAttr("kernel_shape", 5, 5)}},
		{Op: "Relu", Inputs: []string{"z2"}, Outputs: []string{"a2"}},
		{Op: "MaxPool", Inputs: []string{"a2"}, Outputs: []string{"p2"}, Attrs: pool},
		{Op: "Flatten", Inputs: []string{"p2"}, Outputs: []string{"flat"}},
		gemm("flat", "fw", "fb", "logits"),
		argmaxNode(),
	}
	inits := []model.ONNXInit{
		{Name: "shape", Dims: []int64{4}, I64: []int64{1, 1, 28, 28}},
		{Name: "c1w", Dims: []int64{4, 1, 5, 5}, F32: f32(c1.w)},
		{Name: "c1b", Dims: []int64{4}, F32: f32(c1.b)},
		{Name: "c2w", Dims: []int64{8, 4, 5, 5}, F32: f32(c2.w)},
		{Name: "c2b", Dims: []int64{8}, F32: f32(c2.b)},
	}
	inits = append(inits, fc.inits("fw", "fb")...)
	return model.WriteONNX(nodes, inits, inputX, outputs)
}
