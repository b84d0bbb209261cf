package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/internal/cidtest"
)

// The reference below is written independently of the runtime: plain loops over the float32
// weights, quantised with float64 rounding, with the rounding shift as a floor division.

func refQ(f float32) int64 { return int64(math.Round(float64(f) * 65536)) }

func refSat(v int64) int64 { return max(min(v, math.MaxInt32), math.MinInt32) }

// refRescale is floor((acc + 2^15) / 2^16) written as a floor division.
func refRescale(acc int64) int64 {
	n := acc + 32768
	q := n / 65536
	if n%65536 != 0 && n < 0 {
		q--
	}
	return q
}

func quantInput(px []float32) Tensor {
	t := Tensor{Shape: []int{1, 784}, Data: make([]int32, 784)}
	for i, p := range px {
		t.Data[i] = int32(refQ(p))
	}
	return t
}

func refMLP(px, w1, b1, w2, b2 []float32) (logits []int64, class int) {
	h := make([]int64, 32)
	for j := 0; j < 32; j++ {
		var acc int64
		for i := 0; i < 784; i++ {
			acc += refQ(px[i]) * refQ(w1[i*32+j])
		}
		v := refSat(refSat(refRescale(acc)) + refQ(b1[j]))
		h[j] = max(v, 0)
	}
	logits = make([]int64, 10)
	for k := 0; k < 10; k++ {
		var acc int64
		for j := 0; j < 32; j++ {
			acc += h[j] * refQ(w2[k*32+j])
		}
		logits[k] = refSat(refRescale(acc) + refQ(b2[k]))
		if logits[k] > logits[class] {
			class = k
		}
	}
	return logits, class
}

func floatMLP(px, w1, b1, w2, b2 []float32) []float64 {
	h := make([]float64, 32)
	for j := range h {
		s := float64(b1[j])
		for i := 0; i < 784; i++ {
			s += float64(px[i]) * float64(w1[i*32+j])
		}
		h[j] = math.Max(s, 0)
	}
	out := make([]float64, 10)
	for k := range out {
		s := float64(b2[k])
		for j := 0; j < 32; j++ {
			s += h[j] * float64(w2[k*32+j])
		}
		out[k] = s
	}
	return out
}

func argmax64(v []float64) int {
	c := 0
	for i := range v {
		if v[i] > v[c] {
			c = i
		}
	}
	return c
}

func digest(t Tensor) string {
	s := sha256.Sum256(EncodeTensor(t))
	return hex.EncodeToString(s[:8])
}

// Golden digests of the logits: the runtime is bit-exact, so these hold on every machine.
const (
	goldenMLP = "240b8d5fb9a52930"
	goldenCNN = "013199f42f64a7ce"
)

