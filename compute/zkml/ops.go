package zkml

import (
	"fmt"
	"math"
	"slices"

	"github.com/ciro-network/ciro-node/compute/model"
)

// The operators, each mirroring compute/model's ops.go: the same shapes, the same loops, the
// same rounding and saturation. Shape errors are the runtime's, found at compile time instead.

const fracBits = model.FracBits

func numElems(shape []int) int { return model.NumElems(shape) }

func attrInt(n model.Node, name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.I
	}
	return def
}

func attrInts(n model.Node, name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.Ints
	}
	return def
}

// constTensor turns an initializer into circuit constants.
func constTensor(t model.Tensor) *tensor {
	out := &tensor{shape: slices.Clone(t.Shape), d: make([]*val, len(t.Data)), isInt: t.Int}
	for i, v := range t.Data {
		out.d[i] = constVal(int64(v))
	}
	return out
}

// weights reads a tensor that must be made of constants: the circuit hard-wires weights.
func weights(t *tensor, what string) ([]int32, error) {
	w := make([]int32, len(t.d))
	for i, e := range t.d {
		if !e.isConst() {
			return nil, fmt.Errorf("%w: %s must be an initializer (weights are circuit constants)", ErrUnsupported, what)
		}
		w[i] = int32(e.lo)
	}
	return w, nil
}

func fixedOnly(ts ...*tensor) error {
	for _, t := range ts {
		if t.isInt {
			return fmt.Errorf("%w: an integer tensor where fixed point is expected", ErrUnsupported)
		}
	}
	return nil
}

func (c *compiler) apply(n model.Node, args []*tensor) (*tensor, error) {
	g := c.g
	switch n.OpType {
	case "Relu", "Sigmoid":
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: %s takes 1 input", ErrShape, n.OpType)
		}
		if err := fixedOnly(args[0]); err != nil {
			return nil, err
		}
		out := &tensor{shape: slices.Clone(args[0].shape), d: make([]*val, len(args[0].d))}
		for i, e := range args[0].d {
			if n.OpType == "Relu" {
				out.d[i] = g.relu(e)
			} else {
				out.d[i] = g.sigmoid(e)
			}
		}
		return out, nil
	case "Add":
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: Add takes 2 inputs", ErrShape)
		}
		if err := fixedOnly(args...); err != nil {
			return nil, err
		}
		return c.add(args[0], args[1])
	case "MatMul":
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: MatMul takes 2 inputs", ErrShape)
		}
		return c.gemm(args[0], args[1], nil, false)
	case "Gemm":
		if len(args) < 2 || len(args) > 3 {
			return nil, fmt.Errorf("%w: Gemm takes 2 or 3 inputs", ErrShape)
		}
		var bias *tensor
		if len(args) == 3 {
			bias = args[2]
		}
		return c.gemm(args[0], args[1], bias, attrInt(n, "transB", 0) != 0)
	case "Conv":
		if len(args) < 2 || len(args) > 3 {
			return nil, fmt.Errorf("%w: Conv takes 2 or 3 inputs", ErrShape)
		}
		var bias *tensor
		if len(args) == 3 {
			bias = args[2]
		}
		return c.conv(n, args[0], args[1], bias)
	case "MaxPool":
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: MaxPool takes 1 input", ErrShape)
		}
		return c.maxPool(n, args[0])
	case "Flatten":
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: Flatten takes 1 input", ErrShape)
		}
		x := args[0]
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += int64(len(x.shape))
		}
		if axis < 0 || axis > int64(len(x.shape)) {
			return nil, fmt.Errorf("%w: axis %d for rank %d", ErrShape, axis, len(x.shape))
		}
		return &tensor{shape: []int{numElems(x.shape[:axis]), numElems(x.shape[axis:])}, d: x.d, isInt: x.isInt}, nil
	case "Reshape":
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: Reshape takes 2 inputs", ErrShape)
		}
		return reshape(args[0], args[1])
	case "ArgMax":
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: ArgMax takes 1 input", ErrShape)
		}
		return c.argMax(n, args[0])
	}
	return nil, fmt.Errorf("%w: operator %q has no circuit yet", ErrUnsupported, n.OpType)
}

