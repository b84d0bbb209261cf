package zkml

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	mbits "math/bits"

	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/lookup/logderivlookup"
	"github.com/consensys/gnark/std/math/bits"
	"github.com/consensys/gnark/std/rangecheck"

	"github.com/ciro-network/ciro-node/compute/model"
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

	sigTable logderivlookup.Table // the sigmoid table, once per circuit (Commit only)
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
	return g.roundShift(t, lo, hi, fracBits)
}

// roundShift is floor((t + 2^(s-1)) / 2^s), free as rescale's.
func (g *gadgets) roundShift(t frontend.Variable, lo, hi int64, s uint) *val {
	half := int64(1) << (s - 1)
	qlo, qhi := (lo+half)>>s, (hi+half)>>s
	if lo == hi {
		return constVal(qlo)
	}
	t = g.api.Add(t, half)
	out, err := g.api.Compiler().NewHint(floorDivHint, 2, t, int64(1)<<s)
	if err != nil {
		panic(err) // only on a malformed hint call, a bug here
	}
	q, r := out[0], out[1]
	g.api.AssertIsEqual(g.api.Add(g.api.Mul(q, int64(1)<<s), r), t)
	g.check(r, int(s))
	return &val{v: q, lo: qlo, hi: qhi, free: true}
}

// sat32 clamps to the int32 range.
func (g *gadgets) sat32(e *val) *val { return g.clamp(e, math.MinInt32, math.MaxInt32) }

// clamp clamps to [mn, mx]. Where the interval shows that no clamp can happen it costs
// nothing; otherwise two hinted booleans say which side, and range checks prove it. The
// clamp confines its input, so the result is never free.
func (g *gadgets) clamp(e *val, mn, mx int64) *val {
	if e.lo >= mn && e.hi <= mx {
		return e
	}
	if e.isConst() {
		return constVal(max(min(e.lo, mx), mn))
	}
	api := g.api
	var hiB, loB frontend.Variable = 0, 0
	var a, b frontend.Variable = 0, 0 // hiB·(v-mx-1), loB·(mn-1-v)
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
	// Above: v = mx+1+z1; below: v = mn-1-z1; both flags set makes z1 = mn-mx-2 < 0, refused.
	g.check(api.Add(a, b), bitLen(over))
	// In range: z2 = mid·(v-mn) in [0, 2^k), written with a and b; when the range's width
	// is not a power of two, z3 = mid·(mx-v) ≥ 0 closes the top.
	width := mx - mn
	z2 := api.Add(api.Sub(e.v, mn), b, loB)
	z2 = api.Sub(z2, a, api.Mul(hiB, width+1))
	g.check(z2, bitLen(width))
	if width+1 != int64(1)<<bitLen(width) {
		z3 := api.Add(api.Sub(mx, e.v), a, hiB)
		g.check(api.Sub(z3, api.Mul(loB, width+1), b), bitLen(width))
	}
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

// sigmoid mirrors model.Sigmoid: linear interpolation in the runtime's 257-entry table at
// u = x + 8 (Q16.16), clamped to the table's span: t[i] + RoundShift((t[i+1]-t[i])·f, 12)
// with i = u >> 12 and f = u & 4095.
func (g *gadgets) sigmoid(e *val) *val {
	api := g.api
	u := g.clamp(&val{v: api.Add(e.v, 8*model.One), lo: e.lo + 8*model.One, hi: e.hi + 8*model.One, free: e.free}, 0, 256<<12)
	e.free = false
	if u.isConst() {
		return constVal(int64(model.Sigmoid(int32(u.lo - 8*model.One))))
	}
	out, err := api.Compiler().NewHint(floorDivHint, 2, u.v, 4096)
	if err != nil {
		panic(err)
	}
	i, f := out[0], out[1]
	api.AssertIsEqual(api.Add(api.Mul(i, 4096), f), u.v)
	g.check(f, 12)
	lo, hi := g.tableAt(i)
	// The table rises by at most 1,024 a step, so the product stays under 2^23.
	prod := api.Mul(api.Sub(hi, lo), f)
	q := g.roundShift(prod, 0, 1024*4095, 12)
	g.pin(q)
	tbl := model.SigmoidTable()
	return &val{v: api.Add(lo, q.v), lo: int64(tbl[0]), hi: int64(tbl[256])}
}

// tableAt returns the sigmoid table's entries i and i+1 for 0 ≤ i ≤ 256 (entry 257 repeats
// 256: it is only read with a zero fraction). It confines i to the table.
func (g *gadgets) tableAt(i frontend.Variable) (lo, hi frontend.Variable) {
	tbl := model.SigmoidTable()
	entry := func(k int) int64 { return int64(tbl[min(k, 256)]) }
	if !g.plain {
		if g.sigTable == nil {
			g.sigTable = logderivlookup.New(g.api)
			for k := 0; k <= 257; k++ {
				g.sigTable.Insert(entry(k))
			}
		}
		r := g.sigTable.Lookup(i, g.api.Add(i, 1))
		return r[0], r[1]
	}
	// Without lookups: the bits of i select in a binary tree (its first level is linear).
	b := bits.ToBinary(g.api, i, bits.WithNbDigits(9))
	g.api.AssertIsEqual(g.api.Mul(b[8], g.api.Sub(i, 256)), 0) // i ≤ 256
	sel := func(off int) frontend.Variable {
		level := make([]frontend.Variable, 256)
		for k := range level {
			level[k] = g.api.Add(entry(2*k+off), g.api.Mul(b[0], entry(2*k+1+off)-entry(2*k+off)))
		}
		for bit := 1; bit < 8; bit++ {
			next := make([]frontend.Variable, len(level)/2)
			for k := range next {
				next[k] = g.api.Add(level[2*k], g.api.Mul(b[bit], g.api.Sub(level[2*k+1], level[2*k])))
			}
			level = next
		}
		// i = 256 (bit 8 set, the others clear) reads entry 256+off.
		return g.api.Add(level[0], g.api.Mul(b[8], g.api.Sub(entry(256+off), level[0])))
	}
	return sel(0), sel(1)
}