func TestMLPBitExact(t *testing.T) {
	b, w1, b1, w2, b2 := mlp(1)
	m, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	for img := uint64(0); img < 5; img++ {
		px := digit(100 + img)
		out, err := m.Run(context.Background(), map[string]Tensor{"x": quantInput(px)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ref, class := refMLP(px, w1, b1, w2, b2)
		logits := out["logits"]
		for k, v := range ref {
			if int64(logits.Data[k]) != v {
				t.Fatalf("image %d logit %d: runtime %d, reference %d", img, k, logits.Data[k], v)
			}
		}
		if got := out["class"]; !got.Int || len(got.Data) != 1 || int(got.Data[0]) != class {
			t.Fatalf("image %d: class %v, reference %d", img, got.Data, class)
		}
		fl := floatMLP(px, w1, b1, w2, b2)
		if argmax64(fl) != class {
			t.Fatalf("image %d: float class %d, integer class %d", img, argmax64(fl), class)
		}
		for k := range fl {
			if d := math.Abs(float64(logits.Data[k])/65536 - fl[k]); d > 0.01 {
				t.Fatalf("image %d logit %d: quantisation error %g", img, k, d)
			}
		}
		var sum int64
		for _, p := range out["probs"].Data {
			sum += int64(p)
		}
		if sum < 65536-10 || sum > 65536+10 {
			t.Fatalf("softmax sums to %d", sum)
		}
		if img == 0 && digest(logits) != goldenMLP {
			t.Errorf("MLP logits digest %s, golden %s", digest(logits), goldenMLP)
		}
	}
}

func refCNN(px []float32, w cnnWeights) []int64 {
	x := make([]int64, 784)
	for i := range px {
		x[i] = refQ(px[i])
	}
	conv := func(in []int64, C, H, W int, wt, bias []float32, M, pad int) ([]int64, int, int) {
		OH, OW := H+2*pad-2, W+2*pad-2
		out := make([]int64, M*OH*OW)
		for m := 0; m < M; m++ {
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					var acc int64
					for c := 0; c < C; c++ {
						for ky := 0; ky < 3; ky++ {
							for kx := 0; kx < 3; kx++ {
								iy, ix := oy+ky-pad, ox+kx-pad
								if iy >= 0 && iy < H && ix >= 0 && ix < W {
									acc += in[(c*H+iy)*W+ix] * refQ(wt[((m*C+c)*3+ky)*3+kx])
								}
							}
						}
					}
					out[(m*OH+oy)*OW+ox] = refSat(refRescale(acc) + refQ(bias[m]))
				}
			}
		}
		return out, OH, OW
	}
	pool := func(in []int64, C, H, W int) []int64 {
		out := make([]int64, C*(H/2)*(W/2))
		for c := 0; c < C; c++ {
			for y := 0; y < H/2; y++ {
				for x := 0; x < W/2; x++ {
					b := int64(math.MinInt64)
					for d := 0; d < 4; d++ {
						b = max(b, in[(c*H+2*y+d/2)*W+2*x+d%2])
					}
					out[(c*(H/2)+y)*(W/2)+x] = b
				}
			}
		}
		return out
	}
	c1, h, wd := conv(x, 1, 28, 28, w.c1w, w.c1b, 4, 1)
	for i := range c1 {
		c1[i] = max(c1[i], 0)
	}
	p1 := pool(c1, 4, h, wd)
	c2, h2, w2 := conv(p1, 4, 14, 14, w.c2w, w.c2b, 8, 0)
	for i := range c2 {
		c2[i] = int64(Sigmoid(int32(c2[i]))) // the sigmoid table is part of the spec
	}
	p2 := pool(c2, 8, h2, w2)
	logits := make([]int64, 10)
	for k := range logits {
		var acc int64
		for j, v := range p2 {
			acc += v * refQ(w.fw[k*288+j])
		}
		logits[k] = refSat(refRescale(acc) + refQ(w.fb[k]))
	}
	return logits
}