func reshape(x, s *tensor) (*tensor, error) {
	if !s.isInt || len(s.shape) != 1 {
		return nil, fmt.Errorf("%w: Reshape needs a 1-D integer shape", ErrShape)
	}
	dims, err := weights(s, "a Reshape shape")
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(dims))
	infer := -1
	for i, d := range dims {
		switch {
		case d == 0:
			if i >= len(x.shape) {
				return nil, fmt.Errorf("%w: Reshape copies dim %d of a rank-%d tensor", ErrShape, i, len(x.shape))
			}
			shape[i] = x.shape[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("%w: two -1 dims in Reshape", ErrShape)
			}
			infer = i
			shape[i] = 1
		case d < 0:
			return nil, fmt.Errorf("%w: Reshape dim %d", ErrShape, d)
		default:
			shape[i] = int(d)
		}
	}
	if infer >= 0 {
		rest := numElems(shape)
		if rest <= 0 || len(x.d)%rest != 0 {
			return nil, fmt.Errorf("%w: cannot infer Reshape %v from %v", ErrShape, dims, x.shape)
		}
		shape[infer] = len(x.d) / rest
	}
	if numElems(shape) != len(x.d) {
		return nil, fmt.Errorf("%w: cannot view %v as %v", ErrShape, x.shape, shape)
	}
	return &tensor{shape: shape, d: x.d, isInt: x.isInt}, nil
}

// broadcastIndex maps each flat index of shape out to a flat index of t (numpy broadcast).
func broadcastIndex(t, out []int) []int {
	n := numElems(out)
	idx := make([]int, n)
	strides := make([]int, len(out))
	s := 1
	for i := len(t) - 1; i >= 0; i-- {
		if t[i] != 1 {
			strides[i+len(out)-len(t)] = s
		}
		s *= t[i]
	}
	coord := make([]int, len(out))
	for k := 0; k < n; k++ {
		off := 0
		for i := range out {
			off += coord[i] * strides[i]
		}
		idx[k] = off
		for i := len(out) - 1; i >= 0; i-- {
			if coord[i]++; coord[i] < out[i] {
				break
			}
			coord[i] = 0
		}
	}
	return idx
}

func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("%w: cannot broadcast %v with %v", ErrShape, a, b)
		}
	}
	return out, nil
}

func (c *compiler) add(a, b *tensor) (*tensor, error) {
	shape, err := broadcastShape(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	ia, ib := broadcastIndex(a.shape, shape), broadcastIndex(b.shape, shape)
	out := &tensor{shape: shape, d: make([]*val, len(ia))}
	for k := range out.d {
		out.d[k] = c.g.sat32(c.g.add(a.d[ia[k]], b.d[ib[k]]))
	}
	return out, nil
}

// gemm: each output is Sat32(RoundShift(Σ a·b, 16) + c), with b constant.
func (c *compiler) gemm(a, b, bias *tensor, transB bool) (*tensor, error) {
	if err := fixedOnly(a, b); err != nil {
		return nil, err
	}
	if len(a.shape) != 2 || len(b.shape) != 2 {
		return nil, fmt.Errorf("%w: Gemm/MatMul take 2-D tensors, got %v and %v", ErrShape, a.shape, b.shape)
	}
	w, err := weights(b, "the second Gemm/MatMul input")
	if err != nil {
		return nil, err
	}
	m, k := a.shape[0], a.shape[1]
	kb, nn := b.shape[0], b.shape[1]
	if transB {
		kb, nn = nn, kb
	}
	if k != kb {
		return nil, fmt.Errorf("%w: inner dims %v · %v", ErrShape, a.shape, b.shape)
	}
	outShape := []int{m, nn}
	var ci []int
	if bias != nil {
		if err := fixedOnly(bias); err != nil {
			return nil, err
		}
		if s, err := broadcastShape(bias.shape, outShape); err != nil || !slices.Equal(s, outShape) {
			return nil, fmt.Errorf("%w: bias %v for output %v", ErrShape, bias.shape, outShape)
		}
		ci = broadcastIndex(bias.shape, outShape)
	}
	out := &tensor{shape: outShape, d: make([]*val, m*nn)}
	col := make([]int32, k)
	for j := 0; j < nn; j++ {
		for t := 0; t < k; t++ {
			if transB {
				col[t] = w[j*k+t]
			} else {
				col[t] = w[t*nn+j]
			}
		}
		for i := 0; i < m; i++ {
			acc, lo, hi, err := c.g.dot(a.d[i*k:(i+1)*k], col)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
			}
			v := c.g.rescale(acc, lo, hi)
			if bias != nil {
				v = c.g.add(v, bias.d[ci[i*nn+j]])
			}
			out.d[i*nn+j] = c.g.sat32(v)
		}
	}
	return out, nil
}

