package zkml

import (
	"context"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"

	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/compute/zkml/internal/mnist"
)

// The MNIST models in testdata were trained on the MNIST training set by
// internal/mnist/gen and written with compute/model's ONNX writer.
var testModels = []struct {
	file   string
	minAcc float64 // accuracy on the test images that the native runtime must reach
	plain  int     // images checked with the Plain variant too (its circuits are larger)
}{
	{"logreg.onnx", 0.88, 100},
	{"mlp784_56_10.onnx", 0.95, 100},
	{"cnn.onnx", 0.95, 5},
}

func readModel(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	testSetOnce sync.Once
	testSet     *mnist.Set
	testSetErr  error
)

func mnistTest(t testing.TB) *mnist.Set {
	t.Helper()
	testSetOnce.Do(func() { testSet, testSetErr = mnist.Test() })
	if testSetErr != nil {
		t.Fatal(testSetErr)
	}
	return testSet
}

func compile(t testing.TB, onnx []byte, opts Options) *Compiled {
	t.Helper()
	c, err := Compile(onnx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// agreement solves the circuit on images [0, n): the witness is the native runtime's output,
// so a solved system means the circuit computes the same integers. It returns the runtime's
// classes.
func agreement(t *testing.T, c *Compiled, set *mnist.Set, n int) []int {
	t.Helper()
	classes := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	workers := 2
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				pub, err := c.Solve(mnist.Quantize(set.Images[i]))
				if err != nil {
					errs[i] = err
					continue
				}
				classes[i] = int(pub.Outputs[len(pub.Outputs)-1])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
	}
	return classes
}

// TestAgreementMNIST: on the MNIST test images, the circuit's outputs equal the native
// runtime's (1,000 images per model with the Commit variant, 5 to 100 with Plain; 10 in -short),
// and the runtime's accuracy stays close to the float model's.
func TestAgreementMNIST(t *testing.T) {
	set := mnistTest(t)
	n := 1000
	if testing.Short() {
		n = 10
	}
	for _, tm := range testModels {
		t.Run(tm.file, func(t *testing.T) {
			if testing.Short() && tm.file == "cnn.onnx" {
				t.Skip("the race pass checks the dense models; the full run checks the CNN on 1,000 images")
			}
			onnx := readModel(t, tm.file)
			c := compile(t, onnx, Options{InputBits: mnist.InputBits})
			classes := agreement(t, c, set, n)
			fm, err := mnist.LoadFloat(onnx)
			if err != nil {
				t.Fatal(err)
			}
			var right, floatRight, same int
			for i := 0; i < n; i++ {
				logits, err := fm.Logits(mnist.Floats(set.Images[i]))
				if err != nil {
					t.Fatal(err)
				}
				fc := mnist.Class(logits)
				if classes[i] == set.Labels[i] {
					right++
				}
				if fc == set.Labels[i] {
					floatRight++
				}
				if fc == classes[i] {
					same++
				}
			}
			acc, facc := float64(right)/float64(n), float64(floatRight)/float64(n)
			t.Logf("%s: %d constraints; on %d test images the circuit agrees with the runtime; accuracy runtime %.4f, float %.4f, same class %d/%d",
				tm.file, c.CCS.GetNbConstraints(), n, acc, facc, same, n)
			if !testing.Short() && acc < tm.minAcc {
				t.Errorf("runtime accuracy %.4f below %.2f", acc, tm.minAcc)
			}
			if same < n*98/100 {
				t.Errorf("the runtime and the float model disagree on %d of %d images", n-same, n)
			}
			if testing.Short() {
				return // the race pass: the Plain variant's larger circuits are for the full run
			}
			cp := compile(t, onnx, Options{Variant: Plain, InputBits: mnist.InputBits})
			agreement(t, cp, set, tm.plain)
			t.Logf("%s plain: %d constraints, agrees on %d images", tm.file, cp.CCS.GetNbConstraints(), tm.plain)
		})
	}
}

// satModel is x [1,4] → MatMul W [4,3] → Add b → y, with ArgMax: built so that the MatMul
// saturates both ways and the Add then moves off the rails, which only a circuit that
// saturates twice, exactly where the runtime does, reproduces.
func satModel(w []float32) []byte {
	return model.WriteONNX(
		[]model.ONNXNode{
			{Op: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"m"}},
			{Op: "Add", Inputs: []string{"m", "b"}, Outputs: []string{"y"}},
			{Op: "ArgMax", Inputs: []string{"y"}, Outputs: []string{"class"}, Attrs: [][]byte{model.IntAttr("axis", 1), model.IntAttr("keepdims", 0)}},
		},
		[]model.ONNXInit{
			{Name: "w", Dims: []int64{4, 3}, F32: w},
			{Name: "b", Dims: []int64{3}, F32: []float32{-2, 3, 0.5}},
		},
		[]model.ONNXValue{{Name: "x", Dims: []int64{1, 4}}},
		[]model.ONNXValue{{Name: "y", Dims: []int64{1, 3}}, {Name: "class", Dims: []int64{1}}},
	)
}