func TestCNNBitExact(t *testing.T) {
	b, w := cnn(2)
	m, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	for img := uint64(0); img < 3; img++ {
		px := digit(200 + img)
		out, err := m.Run(context.Background(), map[string]Tensor{"x": quantInput(px)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ref := refCNN(px, w)
		logits := out["logits"]
		if len(logits.Data) != 10 {
			t.Fatalf("shape %v", logits.Shape)
		}
		for k, v := range ref {
			if int64(logits.Data[k]) != v {
				t.Fatalf("image %d logit %d: runtime %d, reference %d", img, k, logits.Data[k], v)
			}
		}
		if img == 0 && digest(logits) != goldenCNN {
			t.Errorf("CNN logits digest %s, golden %s", digest(logits), goldenCNN)
		}
	}
}

func TestQuantizeMatchesRounding(t *testing.T) {
	r := rng(9)
	for i := 0; i < 200000; i++ {
		bits := uint32(r.next())
		f := math.Float32frombits(bits)
		got, err := QuantizeFloat32Bits(bits)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			if err == nil {
				t.Fatalf("%x: NaN/Inf accepted", bits)
			}
			continue
		}
		want := refSat(int64(math.Max(math.Min(math.Round(float64(f)*65536), 1<<40), -(1 << 40))))
		if err != nil || int64(got) != want {
			t.Fatalf("%x (%g): got %d, want %d (%v)", bits, f, got, want, err)
		}
	}
}

func TestSigmoidAndExpTables(t *testing.T) {
	for x := int32(-10 * One); x <= 10*One; x += 977 {
		s := float64(Sigmoid(x)) / One
		if d := math.Abs(s - 1/(1+math.Exp(-float64(x)/One))); d > 0.0015 {
			t.Fatalf("sigmoid(%d): error %g", x, d)
		}
		if x <= 0 {
			e := float64(ExpNeg(x)) / One
			if d := math.Abs(e - math.Exp(float64(x)/One)); d > 0.0015 {
				t.Fatalf("exp(%d): error %g", x, d)
			}
		}
	}
}

func TestExecutorWritesReproducibleResult(t *testing.T) {
	b, w1, b1, w2, b2 := mlp(1)
	px := digit(100)
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, InputFile), EncodeTensor(quantInput(px)), 0o644); err != nil {
		t.Fatal(err)
	}
	e := NewExecutor(Options{ResultRoot: t.TempDir()})
	job := compute.Job{ID: "m", Type: compute.AIInference, Executor: compute.ExecModel, Ref: "bafkreimodel"}
	var cids []string
	for i := 0; i < 2; i++ {
		res, err := e.Run(context.Background(), job, compute.Inputs{Dir: in, Artifact: b})
		if err != nil {
			t.Fatal(err)
		}
		var rj ResultJSON
		raw, _ := os.ReadFile(filepath.Join(res.OutputDir(), ResultFile))
		if err := json.Unmarshal(raw, &rj); err != nil {
			t.Fatal(err)
		}
		_, class := refMLP(px, w1, b1, w2, b2)
		if rj.Class == nil || *rj.Class != class || rj.Outputs[0].Name != "logits" {
			t.Fatalf("result.json %s", raw)
		}
		m, err := compute.ReadManifest(res.Dir)
		if err != nil || m.ModelCID != "bafkreimodel" || len(m.ModelSHA256) != 64 || m.Status != compute.StatusOK || m.Usage.PeakMemoryBytes == 0 {
			t.Fatalf("manifest %+v %v", m, err)
		}
		c, err := cidtest.DirCID(res.OutputDir())
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, c.String())
	}
	if cids[0] != cids[1] {
		t.Fatalf("CIDs differ %v", cids)
	}
	// Limits: a memory budget smaller than the activations fails as out of memory.
	job.Limits.MemoryBytes = 1024
	if res, err := e.Run(context.Background(), job, compute.Inputs{Dir: in, Artifact: b}); !errors.Is(err, compute.ErrOutOfMemory) || res.Status != compute.StatusOOM {
		t.Fatalf("budget: %v", err)
	}
	// A wrong-sized input is refused with a clear error.
	os.WriteFile(filepath.Join(in, InputFile), []byte{1, 2, 3}, 0o644)
	if _, err := e.Run(context.Background(), compute.Job{}, compute.Inputs{Dir: in, Artifact: b}); !errors.Is(err, compute.ErrModelInput) {
		t.Fatalf("bad input: %v", err)
	}
}