// spatial reads kernel, stride and pad attributes as the runtime does.
func spatial(n model.Node, kernel []int64) (kh, kw, sh, sw, pt, pl, pb, pr int, err error) {
	if len(kernel) != 2 || kernel[0] < 1 || kernel[1] < 1 || kernel[0] > 1<<16 || kernel[1] > 1<<16 {
		err = fmt.Errorf("%w: 2-D kernel needed, got %v", ErrUnsupported, kernel)
		return
	}
	st := attrInts(n, "strides", []int64{1, 1})
	pads := attrInts(n, "pads", []int64{0, 0, 0, 0})
	if len(st) != 2 || len(pads) != 4 {
		err = fmt.Errorf("%w: strides %v pads %v", ErrUnsupported, st, pads)
		return
	}
	for _, v := range st {
		if v < 1 || v > 1<<16 {
			err = fmt.Errorf("%w: stride %d", ErrShape, v)
			return
		}
	}
	for _, v := range pads {
		if v < 0 || v > 1<<16 {
			err = fmt.Errorf("%w: pad %d", ErrShape, v)
			return
		}
	}
	return int(kernel[0]), int(kernel[1]), int(st[0]), int(st[1]), int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3]), nil
}

func outDim(in, k, s, p0, p1 int) (int, error) {
	span := in + p0 + p1 - k
	if span < 0 {
		return 0, fmt.Errorf("%w: window %d larger than padded input %d", ErrShape, k, in+p0+p1)
	}
	return span/s + 1, nil
}

// conv is a 2-D convolution, NCHW, group 1, dilation 1, with constant weights.
func (c *compiler) conv(n model.Node, x, wt, b *tensor) (*tensor, error) {
	if err := fixedOnly(x, wt); err != nil {
		return nil, err
	}
	if len(x.shape) != 4 || len(wt.shape) != 4 {
		return nil, fmt.Errorf("%w: Conv takes NCHW input and MCkk weights, got %v and %v", ErrShape, x.shape, wt.shape)
	}
	w, err := weights(wt, "Conv weights")
	if err != nil {
		return nil, err
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	M := wt.shape[0]
	if wt.shape[1] != C {
		return nil, fmt.Errorf("%w: weights %v for %d channels", ErrShape, wt.shape, C)
	}
	kernel := attrInts(n, "kernel_shape", []int64{int64(wt.shape[2]), int64(wt.shape[3])})
	if len(kernel) != 2 || kernel[0] != int64(wt.shape[2]) || kernel[1] != int64(wt.shape[3]) {
		return nil, fmt.Errorf("%w: kernel_shape %v with weights %v", ErrShape, kernel, wt.shape)
	}
	kh, kw, sh, sw, pt, pl, pb, pr, err := spatial(n, kernel)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := fixedOnly(b); err != nil {
			return nil, err
		}
		if len(b.shape) != 1 || b.shape[0] != M {
			return nil, fmt.Errorf("%w: bias %v for %d maps", ErrShape, b.shape, M)
		}
	}
	OH, err := outDim(H, kh, sh, pt, pb)
	if err != nil {
		return nil, err
	}
	OW, err := outDim(W, kw, sw, pl, pr)
	if err != nil {
		return nil, err
	}
	out := &tensor{shape: []int{N, M, OH, OW}, d: make([]*val, N*M*OH*OW)}
	xs := make([]*val, 0, C*kh*kw)
	ws := make([]int32, 0, C*kh*kw)
	for ni := 0; ni < N; ni++ {
		for m := 0; m < M; m++ {
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					xs, ws = xs[:0], ws[:0]
					for ch := 0; ch < C; ch++ {
						for ky := 0; ky < kh; ky++ {
							iy := oy*sh + ky - pt
							if iy < 0 || iy >= H {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := ox*sw + kx - pl
								if ix < 0 || ix >= W {
									continue
								}
								xs = append(xs, x.d[((ni*C+ch)*H+iy)*W+ix])
								ws = append(ws, w[((m*C+ch)*kh+ky)*kw+kx])
							}
						}
					}
					acc, lo, hi, err := c.g.dot(xs, ws)
					if err != nil {
						return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
					}
					v := c.g.rescale(acc, lo, hi)
					if b != nil {
						v = c.g.add(v, b.d[m])
					}
					out.d[((ni*M+m)*OH+oy)*OW+ox] = c.g.sat32(v)
				}
			}
		}
	}
	return out, nil
}