// Columns: x0+x1 (saturates up), x2+x3 (saturates down), x0-x1.
var satWeights = []float32{1, 0, 1, 1, 0, -1, 0, 1, 0, 0, 1, 0}

func TestSaturation(t *testing.T) {
	x := model.Tensor{Shape: []int{1, 4}, Data: []int32{math.MaxInt32, math.MaxInt32, math.MinInt32, -5}}
	// By the runtime's rules: Sat32(2·MAX) + (-2.0) = MAX - 131072; Sat32(MIN-5) + 3.0 =
	// MIN + 196608; 0 + 0.5 = 32768; the first is the largest.
	want := []int32{math.MaxInt32 - 131072, math.MinInt32 + 196608, 32768, 0}
	for _, v := range []Variant{Commit, Plain} {
		c := compile(t, satModel(satWeights), Options{Variant: v})
		pub, err := c.Solve(x)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		for i := range want {
			if pub.Outputs[i] != want[i] {
				t.Fatalf("%v: outputs %v, want %v", v, pub.Outputs, want)
			}
		}
		// A witness that skips the first saturation (2·MAX - 2.0, clamped once) is refused.
		a := c.plan.assignment(x.Data, []int32{math.MaxInt32, math.MinInt32 + 196608, 32768, 0})
		if err := solveAssignment(c, a); err == nil {
			t.Fatalf("%v: a single saturation was accepted", v)
		}
	}
}

// TestExtremeInputs: the MLP over full-range int32 inputs (where hidden units saturate)
// still agrees with the runtime.
func TestExtremeInputs(t *testing.T) {
	c := compile(t, readModel(t, "mlp784_56_10.onnx"), Options{})
	x := model.Tensor{Shape: []int{1, 784}, Data: make([]int32, 784)}
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, s := range seeds {
		r := s
		for i := range x.Data {
			r = r*6364136223846793005 + 1442695040888963407
			switch r >> 62 {
			case 0:
				x.Data[i] = math.MaxInt32
			case 1:
				x.Data[i] = math.MinInt32
			default:
				x.Data[i] = int32(r >> 32)
			}
		}
		out, err := c.Run(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		saturated := false
		for _, v := range out[:10] {
			saturated = saturated || v == math.MaxInt32 || v == math.MinInt32
		}
		if _, err := c.Solve(x); err != nil {
			t.Fatalf("seed %d: %v", s, err)
		}
		t.Logf("seed %d: logits %v (saturated: %v)", s, out[:10], saturated)
	}
}

func solveAssignment(c *Compiled, a *circuit) error {
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		return err
	}
	return c.CCS.IsSolved(w)
}