func TestUnsupportedAndMalformedModels(t *testing.T) {
	tanh := modelProto([]onnxNode{{op: "Tanh", inputs: []string{"x"}, outputs: []string{"y"}}}, nil,
		[][]byte{valueInfo("x", 1, 4)}, [][]byte{valueInfo("y", 1, 4)})
	if _, err := Load(tanh); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Tanh: %v", err)
	}
	alpha := modelProto([]onnxNode{{op: "Gemm", inputs: []string{"x", "x"}, outputs: []string{"y"}, attrs: [][]byte{aFloat("alpha", 0.5)}}}, nil,
		[][]byte{valueInfo("x", 4, 4)}, [][]byte{valueInfo("y", 4, 4)})
	if _, err := Load(alpha); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("alpha 0.5: %v", err)
	}
	order := modelProto([]onnxNode{
		{op: "Relu", inputs: []string{"h"}, outputs: []string{"y"}},
		{op: "Relu", inputs: []string{"x"}, outputs: []string{"h"}},
	}, nil, [][]byte{valueInfo("x", 1, 4)}, [][]byte{valueInfo("y", 1, 4)})
	if _, err := Load(order); !errors.Is(err, ErrProto) {
		t.Fatalf("order: %v", err)
	}
	b, _, _, _, _ := mlp(1)
	if _, err := Load(b[:len(b)/2]); err == nil {
		t.Fatal("truncated model loaded")
	}
	e := NewExecutor(Options{ResultRoot: t.TempDir()})
	_, err := e.Run(context.Background(), compute.Job{}, compute.Inputs{Artifact: tanh})
	if !errors.Is(err, compute.ErrModelUnsupported) || compute.Code(err) != "COMPUTE_MODEL_UNSUPPORTED" {
		t.Fatalf("executor: %v", err)
	}
}

// FuzzLoadAndRun feeds untrusted model bytes to the decoder and, when they load, runs them on
// a zero input under a small budget: nothing may panic or hang.
func FuzzLoadAndRun(f *testing.F) {
	// Small seeds that still use every operator: large seeds slow the fuzzer's mutator down.
	r := rng(3)
	f.Add(modelProto([]onnxNode{
		{op: "Reshape", inputs: []string{"x", "shape"}, outputs: []string{"img"}},
		{op: "Conv", inputs: []string{"img", "cw", "cb"}, outputs: []string{"c"}, attrs: [][]byte{aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1)}},
		{op: "Relu", inputs: []string{"c"}, outputs: []string{"r"}},
		{op: "MaxPool", inputs: []string{"r"}, outputs: []string{"p"}, attrs: [][]byte{aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)}},
		{op: "Sigmoid", inputs: []string{"p"}, outputs: []string{"s"}},
		{op: "Flatten", inputs: []string{"s"}, outputs: []string{"f"}},
		{op: "MatMul", inputs: []string{"f", "w"}, outputs: []string{"m"}},
		{op: "Add", inputs: []string{"m", "b"}, outputs: []string{"a"}},
		{op: "Gemm", inputs: []string{"a", "w2", "b2"}, outputs: []string{"logits"}, attrs: [][]byte{aInt("transB", 1)}},
		{op: "Softmax", inputs: []string{"logits"}, outputs: []string{"probs"}},
		{op: "ArgMax", inputs: []string{"logits"}, outputs: []string{"class"}, attrs: [][]byte{aInt("axis", 1)}},
	}, []onnxInit{
		{name: "shape", dims: []int64{4}, i64: []int64{1, 1, 4, 4}},
		{name: "cw", dims: []int64{2, 1, 3, 3}, f32: r.weights(18, 1), float: true},
		{name: "cb", dims: []int64{2}, f32: r.weights(2, 1), float: true},
		{name: "w", dims: []int64{8, 3}, f32: r.weights(24, 1), float: true},
		{name: "b", dims: []int64{3}, f32: r.weights(3, 1), float: true},
		{name: "w2", dims: []int64{2, 3}, f32: r.weights(6, 1), float: true},
		{name: "b2", dims: []int64{1, 2}, f32: r.weights(2, 1), float: true},
	}, [][]byte{valueInfo("x", 1, 16)}, [][]byte{valueInfo("probs", 1, 2), valueInfo("class", 1, 1)}))
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			return
		}
		in := m.Inputs()[0]
		shape := make([]int, len(in.Shape))
		for i, d := range in.Shape {
			shape[i] = int(min(max(d, 1), 64))
		}
		n := NumElems(shape)
		if n < 0 || n > 1<<16 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m.Run(ctx, map[string]Tensor{in.Name: {Shape: shape, Data: make([]int32, n)}}, 1<<22)
	})
}
