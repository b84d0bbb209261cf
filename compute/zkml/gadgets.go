package zkml

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	mbits "math/bits"

	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/math/bits"
	"github.com/consensys/gnark/std/rangecheck"
)

// val is one tensor element inside the circuit: a variable and the static interval [lo, hi]
// that its honest value lies in, computed from the weights and the input domain at compile
// time. A value is "free" while the constraints do not yet determine it: a rescale's quotient
// q satisfies q·2^16 + r = t for many field elements q until q is confined to a small range.
// Every consumer that does not itself confine its input (pin) range-checks it first; the
// interval of a free value is trusted by nobody.
type val struct {
	v      frontend.Variable
	lo, hi int64
	free   bool
}

func constVal(c int64) *val { return &val{v: c, lo: c, hi: c} }

func (e *val) isConst() bool { return e.lo == e.hi }

// tensor is a shaped slice of elements; reshapes share the elements.
type tensor struct {
	shape []int
	d     []*val
	isInt bool
}

// accLimit bounds every accumulator: the native runtime accumulates in int64 with wrapping, so
// a circuit over the integers mirrors it only where no wrap can happen. A model whose
// accumulators could reach this bound is refused at compile time.
const accLimit = int64(1) << 62

var errOverflow = errors.New("an accumulator could exceed 2^62: the runtime's int64 wrap cannot be mirrored")

// gadgets emits the constraints shared by the operators.
type gadgets struct {
	api   frontend.API
	plain bool // bit decomposition instead of commitment-based range checks
	rc    frontend.Rangechecker
}

func newGadgets(api frontend.API, plain bool) *gadgets {
	g := &gadgets{api: api, plain: plain}
	if !plain {
		g.rc = rangecheck.New(api)
	}
	return g
}

// bitLen is the number of bits that hold every value in [0, x].
func bitLen(x int64) int {
	if x <= 0 {
		return 1
	}
	return mbits.Len64(uint64(x))
}

// check asserts 0 ≤ v < 2^n.
func (g *gadgets) check(v frontend.Variable, n int) {
	if g.plain {
		bits.ToBinary(g.api, v, bits.WithNbDigits(n))
		return
	}
	g.rc.Check(v, n)
}

// pin confines a free value to its interval's width, which determines it.
func (g *gadgets) pin(e *val) {
	if !e.free {
		return
	}
	g.check(g.api.Sub(e.v, e.lo), bitLen(e.hi-e.lo))
	e.free = false
}

// rescale returns RoundShift(t, 16) = floor((t + 2^15) / 2^16) of an accumulator t with
// interval [lo, hi], as a free quotient: the remainder is range-checked here, the quotient by
// whoever consumes it.
func (g *gadgets) rescale(t frontend.Variable, lo, hi int64) *val {
	const half = int64(1) << (fracBits - 1)
	qlo, qhi := (lo+half)>>fracBits, (hi+half)>>fracBits
	if lo == hi {
		return constVal(qlo)
	}
	t = g.api.Add(t, half)
	out, err := g.api.Compiler().NewHint(floorDivHint, 2, t, int64(1)<<fracBits)
	if err != nil {
		panic(err) // only on a malformed hint call, a bug here
	}
	q, r := out[0], out[1]
	g.api.AssertIsEqual(g.api.Add(g.api.Mul(q, int64(1)<<fracBits), r), t)
	g.check(r, fracBits)
	return &val{v: q, lo: qlo, hi: qhi, free: true}
}

// sat32 clamps to the int32 range. Where the interval shows that no clamp can happen it costs
// nothing; otherwise two hinted booleans say which side, and the range checks prove it. The
// clamp confines its input, so the result is never free.
func (g *gadgets) sat32(e *val) *val {
	if e.lo >= math.MinInt32 && e.hi <= math.MaxInt32 {
		return e
	}
	if e.isConst() {
		return constVal(int64(sat32(e.lo)))
	}
	api := g.api
	const mn, mx = int64(math.MinInt32), int64(math.MaxInt32)
	var hiB, loB frontend.Variable = 0, 0
	var a, b frontend.Variable = 0, 0 // hiB·(v-MAX-1), loB·(MIN-1-v)
	over := int64(0)
	if e.hi > mx {
		out, err := api.Compiler().NewHint(gtHint, 1, e.v, mx)
		if err != nil {
			panic(err)
		}
		hiB = out[0]
		api.AssertIsBoolean(hiB)
		a = api.Mul(hiB, api.Sub(e.v, mx+1))
		over = max(over, e.hi-mx-1)
	}
	if e.lo < mn {
		out, err := api.Compiler().NewHint(gtHint, 1, mn, e.v)
		if err != nil {
			panic(err)
		}
		loB = out[0]
		api.AssertIsBoolean(loB)
		b = api.Mul(loB, api.Sub(mn-1, e.v))
		over = max(over, mn-1-e.lo)
	}
	// Above: v = MAX+1+z1; below: v = MIN-1-z1; both flags set makes z1 = -(2^32+1), refused.
	g.check(api.Add(a, b), bitLen(over))
	// In range: z2 = v - MIN in [0, 2^32); z2 = mid·(v-MIN) written with a and b.
	z2 := api.Add(api.Sub(e.v, mn), b, loB)
	z2 = api.Sub(z2, a, api.Mul(hiB, int64(1)<<32))
	g.check(z2, 32)
	out := api.Add(api.Sub(e.v, a, hiB), b, loB)
	return &val{v: out, lo: max(e.lo, mn), hi: min(e.hi, mx)}
}

func sat32(x int64) int32 { return int32(max(min(x, math.MaxInt32), math.MinInt32)) }

