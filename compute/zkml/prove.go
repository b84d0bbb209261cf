package zkml

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"

	"github.com/ciro-network/ciro-node/compute/model"
)

// ErrProof is a proof that does not verify.
var ErrProof = errors.New("zkml: the proof does not verify")

// Public is what a verifier checks a proof against: the model id, the input commitment and the
// public outputs (the named graph outputs, flattened in order; Q16.16 or plain integers as the
// runtime gives them).
type Public struct {
	ModelID   fr.Element
	InputHash fr.Element
	Outputs   []int32
}

// NbOutputs is the number of public output values.
func (c *Compiled) NbOutputs() int { return c.plan.nbOutputs }

// Run evaluates the model natively and returns the public outputs the circuit must reproduce.
func (c *Compiled) Run(ctx context.Context, x model.Tensor) ([]int32, error) {
	if err := c.CheckInput(x); err != nil {
		return nil, err
	}
	outs, err := c.plan.m.Run(ctx, map[string]model.Tensor{c.plan.inName: x}, 1<<30)
	if err != nil {
		return nil, err
	}
	var flat []int32
	for _, name := range c.plan.outNames {
		flat = append(flat, outs[name].Data...)
	}
	return flat, nil
}

// witness runs the model natively and assigns every circuit input.
func (c *Compiled) witness(x model.Tensor) (witness.Witness, Public, error) {
	outs, err := c.Run(context.Background(), x)
	if err != nil {
		return nil, Public{}, err
	}
	pub := Public{ModelID: c.ID, InputHash: InputCommitment(x.Data, c.plan.inputBits), Outputs: outs}
	w, err := fillWitness(pub, x.Data)
	if err != nil {
		return nil, Public{}, err
	}
	return w, pub, nil
}

// fillWitness lays the values out as the circuit struct declares them (public first: model
// id, input commitment, outputs; then the input), without frontend.NewWitness's reflection,
// which costs as much as solving.
func fillWitness(pub Public, input []int32) (witness.Witness, error) {
	w, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	nPub := 2 + len(pub.Outputs)
	ch := make(chan any, nPub+len(input))
	ch <- pub.ModelID
	ch <- pub.InputHash
	for _, v := range pub.Outputs {
		ch <- int64(v)
	}
	for _, v := range input {
		ch <- int64(v)
	}
	close(ch)
	if err := w.Fill(nPub, len(input), ch); err != nil {
		return nil, fmt.Errorf("zkml: witness: %w", err)
	}
	return w, nil
}

// Solve runs the model natively and checks that its outputs satisfy the circuit, without
// proving: the agreement check between circuit and runtime, and a prover's dry run.
func (c *Compiled) Solve(x model.Tensor) (Public, error) {
	w, pub, err := c.witness(x)
	if err != nil {
		return Public{}, err
	}
	if err := c.CCS.IsSolved(w); err != nil {
		return Public{}, fmt.Errorf("zkml: the circuit disagrees with the runtime: %w", err)
	}
	return pub, nil
}

// Prove proves one inference: the runtime's outputs on x, under the model's proving key.
func (c *Compiled) Prove(pk groth16.ProvingKey, x model.Tensor) (groth16.Proof, Public, error) {
	w, pub, err := c.witness(x)
	if err != nil {
		return nil, Public{}, err
	}
	proof, err := groth16.Prove(c.CCS, pk, w)
	if err != nil {
		return nil, Public{}, fmt.Errorf("zkml: prove: %w", err)
	}
	return proof, pub, nil
}

// Verify checks a proof against a verifying key and the public inputs.
func Verify(vk groth16.VerifyingKey, proof groth16.Proof, pub Public) error {
	w, err := fillWitness(pub, nil)
	if err != nil {
		return err
	}
	if err := groth16.Verify(proof, vk, w); err != nil {
		return fmt.Errorf("%w: %w", ErrProof, err)
	}
	return nil
}

// UnsafeSetup is a single-party Groth16 setup: whoever runs it knows the toxic waste and can
// forge proofs. It exists for unit tests and benchmarks only; real keys come from the
// multi-party ceremony (ceremony.go).
func UnsafeSetup(c *Compiled) (groth16.ProvingKey, groth16.VerifyingKey, error) {
	return groth16.Setup(c.CCS)
}