// TestLyingProver: a prover whose hints lie (a quotient off by one with its remainder moved to
// match, or a comparison flipped) cannot satisfy the circuit, nor can one that claims other
// outputs than the runtime's.
func TestLyingProver(t *testing.T) {
	set := mnistTest(t)
	c := compile(t, readModel(t, "mlp784_56_10.onnx"), Options{InputBits: mnist.InputBits})
	x := mnist.Quantize(set.Images[0])
	outs, err := c.Run(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(c.plan.assignment(x.Data, outs), ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CCS.IsSolved(w); err != nil {
		t.Fatalf("the honest witness: %v", err)
	}
	offByOne := func(p *big.Int, in, out []*big.Int) error {
		if err := floorDivHint(p, in, out); err != nil {
			return err
		}
		out[0].Sub(out[0], big.NewInt(1)).Mod(out[0], p)
		out[1].Add(out[1], in[1])
		return nil
	}
	flipped := func(p *big.Int, in, out []*big.Int) error {
		if err := gtHint(p, in, out); err != nil {
			return err
		}
		out[0].Xor(out[0], big.NewInt(1))
		return nil
	}
	for name, o := range map[string]solver.Option{
		"quotient": solver.OverrideHint(solver.GetHintID(floorDivHint), offByOne),
		"sign":     solver.OverrideHint(solver.GetHintID(gtHint), flipped),
	} {
		if err := c.CCS.IsSolved(w, o); err == nil {
			t.Errorf("a lying %s hint satisfied the circuit", name)
		}
	}
	for i := range outs {
		lie := append([]int32(nil), outs...)
		lie[i]++
		w, err := frontend.NewWitness(c.plan.assignment(x.Data, lie), ecc.BN254.ScalarField())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CCS.IsSolved(w); err == nil {
			t.Fatalf("output %d changed by one satisfied the circuit", i)
		}
	}
}

// TestSigmoidTable: a Sigmoid layer agrees with the runtime's table interpolation over the
// whole table, at its ends, beyond them, and on the steps' edges, in both variants.
func TestSigmoidTable(t *testing.T) {
	const n = 64
	onnx := model.WriteONNX(
		[]model.ONNXNode{
			{Op: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"z"}},
			{Op: "Sigmoid", Inputs: []string{"z"}, Outputs: []string{"y"}},
		},
		[]model.ONNXInit{{Name: "b", Dims: []int64{1}, F32: []float32{0.25}}},
		[]model.ONNXValue{{Name: "x", Dims: []int64{1, n}}},
		[]model.ONNXValue{{Name: "y", Dims: []int64{1, n}}},
	)
	inputs := [][]int32{make([]int32, n), make([]int32, n), make([]int32, n)}
	for i := 0; i < n; i++ {
		// Spread over [-9, 9], the table's step edges ±1, and the int32 extremes.
		inputs[0][i] = int32((i - n/2) * 9 * model.One / (n / 2))
		inputs[1][i] = int32((i-n/2)*4096 - 16384 + i%3 - 1)
		inputs[2][i] = []int32{math.MaxInt32, math.MinInt32, -8*model.One - 16384, 8*model.One - 16384, 0, -1}[i%6]
	}
	variants := []Variant{Commit, Plain}
	if testing.Short() {
		variants = variants[:1]
	}
	for _, v := range variants {
		c := compile(t, onnx, Options{Variant: v})
		for k, in := range inputs {
			x := model.Tensor{Shape: []int{1, n}, Data: in}
			pub, err := c.Solve(x)
			if err != nil {
				t.Fatalf("%v, inputs %d: %v", v, k, err)
			}
			for i, y := range pub.Outputs {
				z := int32(max(min(int64(in[i])+16384, math.MaxInt32), math.MinInt32))
				if y != model.Sigmoid(z) {
					t.Fatalf("%v: sigmoid(%d) = %d, the runtime gives %d", v, z, y, model.Sigmoid(z))
				}
			}
		}
		t.Logf("%v: %d constraints for %d sigmoids", v, c.CCS.GetNbConstraints(), n)
	}
}

// TestAccuracyMNIST: on the whole MNIST test set (10,000 images), the native runtime's accuracy
// against the float model's, per model (no circuit: the agreement test covers that).
func TestAccuracyMNIST(t *testing.T) {
	set := mnistTest(t)
	n := len(set.Images)
	if testing.Short() {
		n = 30
	}
	for _, tm := range testModels {
		onnx := readModel(t, tm.file)
		c := compile(t, onnx, Options{InputBits: mnist.InputBits})
		fm, err := mnist.LoadFloat(onnx)
		if err != nil {
			t.Fatal(err)
		}
		var right, floatRight, same int
		for i := 0; i < n; i++ {
			out, err := c.Run(context.Background(), mnist.Quantize(set.Images[i]))
			if err != nil {
				t.Fatal(err)
			}
			logits, err := fm.Logits(mnist.Floats(set.Images[i]))
			if err != nil {
				t.Fatal(err)
			}
			class, fc := int(out[len(out)-1]), mnist.Class(logits)
			if class == set.Labels[i] {
				right++
			}
			if fc == set.Labels[i] {
				floatRight++
			}
			if class == fc {
				same++
			}
		}
		acc := float64(right) / float64(n)
		t.Logf("%s on %d test images: runtime %.4f, float %.4f, same class on %d", tm.file, n, acc, float64(floatRight)/float64(n), same)
		if acc < tm.minAcc {
			t.Errorf("%s: runtime accuracy %.4f below %.2f", tm.file, acc, tm.minAcc)
		}
		if same < n*99/100 {
			t.Errorf("%s: the runtime and the float model disagree on %d of %d images", tm.file, n-same, n)
		}
	}
}
