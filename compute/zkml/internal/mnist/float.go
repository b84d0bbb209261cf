package mnist

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ciro-network/ciro-node/compute/model"
)

// FloatModel is the float64 reference of an ONNX model in the subset the zk circuits cover:
// the same graph on the float32 weights, without quantization. It is what the integer
// runtime's accuracy is compared with, and the baseline of the proving benchmarks.
type FloatModel struct {
	g      *model.Graph
	consts map[string]ftensor
}

type ftensor struct {
	shape []int
	d     []float64
}

// LoadFloat reads an ONNX model's graph and float weights.
func LoadFloat(onnx []byte) (*FloatModel, error) {
	g, err := model.ParseModel(onnx)
	if err != nil {
		return nil, err
	}
	fm := &FloatModel{g: g, consts: map[string]ftensor{}}
	for _, t := range g.Initializers {
		shape := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int(d)
		}
		var d []float64
		switch {
		case t.DataType == 1 && t.Raw != nil:
			for i := 0; i+4 <= len(t.Raw); i += 4 {
				d = append(d, float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[i:]))))
			}
		case t.DataType == 1:
			for _, b := range t.FloatBits {
				d = append(d, float64(math.Float32frombits(b)))
			}
		case t.DataType == 7:
			for _, v := range t.Int64s {
				d = append(d, float64(v))
			}
		default:
			return nil, fmt.Errorf("mnist: initializer %q of type %d", t.Name, t.DataType)
		}
		fm.consts[t.Name] = ftensor{shape: shape, d: d}
	}
	return fm, nil
}

// Logits runs the graph on one image and returns the "logits" output.
func (fm *FloatModel) Logits(x []float64) ([]float64, error) {
	env := map[string]ftensor{}
	for k, v := range fm.consts {
		env[k] = v
	}
	for _, in := range fm.g.Inputs {
		if _, ok := env[in.Name]; !ok {
			env[in.Name] = ftensor{shape: []int{1, len(x)}, d: x}
		}
	}
	for _, n := range fm.g.Nodes {
		args := make([]ftensor, len(n.Inputs))
		for i, name := range n.Inputs {
			args[i] = env[name]
		}
		out, err := fapply(n, args)
		if err != nil {
			return nil, err
		}
		env[n.Outputs[0]] = out
	}
	out, ok := env["logits"]
	if !ok {
		return nil, fmt.Errorf("mnist: the model has no logits output")
	}
	return out.d, nil
}

// Class is the argmax of the logits, first maximum on ties.
func Class(logits []float64) int {
	c := 0
	for i, v := range logits {
		if v > logits[c] {
			c = i
		}
	}
	return c
}

func ints(n model.Node, name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.Ints
	}
	return def
}

func fapply(n model.Node, a []ftensor) (ftensor, error) {
	switch n.OpType {
	case "Gemm", "MatMul":
		x, w := a[0], a[1]
		trans := false
		if at, ok := n.Attrs["transB"]; ok && at.I != 0 {
			trans = true
		}
		m, k := x.shape[0], x.shape[1]
		nn := w.shape[1]
		if trans {
			nn = w.shape[0]
		}
		out := ftensor{shape: []int{m, nn}, d: make([]float64, m*nn)}
		for i := 0; i < m; i++ {
			for j := 0; j < nn; j++ {
				s := 0.0
				for t := 0; t < k; t++ {
					if trans {
						s += x.d[i*k+t] * w.d[j*k+t]
					} else {
						s += x.d[i*k+t] * w.d[t*nn+j]
					}
				}
				if len(a) == 3 {
					s += a[2].d[j%len(a[2].d)]
				}
				out.d[i*nn+j] = s
			}
		}
		return out, nil
	case "Add":
		out := ftensor{shape: a[0].shape, d: make([]float64, len(a[0].d))}
		for i := range out.d {
			out.d[i] = a[0].d[i] + a[1].d[i%len(a[1].d)]
		}
		return out, nil
	case "Relu":
		out := ftensor{shape: a[0].shape, d: make([]float64, len(a[0].d))}
		for i, v := range a[0].d {
			out.d[i] = math.Max(v, 0)
		}
		return out, nil
	case "Reshape":
		shape := make([]int, len(a[1].d))
		for i, v := range a[1].d {
			shape[i] = int(v)
		}
		return ftensor{shape: shape, d: a[0].d}, nil
	case "Flatten":
		return ftensor{shape: []int{a[0].shape[0], len(a[0].d) / a[0].shape[0]}, d: a[0].d}, nil
	case "Conv":
		x, w := a[0], a[1]
		C, H, W := x.shape[1], x.shape[2], x.shape[3]
		M, kh, kw := w.shape[0], w.shape[2], w.shape[3]
		pads := ints(n, "pads", []int64{0, 0, 0, 0})
		pt, pl := int(pads[0]), int(pads[1])
		OH, OW := H+pt+int(pads[2])-kh+1, W+pl+int(pads[3])-kw+1
		out := ftensor{shape: []int{1, M, OH, OW}, d: make([]float64, M*OH*OW)}
		for m := 0; m < M; m++ {
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					s := 0.0
					for c := 0; c < C; c++ {
						for ky := 0; ky < kh; ky++ {
							iy := oy + ky - pt
							if iy < 0 || iy >= H {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := ox + kx - pl
								if ix < 0 || ix >= W {
									continue
								}
								s += x.d[(c*H+iy)*W+ix] * w.d[((m*C+c)*kh+ky)*kw+kx]
							}
						}
					}
					if len(a) == 3 {
						s += a[2].d[m]
					}
					out.d[(m*OH+oy)*OW+ox] = s
				}
			}
		}
		return out, nil
	case "MaxPool":
		x := a[0]
		k := ints(n, "kernel_shape", nil)
		st := ints(n, "strides", []int64{1, 1})
		C, H, W := x.shape[1], x.shape[2], x.shape[3]
		kh, kw, sh, sw := int(k[0]), int(k[1]), int(st[0]), int(st[1])
		OH, OW := (H-kh)/sh+1, (W-kw)/sw+1
		out := ftensor{shape: []int{1, C, OH, OW}, d: make([]float64, C*OH*OW)}
		for c := 0; c < C; c++ {
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					best := math.Inf(-1)
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							best = math.Max(best, x.d[(c*H+oy*sh+ky)*W+ox*sw+kx])
						}
					}
					out.d[(c*OH+oy)*OW+ox] = best
				}
			}
		}
		return out, nil
	case "ArgMax":
		return ftensor{shape: []int{1}, d: []float64{float64(Class(a[0].d))}}, nil
	}
	return ftensor{}, fmt.Errorf("mnist: no float reference for %q", n.OpType)
}
