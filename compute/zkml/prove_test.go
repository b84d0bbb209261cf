package zkml

import (
	"errors"
	"testing"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/ciro-network/ciro-node/compute/model"
	"github.com/ciro-network/ciro-node/compute/zkml/internal/mnist"
)

// The keys here come from UnsafeSetup, a single-party setup: fine for a unit test, never for
// a deployment (ceremony.go).

// TestProveVerifyMNIST proves one MNIST inference of the logistic regression per variant:
// it verifies, its input commitment is the one a client computes, the plain variant's proof
// carries no commitment, and a tampered output is refused.
func TestProveVerifyMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("a 14,000-constraint setup and proof; TestRejections proves on small circuits in the race pass")
	}
	set := mnistTest(t)
	onnx := readModel(t, "logreg.onnx")
	variants := []Variant{Commit, Plain}
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			c := compile(t, onnx, Options{Variant: v, InputBits: mnist.InputBits})
			pk, vk, err := UnsafeSetup(c)
			if err != nil {
				t.Fatal(err)
			}
			x := mnist.Quantize(set.Images[0])
			proof, pub, err := c.Prove(pk, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(vk, proof, pub); err != nil {
				t.Fatalf("an honest proof is refused: %v", err)
			}
			if got, want := pub.InputHash, InputCommitment(x.Data, mnist.InputBits); !got.Equal(&want) {
				t.Fatal("the proof's input commitment is not the client's")
			}
			if int(pub.Outputs[10]) != set.Labels[0] {
				t.Logf("image 0 is classed %d, labelled %d", pub.Outputs[10], set.Labels[0])
			}
			commitments := len(proof.(*groth16bn254.Proof).Commitments)
			if v == Plain && commitments != 0 {
				t.Fatalf("the plain variant's proof carries %d commitments", commitments)
			}
			if v == Commit && commitments == 0 {
				t.Fatal("the commit variant's proof carries no commitment")
			}
			bad := pub
			bad.Outputs = append([]int32(nil), pub.Outputs...)
			bad.Outputs[10] = (bad.Outputs[10] + 1) % 10
			refused(t, "a tampered class", Verify(vk, proof, bad))
		})
	}
}

// tinyModel is x [1,8] → Gemm 10 = logits, ArgMax = class: the same public layout as the
// MNIST models at a fraction of the setup cost. seed changes the weights.
func tinyModel(seed int) []byte {
	w := make([]float32, 80)
	for i := range w {
		w[i] = float32((i*7+seed*13)%17-8) / 8
	}
	return model.WriteONNX(
		[]model.ONNXNode{
			{Op: "Gemm", Inputs: []string{"x", "w", "b"}, Outputs: []string{"logits"}, Attrs: [][]byte{model.IntAttr("transB", 1)}},
			{Op: "ArgMax", Inputs: []string{"logits"}, Outputs: []string{"class"}, Attrs: [][]byte{model.IntAttr("axis", 1), model.IntAttr("keepdims", 0)}},
		},
		[]model.ONNXInit{{Name: "w", Dims: []int64{10, 8}, F32: w}, {Name: "b", Dims: []int64{10}, F32: make([]float32, 10)}},
		[]model.ONNXValue{{Name: "x", Dims: []int64{1, 8}}},
		[]model.ONNXValue{{Name: "logits", Dims: []int64{1, 10}}, {Name: "class", Dims: []int64{1}}},
	)
}

// TestRejections: a verifier refuses a tampered output, a tampered input commitment, the
// proof under another model's key (same public layout) and the proof under the key of
// another circuit version of the same model, with either model id.
func TestRejections(t *testing.T) {
	for _, v := range []Variant{Commit, Plain} {
		t.Run(v.String(), func(t *testing.T) {
			opts := Options{Variant: v, InputBits: 17}
			c := compile(t, tinyModel(1), opts)
			pk, vk, err := UnsafeSetup(c)
			if err != nil {
				t.Fatal(err)
			}
			x := model.Tensor{Shape: []int{1, 8}, Data: []int32{0, 65536, 3, 40000, 131071, 7, 0, 99}}
			proof, pub, err := c.Prove(pk, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(vk, proof, pub); err != nil {
				t.Fatalf("an honest proof is refused: %v", err)
			}

			bad := pub
			bad.Outputs = append([]int32(nil), pub.Outputs...)
			bad.Outputs[3]++
			refused(t, "a tampered logit", Verify(vk, proof, bad))
			bad.Outputs = append([]int32(nil), pub.Outputs...)
			bad.Outputs[10] = (bad.Outputs[10] + 1) % 10
			refused(t, "a tampered class", Verify(vk, proof, bad))

			bad = pub
			x2 := model.Tensor{Shape: x.Shape, Data: append([]int32(nil), x.Data...)}
			x2.Data[0]++
			bad.InputHash = InputCommitment(x2.Data, 17)
			refused(t, "another input's commitment", Verify(vk, proof, bad))

			c2 := compile(t, tinyModel(2), opts)
			if c2.ID.Equal(&c.ID) {
				t.Fatal("two models share an id")
			}
			_, vk2, err := UnsafeSetup(c2)
			if err != nil {
				t.Fatal(err)
			}
			refused(t, "the proof under another model's key", Verify(vk2, proof, pub))
			bad = pub
			bad.ModelID = c2.ID
			refused(t, "the proof under another model's key and id", Verify(vk2, proof, bad))

			vopts := opts
			vopts.version = CircuitVersion + 1
			cv := compile(t, tinyModel(1), vopts)
			if cv.ID.Equal(&c.ID) {
				t.Fatal("two circuit versions share an id")
			}
			_, vkv, err := UnsafeSetup(cv)
			if err != nil {
				t.Fatal(err)
			}
			refused(t, "a proof of another circuit version", Verify(vkv, proof, pub))
			bad = pub
			bad.ModelID = cv.ID
			refused(t, "a proof of another circuit version, with that version's id", Verify(vkv, proof, bad))
		})
	}
}

func refused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s verified", what)
	}
	if !errors.Is(err, ErrProof) {
		t.Fatalf("%s: %v, want ErrProof", what, err)
	}
}
