package zkml

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	fposeidon2 "github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/hash"
	"github.com/consensys/gnark/std/permutation/poseidon2"

	"github.com/ciro-network/ciro-node/compute/model"
)

// CircuitVersion names the compiler's arithmetic and public-input layout. It enters every
// model id, so a proof made under one version never verifies as another.
const CircuitVersion = 1

// Errors of the compiler.
var (
	ErrUnsupported = errors.New("zkml: outside what the circuit compiler supports")
	ErrShape       = errors.New("zkml: shape mismatch")
	ErrInput       = errors.New("zkml: input outside the circuit's domain")
)

// Variant selects how range checks are made.
type Variant uint8

const (
	// Commit uses gnark's commitment-based range checks (std/rangecheck, a log-derivative
	// lookup): the fewest constraints, and a Groth16 proof that carries a commitment.
	Commit Variant = iota
	// Plain range-checks by bit decomposition: more constraints, no commitment in the proof,
	// so a Groth16 verifier without commitment support (Starknet's Garaga) can check it.
	Plain
)

func (v Variant) String() string {
	if v == Plain {
		return "plain"
	}
	return "commit"
}

// Options configure a compilation. The zero value compiles every graph output for inputs that
// may be any int32, with the Commit variant.
type Options struct {
	Variant Variant
	// InputBits, when 1..31, restricts every input value to [0, 2^InputBits): an image in
	// [0, 1] is 17 bits in Q16.16. The circuit range-checks this, packs more values per hashed
	// word, and drops saturation checks that the smaller domain rules out. 0 or 32 means
	// any int32.
	InputBits int
	// Outputs names the graph outputs made public, in order; empty means all of them.
	Outputs []string

	version uint32 // CircuitVersion unless a test builds another version's circuit
}

// Compiled is a model's circuit, ready for setup, proving and verifying.
type Compiled struct {
	ID   fr.Element // the model id: public input binding model bytes, options and version
	CCS  constraint.ConstraintSystem
	plan *plan
}

// plan is everything Define needs: the loaded model and the public layout.
type plan struct {
	m          *model.Model
	id         fr.Element
	inName     string
	inShape    []int
	inputBits  int
	plain      bool
	outNames   []string
	outSizes   []int
	nbOutputs  int
	onnxSHA256 [32]byte
}

// circuit is the gnark circuit of one model. Public inputs, in order: the model id, the
// input commitment, the outputs (each a signed field element).
type circuit struct {
	ModelID   frontend.Variable   `gnark:",public"`
	InputHash frontend.Variable   `gnark:",public"`
	Output    []frontend.Variable `gnark:",public"`
	Input     []frontend.Variable

	plan *plan
}

// Compile builds the circuit of an ONNX model in compute/model's subset.
func Compile(onnx []byte, opts Options) (*Compiled, error) {
	p, err := newPlan(onnx, opts)
	if err != nil {
		return nil, err
	}
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, p.assignment(nil, nil))
	if err != nil {
		return nil, fmt.Errorf("zkml: compile: %w", err)
	}
	return &Compiled{ID: p.id, CCS: ccs, plan: p}, nil
}

func newPlan(onnx []byte, opts Options) (*plan, error) {
	m, err := model.Load(onnx)
	if err != nil {
		return nil, err
	}
	ins := m.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("%w: the circuit takes models with one input, this one has %d", ErrUnsupported, len(ins))
	}
	bits := opts.InputBits
	if bits == 0 {
		bits = 32
	}
	if bits < 1 || bits > 32 {
		return nil, fmt.Errorf("%w: input bits %d", ErrUnsupported, opts.InputBits)
	}
	p := &plan{m: m, inName: ins[0].Name, inputBits: bits, plain: opts.Variant == Plain, onnxSHA256: sha256.Sum256(onnx)}
	for _, d := range ins[0].Shape {
		if d < 0 {
			d = 1 // symbolic dims (batch) take 1, as the executor feeds them
		}
		p.inShape = append(p.inShape, int(d))
	}
	// A native run on zeros gives the output shapes and checks the graph runs at all.
	zero := model.Tensor{Shape: p.inShape, Data: make([]int32, numElems(p.inShape))}
	outs, err := m.Run(context.Background(), map[string]model.Tensor{p.inName: zero}, 1<<30)
	if err != nil {
		return nil, err
	}
	p.outNames = opts.Outputs
	if len(p.outNames) == 0 {
		p.outNames = m.Outputs()
	}
	for _, name := range p.outNames {
		t, ok := outs[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a graph output", ErrShape, name)
		}
		p.outSizes = append(p.outSizes, len(t.Data))
		p.nbOutputs += len(t.Data)
	}
	version := opts.version
	if version == 0 {
		version = CircuitVersion
	}
	p.id = modelID(version, opts.Variant, bits, p.outNames, p.onnxSHA256)
	return p, nil
}