func (c *compiler) maxPool(n model.Node, x *tensor) (*tensor, error) {
	if len(x.shape) != 4 {
		return nil, fmt.Errorf("%w: MaxPool takes NCHW, got %v", ErrShape, x.shape)
	}
	kernel, ok := n.Attrs["kernel_shape"]
	if !ok {
		return nil, fmt.Errorf("%w: MaxPool needs kernel_shape", ErrShape)
	}
	kh, kw, sh, sw, pt, pl, pb, pr, err := spatial(n, kernel.Ints)
	if err != nil {
		return nil, err
	}
	if pt >= kh || pb >= kh || pl >= kw || pr >= kw {
		return nil, fmt.Errorf("%w: MaxPool pads must be smaller than the kernel", ErrShape)
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	OH, err := outDim(H, kh, sh, pt, pb)
	if err != nil {
		return nil, err
	}
	OW, err := outDim(W, kw, sw, pl, pr)
	if err != nil {
		return nil, err
	}
	out := &tensor{shape: []int{N, C, OH, OW}, d: make([]*val, N*C*OH*OW), isInt: x.isInt}
	for nc := 0; nc < N*C; nc++ {
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				var best *val
				for ky := 0; ky < kh; ky++ {
					iy := oy*sh + ky - pt
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < kw; kx++ {
						ix := ox*sw + kx - pl
						if ix < 0 || ix >= W {
							continue
						}
						e := x.d[(nc*H+iy)*W+ix]
						if best == nil {
							best = e
						} else {
							best = c.g.max2(best, e)
						}
					}
				}
				if best == nil {
					best = constVal(math.MinInt32)
				}
				out.d[(nc*OH+oy)*OW+ox] = best
			}
		}
	}
	return out, nil
}

func (c *compiler) argMax(n model.Node, x *tensor) (*tensor, error) {
	r := int64(len(x.shape))
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("%w: ArgMax axis %d for rank %d", ErrShape, axis, r)
	}
	outer, dim, inner := numElems(x.shape[:axis]), x.shape[axis], numElems(x.shape[axis+1:])
	if dim == 0 {
		return nil, fmt.Errorf("%w: ArgMax over an empty axis", ErrShape)
	}
	shape := slices.Clone(x.shape)
	if attrInt(n, "keepdims", 1) != 0 {
		shape[axis] = 1
	} else {
		shape = slices.Delete(shape, int(axis), int(axis)+1)
	}
	out := &tensor{shape: shape, d: make([]*val, outer*inner), isInt: true}
	xs := make([]*val, dim)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			for d := 0; d < dim; d++ {
				xs[d] = x.d[(o*dim+d)*inner+in]
			}
			out.d[o*inner+in] = c.g.argMax(xs)
		}
	}
	return out, nil
}