// geZero returns s = [d ≥ 0] and s·d for a value d whose honest value lies in [lo, hi]. The
// range check of (s ? d : -d-1) proves the sign and confines d to a small range.
func (g *gadgets) geZero(d frontend.Variable, lo, hi int64) (s, sd frontend.Variable) {
	switch {
	case lo >= 0:
		return 1, d
	case hi < 0:
		return 0, 0
	}
	api := g.api
	out, err := api.Compiler().NewHint(gtHint, 1, d, -1)
	if err != nil {
		panic(err)
	}
	s = out[0]
	api.AssertIsBoolean(s)
	sd = api.Mul(s, d)
	y := api.Sub(api.Add(api.Mul(sd, 2), s), d, 1)
	g.check(y, bitLen(max(hi, -lo-1)))
	return s, sd
}

// relu is max(e, 0). It confines e.
func (g *gadgets) relu(e *val) *val {
	switch {
	case e.lo >= 0:
		return e
	case e.hi < 0:
		return constVal(0)
	}
	_, sd := g.geZero(e.v, e.lo, e.hi)
	e.free = false
	return &val{v: sd, lo: 0, hi: e.hi}
}

// max2 is max(a, b) of determined values.
func (g *gadgets) max2(a, b *val) *val {
	g.pin(a)
	g.pin(b)
	switch {
	case a.lo >= b.hi:
		return a
	case b.lo >= a.hi:
		return b
	}
	_, sd := g.geZero(g.api.Sub(a.v, b.v), a.lo-b.hi, a.hi-b.lo)
	return &val{v: g.api.Add(b.v, sd), lo: max(a.lo, b.lo), hi: max(a.hi, b.hi)}
}

// argMax is the index of the first maximum of xs, as the runtime breaks ties.
func (g *gadgets) argMax(xs []*val) *val {
	for _, x := range xs {
		g.pin(x)
	}
	best := xs[0]
	var idx frontend.Variable = 0
	for k := 1; k < len(xs); k++ {
		x := xs[k]
		// s = [x > best] = [x - best - 1 ≥ 0]
		d := g.api.Sub(x.v, best.v, 1)
		s, sd := g.geZero(d, x.lo-best.hi-1, x.hi-best.lo-1)
		best = &val{v: g.api.Add(best.v, sd, s), lo: max(best.lo, x.lo), hi: max(best.hi, x.hi)}
		idx = g.api.Add(idx, g.api.Mul(s, g.api.Sub(k, idx)))
	}
	return &val{v: idx, lo: 0, hi: int64(len(xs) - 1)}
}

// dot is Σ w_i·x_i over constant weights, free in R1CS: a linear combination. It returns the
// combination and its interval.
func (g *gadgets) dot(xs []*val, ws []int32) (frontend.Variable, int64, int64, error) {
	terms := make([]frontend.Variable, 0, len(xs))
	var lo, hi int64
	for i, x := range xs {
		w := int64(ws[i])
		if w == 0 {
			continue
		}
		a, b := w*x.lo, w*x.hi // |w|, |x| ≤ 2^31: no int64 overflow
		if a > b {
			a, b = b, a
		}
		lo, hi = lo+a, hi+b
		if lo <= -accLimit || hi >= accLimit {
			return nil, 0, 0, errOverflow
		}
		if x.isConst() {
			terms = append(terms, w*x.lo)
			continue
		}
		g.pin(x)
		terms = append(terms, g.api.Mul(x.v, w))
	}
	switch len(terms) {
	case 0:
		return 0, 0, 0, nil
	case 1:
		return terms[0], lo, hi, nil
	}
	return g.api.Add(terms[0], terms[1], terms[2:]...), lo, hi, nil
}

// add is a + b before saturation; it keeps at most one free addend.
func (g *gadgets) add(a, b *val) *val {
	if a.free && b.free {
		g.pin(a)
	}
	if a.isConst() && b.isConst() {
		return constVal(a.lo + b.lo)
	}
	return &val{v: g.api.Add(a.v, b.v), lo: a.lo + b.lo, hi: a.hi + b.hi, free: a.free || b.free}
}

// Hints. Field elements are read as signed integers (the upper half of the field is
// negative), as every honest value here is far below p/2 in magnitude.

func init() {
	solver.RegisterHint(floorDivHint, gtHint)
}

func signed(x, p *big.Int) *big.Int {
	s := new(big.Int).Set(x)
	if s.Cmp(new(big.Int).Rsh(p, 1)) > 0 {
		s.Sub(s, p)
	}
	return s
}

// floorDivHint returns q = floor(t/d) and r = t - q·d for signed t and d > 0.
func floorDivHint(p *big.Int, in, out []*big.Int) error {
	if len(in) != 2 || len(out) != 2 {
		return fmt.Errorf("zkml: floorDivHint takes 2 inputs and 2 outputs")
	}
	t, d := signed(in[0], p), signed(in[1], p)
	if d.Sign() <= 0 {
		return fmt.Errorf("zkml: floorDivHint divisor %s", d)
	}
	q, r := new(big.Int).DivMod(t, d, new(big.Int)) // Euclidean: r ≥ 0, so q is the floor
	out[0].Mod(q, p)
	out[1].Set(r)
	return nil
}

// gtHint returns 1 when a > b (signed), else 0.
func gtHint(p *big.Int, in, out []*big.Int) error {
	if len(in) != 2 || len(out) != 1 {
		return fmt.Errorf("zkml: gtHint takes 2 inputs and 1 output")
	}
	if signed(in[0], p).Cmp(signed(in[1], p)) > 0 {
		out[0].SetInt64(1)
	} else {
		out[0].SetInt64(0)
	}
	return nil
}