// modelID hashes what fixes the circuit: compiler version, variant, input domain, public
// outputs and the model bytes. It is 31 bytes of SHA-256, so it is a field element as is.
func modelID(version uint32, v Variant, bits int, outs []string, onnx [32]byte) fr.Element {
	h := sha256.New()
	h.Write([]byte("ciro-zkml-model-id\x00"))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], version)
	h.Write(b[:])
	h.Write([]byte{byte(v), byte(bits)})
	for _, o := range outs {
		binary.BigEndian.PutUint32(b[:], uint32(len(o)))
		h.Write(b[:])
		h.Write([]byte(o))
	}
	h.Write(onnx[:])
	sum := h.Sum(nil)
	var e fr.Element
	e.SetBytes(sum[:31])
	return e
}

// assignment returns a circuit with its slices sized; with values it is a witness.
func (p *plan) assignment(input []int32, outputs []int32) *circuit {
	c := &circuit{
		plan:   p,
		Input:  make([]frontend.Variable, numElems(p.inShape)),
		Output: make([]frontend.Variable, p.nbOutputs),
	}
	if input != nil {
		c.ModelID = p.id
		c.InputHash = InputCommitment(input, p.inputBits)
		for i, v := range input {
			c.Input[i] = int64(v)
		}
		for i, v := range outputs {
			c.Output[i] = int64(v)
		}
	}
	return c
}

// inputDomain is the interval of an input value.
func inputDomain(bits int) (lo, hi int64) {
	if bits >= 32 {
		return math.MinInt32, math.MaxInt32
	}
	return 0, int64(1)<<bits - 1
}

// perWord is how many input values one hashed field element packs: under 2^253 < p.
func perWord(bits int) int { return 253 / bits }

// InputCommitment is the public commitment to an input: Poseidon2 (BN254, gnark-crypto's
// Merkle–Damgård hasher) over a header word (the count and bit width) and the values packed
// perWord(bits) to a field element, each offset to be non-negative. A client computes it
// from input.bin when it submits a zk job; the provider's proof must carry the same value.
func InputCommitment(input []int32, bits int) fr.Element {
	if bits == 0 {
		bits = 32
	}
	lo, _ := inputDomain(bits)
	h := fposeidon2.NewMerkleDamgardHasher()
	write := func(e fr.Element) {
		b := e.Bytes()
		h.Write(b[:])
	}
	var e fr.Element
	e.SetUint64(uint64(len(input))<<8 | uint64(bits))
	write(e)
	k := perWord(bits)
	for i := 0; i < len(input); i += k {
		var w, t, sh, scale fr.Element
		sh.SetUint64(1)
		scale.SetUint64(1 << bits)
		for j := i; j < min(i+k, len(input)); j++ {
			t.SetInt64(int64(input[j]) - lo)
			t.Mul(&t, &sh)
			w.Add(&w, &t)
			sh.Mul(&sh, &scale)
		}
		write(w)
	}
	var out fr.Element
	out.SetBytes(h.Sum(nil))
	return out
}

// CheckInput says whether an input is in the circuit's domain.
func (c *Compiled) CheckInput(x model.Tensor) error {
	p := c.plan
	if !slices.Equal(x.Shape, p.inShape) || len(x.Data) != numElems(p.inShape) {
		return fmt.Errorf("%w: shape %v, the circuit takes %v", ErrInput, x.Shape, p.inShape)
	}
	lo, hi := inputDomain(p.inputBits)
	for i, v := range x.Data {
		if int64(v) < lo || int64(v) > hi {
			return fmt.Errorf("%w: value %d at %d is outside [%d, %d]", ErrInput, v, i, lo, hi)
		}
	}
	return nil
}

// Define builds the constraints: input range checks and commitment, then the graph's nodes
// on circuit values, then the public outputs.
func (c *circuit) Define(api frontend.API) error {
	p := c.plan
	g := newGadgets(api, p.plain)
	api.AssertIsEqual(c.ModelID, p.id)

	// The input: range-checked to its domain, packed and hashed.
	lo, hi := inputDomain(p.inputBits)
	x := &tensor{shape: p.inShape, d: make([]*val, len(c.Input))}
	for i, v := range c.Input {
		g.check(api.Sub(v, lo), p.inputBits)
		x.d[i] = &val{v: v, lo: lo, hi: hi}
	}
	// gnark has no default BN254 Poseidon2 in circuit: these are gnark-crypto's defaults,
	// which its native Merkle–Damgård hasher (InputCommitment) uses.
	perm, err := poseidon2.NewPoseidon2FromParameters(api, 2, 6, 50)
	if err != nil {
		return err
	}
	h := hash.NewMerkleDamgardHasher(api, perm, 0)
	h.Write(uint64(len(c.Input))<<8 | uint64(p.inputBits))
	k := perWord(p.inputBits)
	for i := 0; i < len(c.Input); i += k {
		terms := make([]frontend.Variable, 0, k)
		for j := i; j < min(i+k, len(c.Input)); j++ {
			terms = append(terms, api.Mul(api.Sub(c.Input[j], lo), pow2(p.inputBits*(j-i))))
		}
		if len(terms) == 1 {
			h.Write(terms[0])
		} else {
			h.Write(api.Add(terms[0], terms[1], terms[2:]...))
		}
	}
	api.AssertIsEqual(c.InputHash, h.Sum())

	// The graph, node by node, computing only what the public outputs need.
	env := map[string]*tensor{p.inName: x}
	need := p.needed()
	cp := &compiler{g: g}
	for i, n := range p.m.Nodes() {
		if !need[i] {
			continue
		}
		args := make([]*tensor, len(n.Inputs))
		for j, name := range n.Inputs {
			t, err := p.lookup(env, name)
			if err != nil {
				return fmt.Errorf("node %d (%s): %w", i, n.OpType, err)
			}
			args[j] = t
		}
		out, err := cp.apply(n, args)
		if err != nil {
			return fmt.Errorf("node %d (%s %s): %w", i, n.OpType, n.Name, err)
		}
		env[n.Outputs[0]] = out
	}
	k = 0
	for _, name := range p.outNames {
		t, err := p.lookup(env, name)
		if err != nil {
			return err
		}
		for _, e := range t.d {
			g.pin(e)
			api.AssertIsEqual(c.Output[k], e.v)
			k++
		}
	}
	return nil
}

// compiler applies operators; ops.go holds them.
type compiler struct {
	g *gadgets
}

func (p *plan) lookup(env map[string]*tensor, name string) (*tensor, error) {
	if t, ok := env[name]; ok {
		return t, nil
	}
	if t, ok := p.m.Const(name); ok {
		ct := constTensor(t)
		env[name] = ct
		return ct, nil
	}
	return nil, fmt.Errorf("%w: %q is never produced", ErrShape, name)
}

// needed marks the nodes the public outputs depend on, so that a model whose other outputs
// use operators without a circuit (Softmax) still compiles.
func (p *plan) needed() []bool {
	nodes := p.m.Nodes()
	want := map[string]bool{}
	for _, o := range p.outNames {
		want[o] = true
	}
	need := make([]bool, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		for _, o := range nodes[i].Outputs[:1] {
			if want[o] {
				need[i] = true
				for _, in := range nodes[i].Inputs {
					want[in] = true
				}
			}
		}
	}
	return need
}

func pow2(n int) frontend.Variable {
	return new(big.Int).Lsh(big.NewInt(1), uint(n))
}
