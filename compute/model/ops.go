package model

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// evaluator applies operators under a budget of tensor elements.
type evaluator struct {
	ctx       context.Context
	budget    uint64 // elements still allowed
	allocated uint64 // elements allocated so far
	opset     int64
	work      int64 // multiply-accumulates and comparisons so far
	nextCheck int64
}

// spend counts work and checks for cancellation every 2^16 units, so that no operator, however
// large, outlives the job's deadline by more than a moment.
func (ev *evaluator) spend(n int) error {
	ev.work += int64(n)
	if ev.work >= ev.nextCheck {
		ev.nextCheck = ev.work + 1<<16
		return ev.ctx.Err()
	}
	return nil
}

func (ev *evaluator) alloc(shape []int, isInt bool) (Tensor, error) {
	n := NumElems(shape)
	if n < 0 || uint64(n) > ev.budget {
		return Tensor{}, fmt.Errorf("%w: a %v tensor", ErrBudget, shape)
	}
	ev.budget -= uint64(n)
	ev.allocated += uint64(n)
	return Tensor{Shape: slices.Clone(shape), Data: make([]int32, n), Int: isInt}, nil
}

func attrInt(n Node, name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.I
	}
	return def
}

func attrInts(n Node, name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok {
		return a.Ints
	}
	return def
}

func arity(n Node, args []Tensor, min, max int) error {
	if len(args) < min || len(args) > max {
		return fmt.Errorf("%w: %d inputs", ErrShape, len(args))
	}
	for i, a := range args {
		if NumElems(a.Shape) != len(a.Data) {
			return fmt.Errorf("%w: input %d (%q) is missing or malformed", ErrShape, i, n.Inputs[i])
		}
	}
	return nil
}

func fixed(args ...Tensor) error {
	for _, a := range args {
		if a.Int {
			return fmt.Errorf("%w: an integer tensor where fixed point is expected", ErrUnsupported)
		}
	}
	return nil
}

func (ev *evaluator) apply(n Node, args []Tensor) (Tensor, error) {
	switch n.OpType {
	case "Relu", "Sigmoid":
		if err := arity(n, args, 1, 1); err != nil {
			return Tensor{}, err
		}
		if err := fixed(args[0]); err != nil {
			return Tensor{}, err
		}
		out, err := ev.alloc(args[0].Shape, false)
		if err != nil {
			return out, err
		}
		for i, v := range args[0].Data {
			if n.OpType == "Relu" {
				out.Data[i] = max(v, 0)
			} else {
				out.Data[i] = Sigmoid(v)
			}
		}
		return out, nil
	case "Add":
		if err := arity(n, args, 2, 2); err != nil {
			return Tensor{}, err
		}
		if err := fixed(args...); err != nil {
			return Tensor{}, err
		}
		return ev.add(args[0], args[1])
	case "MatMul":
		if err := arity(n, args, 2, 2); err != nil {
			return Tensor{}, err
		}
		return ev.gemm(args[0], args[1], nil, false)
	case "Gemm":
		if err := arity(n, args, 2, 3); err != nil {
			return Tensor{}, err
		}
		var c *Tensor
		if len(args) == 3 {
			c = &args[2]
		}
		return ev.gemm(args[0], args[1], c, attrInt(n, "transB", 0) != 0)
	case "Conv":
		if err := arity(n, args, 2, 3); err != nil {
			return Tensor{}, err
		}
		var b *Tensor
		if len(args) == 3 {
			b = &args[2]
		}
		return ev.conv(n, args[0], args[1], b)
	case "MaxPool":
		if err := arity(n, args, 1, 1); err != nil {
			return Tensor{}, err
		}
		return ev.maxPool(n, args[0])
	case "Flatten":
		if err := arity(n, args, 1, 1); err != nil {
			return Tensor{}, err
		}
		x := args[0]
		axis := attrInt(n, "axis", 1)
		if axis < 0 {
			axis += int64(len(x.Shape))
		}
		if axis < 0 || axis > int64(len(x.Shape)) {
			return Tensor{}, fmt.Errorf("%w: axis %d for rank %d", ErrShape, axis, len(x.Shape))
		}
		return ev.view(x, []int{NumElems(x.Shape[:axis]), NumElems(x.Shape[axis:])})
	case "Reshape":
		if err := arity(n, args, 2, 2); err != nil {
			return Tensor{}, err
		}
		return ev.reshape(args[0], args[1])
	case "Softmax":
		if err := arity(n, args, 1, 1); err != nil {
			return Tensor{}, err
		}
		return ev.softmax(n, args[0])
	case "ArgMax":
		if err := arity(n, args, 1, 1); err != nil {
			return Tensor{}, err
		}
		return ev.argMax(n, args[0])
	}
	return Tensor{}, fmt.Errorf("%w: operator %q", ErrUnsupported, n.OpType)
}

// view copies x into a tensor of another shape with the same number of elements.
func (ev *evaluator) view(x Tensor, shape []int) (Tensor, error) {
	if NumElems(shape) != len(x.Data) {
		return Tensor{}, fmt.Errorf("%w: cannot view %v as %v", ErrShape, x.Shape, shape)
	}
	out, err := ev.alloc(shape, x.Int)
	if err != nil {
		return out, err
	}
	copy(out.Data, x.Data)
	return out, nil
}

func (ev *evaluator) reshape(x, s Tensor) (Tensor, error) {
	if !s.Int || len(s.Shape) != 1 {
		return Tensor{}, fmt.Errorf("%w: Reshape needs a 1-D integer shape", ErrShape)
	}
	shape := make([]int, len(s.Data))
	infer := -1
	for i, d := range s.Data {
		switch {
		case d == 0:
			if i >= len(x.Shape) {
				return Tensor{}, fmt.Errorf("%w: Reshape copies dim %d of a rank-%d tensor", ErrShape, i, len(x.Shape))
			}
			shape[i] = x.Shape[i]
		case d == -1:
			if infer >= 0 {
				return Tensor{}, fmt.Errorf("%w: two -1 dims in Reshape", ErrShape)
			}
			infer = i
			shape[i] = 1
		case d < 0:
			return Tensor{}, fmt.Errorf("%w: Reshape dim %d", ErrShape, d)
		default:
			shape[i] = int(d)
		}
	}
	if infer >= 0 {
		rest := NumElems(shape)
		if rest <= 0 || len(x.Data)%rest != 0 {
			return Tensor{}, fmt.Errorf("%w: cannot infer Reshape %v from %v", ErrShape, s.Data, x.Shape)
		}
		shape[infer] = len(x.Data) / rest
	}
	return ev.view(x, shape)
}

// broadcastShape is numpy's multidirectional broadcast.
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

// broadcastIndex maps each flat index of shape out to a flat index of t.
func broadcastIndex(t []int, out []int) []int {
	n := NumElems(out)
	idx := make([]int, n)
	strides := make([]int, len(out))
	s := 1
	for i := len(t) - 1; i >= 0; i-- {
		o := i + len(out) - len(t)
		if t[i] != 1 {
			strides[o] = s
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

func (ev *evaluator) add(a, b Tensor) (Tensor, error) {
	shape, err := broadcastShape(a.Shape, b.Shape)
	if err != nil {
		return Tensor{}, err
	}
	out, err := ev.alloc(shape, false)
	if err != nil {
		return out, err
	}
	ia, ib := broadcastIndex(a.Shape, shape), broadcastIndex(b.Shape, shape)
	for k := range out.Data {
		out.Data[k] = Sat32(int64(a.Data[ia[k]]) + int64(b.Data[ib[k]]))
	}
	return out, nil
}

// gemm computes A·B (+ C), A of shape [M,K] and B of [K,N] (or [N,K] when transB): each
// output is Sat32(RoundShift(Σ a·b, 16) + c).
func (ev *evaluator) gemm(a, b Tensor, c *Tensor, transB bool) (Tensor, error) {
	if err := fixed(a, b); err != nil {
		return Tensor{}, err
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return Tensor{}, fmt.Errorf("%w: Gemm/MatMul take 2-D tensors, got %v and %v", ErrShape, a.Shape, b.Shape)
	}
	m, k := a.Shape[0], a.Shape[1]
	kb, nn := b.Shape[0], b.Shape[1]
	if transB {
		kb, nn = nn, kb
	}
	if k != kb {
		return Tensor{}, fmt.Errorf("%w: inner dims %v · %v", ErrShape, a.Shape, b.Shape)
	}
	out, err := ev.alloc([]int{m, nn}, false)
	if err != nil {
		return out, err
	}
	var ci []int
	if c != nil {
		if err := fixed(*c); err != nil {
			return Tensor{}, err
		}
		if s, err := broadcastShape(c.Shape, out.Shape); err != nil || !slices.Equal(s, out.Shape) {
			return Tensor{}, fmt.Errorf("%w: bias %v for output %v", ErrShape, c.Shape, out.Shape)
		}
		ci = broadcastIndex(c.Shape, out.Shape)
	}
	for i := 0; i < m; i++ {
		if err := ev.ctx.Err(); err != nil {
			return Tensor{}, err
		}
		row := a.Data[i*k : (i+1)*k]
		for j := 0; j < nn; j++ {
			if err := ev.spend(k + 1); err != nil {
				return Tensor{}, err
			}
			var acc int64
			if transB {
				col := b.Data[j*k : (j+1)*k]
				for t, av := range row {
					acc += int64(av) * int64(col[t])
				}
			} else {
				for t, av := range row {
					acc += int64(av) * int64(b.Data[t*nn+j])
				}
			}
			v := RoundShift(acc, FracBits)
			if c != nil {
				v += int64(c.Data[ci[i*nn+j]])
			}
			out.Data[i*nn+j] = Sat32(v)
		}
	}
	return out, nil
}

// spatial reads kernel, stride and pad attributes for a 2-D window over [N,C,H,W].
func spatial(n Node, kernel []int64) (kh, kw, sh, sw, pt, pl, pb, pr int, err error) {
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

// conv is a 2-D convolution, NCHW, group 1, dilation 1: each output is
// Sat32(RoundShift(Σ x·w, 16) + bias).
func (ev *evaluator) conv(n Node, x, w Tensor, b *Tensor) (Tensor, error) {
	if err := fixed(x, w); err != nil {
		return Tensor{}, err
	}
	if len(x.Shape) != 4 || len(w.Shape) != 4 {
		return Tensor{}, fmt.Errorf("%w: Conv takes NCHW input and MCkk weights, got %v and %v", ErrShape, x.Shape, w.Shape)
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	M := w.Shape[0]
	if w.Shape[1] != C {
		return Tensor{}, fmt.Errorf("%w: weights %v for %d channels", ErrShape, w.Shape, C)
	}
	kernel := attrInts(n, "kernel_shape", []int64{int64(w.Shape[2]), int64(w.Shape[3])})
	if len(kernel) != 2 || kernel[0] != int64(w.Shape[2]) || kernel[1] != int64(w.Shape[3]) {
		return Tensor{}, fmt.Errorf("%w: kernel_shape %v with weights %v", ErrShape, kernel, w.Shape)
	}
	kh, kw, sh, sw, pt, pl, pb, pr, err := spatial(n, kernel)
	if err != nil {
		return Tensor{}, err
	}
	if b != nil {
		if err := fixed(*b); err != nil {
			return Tensor{}, err
		}
		if len(b.Shape) != 1 || b.Shape[0] != M {
			return Tensor{}, fmt.Errorf("%w: bias %v for %d maps", ErrShape, b.Shape, M)
		}
	}
	OH, err := outDim(H, kh, sh, pt, pb)
	if err != nil {
		return Tensor{}, err
	}
	OW, err := outDim(W, kw, sw, pl, pr)
	if err != nil {
		return Tensor{}, err
	}
	out, err := ev.alloc([]int{N, M, OH, OW}, false)
	if err != nil {
		return out, err
	}
	for ni := 0; ni < N; ni++ {
		for m := 0; m < M; m++ {
			if err := ev.ctx.Err(); err != nil {
				return Tensor{}, err
			}
			for oy := 0; oy < OH; oy++ {
				for ox := 0; ox < OW; ox++ {
					if err := ev.spend(C*kh*kw + 1); err != nil {
						return Tensor{}, err
					}
					var acc int64
					for c := 0; c < C; c++ {
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
								acc += int64(x.Data[((ni*C+c)*H+iy)*W+ix]) * int64(w.Data[((m*C+c)*kh+ky)*kw+kx])
							}
						}
					}
					v := RoundShift(acc, FracBits)
					if b != nil {
						v += int64(b.Data[m])
					}
					out.Data[((ni*M+m)*OH+oy)*OW+ox] = Sat32(v)
				}
			}
		}
	}
	return out, nil
}

func (ev *evaluator) maxPool(n Node, x Tensor) (Tensor, error) {
	if len(x.Shape) != 4 {
		return Tensor{}, fmt.Errorf("%w: MaxPool takes NCHW, got %v", ErrShape, x.Shape)
	}
	kernel, ok := n.Attrs["kernel_shape"]
	if !ok {
		return Tensor{}, fmt.Errorf("%w: MaxPool needs kernel_shape", ErrShape)
	}
	kh, kw, sh, sw, pt, pl, pb, pr, err := spatial(n, kernel.Ints)
	if err != nil {
		return Tensor{}, err
	}
	if pt >= kh || pb >= kh || pl >= kw || pr >= kw {
		return Tensor{}, fmt.Errorf("%w: MaxPool pads must be smaller than the kernel", ErrShape)
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	OH, err := outDim(H, kh, sh, pt, pb)
	if err != nil {
		return Tensor{}, err
	}
	OW, err := outDim(W, kw, sw, pl, pr)
	if err != nil {
		return Tensor{}, err
	}
	out, err := ev.alloc([]int{N, C, OH, OW}, x.Int)
	if err != nil {
		return out, err
	}
	for nc := 0; nc < N*C; nc++ {
		if err := ev.ctx.Err(); err != nil {
			return Tensor{}, err
		}
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				if err := ev.spend(kh*kw + 1); err != nil {
					return Tensor{}, err
				}
				best := int32(math.MinInt32)
				for ky := 0; ky < kh; ky++ {
					iy := oy*sh + ky - pt
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < kw; kx++ {
						ix := ox*sw + kx - pl
						if ix >= 0 && ix < W {
							best = max(best, x.Data[(nc*H+iy)*W+ix])
						}
					}
				}
				out.Data[(nc*OH+oy)*OW+ox] = best
			}
		}
	}
	return out, nil
}

// softmax normalises groups of trailing elements: exp by ExpNeg of (x - max), then
// p = (e·2^16 + sum/2) / sum with integer division.
func (ev *evaluator) softmax(n Node, x Tensor) (Tensor, error) {
	if err := fixed(x); err != nil {
		return Tensor{}, err
	}
	r := int64(len(x.Shape))
	def := int64(-1)
	if ev.opset > 0 && ev.opset < 13 {
		def = 1
	}
	axis := attrInt(n, "axis", def)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return Tensor{}, fmt.Errorf("%w: Softmax axis %d for rank %d", ErrShape, axis, r)
	}
	if !(ev.opset > 0 && ev.opset < 13) && axis != r-1 {
		return Tensor{}, fmt.Errorf("%w: Softmax only along the last axis", ErrUnsupported)
	}
	group := NumElems(x.Shape[axis:])
	out, err := ev.alloc(x.Shape, false)
	if err != nil || group == 0 {
		return out, err
	}
	for g := 0; g+group <= len(x.Data); g += group {
		in := x.Data[g : g+group]
		mx := slices.Max(in)
		var sum int64
		for i, v := range in {
			e := ExpNeg(Sat32(int64(v) - int64(mx)))
			out.Data[g+i] = e
			sum += int64(e)
		}
		for i := range in {
			out.Data[g+i] = int32((int64(out.Data[g+i])<<FracBits + sum/2) / sum)
		}
	}
	return out, nil
}

// argMax gives the index of the first maximum along axis, as an integer tensor.
func (ev *evaluator) argMax(n Node, x Tensor) (Tensor, error) {
	r := int64(len(x.Shape))
	axis := attrInt(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return Tensor{}, fmt.Errorf("%w: ArgMax axis %d for rank %d", ErrShape, axis, r)
	}
	outer, dim, inner := NumElems(x.Shape[:axis]), x.Shape[axis], NumElems(x.Shape[axis+1:])
	if dim == 0 {
		return Tensor{}, fmt.Errorf("%w: ArgMax over an empty axis", ErrShape)
	}
	shape := slices.Clone(x.Shape)
	if attrInt(n, "keepdims", 1) != 0 {
		shape[axis] = 1
	} else {
		shape = slices.Delete(shape, int(axis), int(axis)+1)
	}
	out, err := ev.alloc(shape, true)
	if err != nil {
		return out, err
	}
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			if err := ev.spend(dim); err != nil {
				return Tensor{}, err
			}
			best, bi := x.Data[o*dim*inner+in], 0
			for d := 1; d < dim; d++ {
				if v := x.Data[(o*dim+d)*inner+in]; v > best {
					best, bi = v, d
				}
			}
			out.Data[o*inner+in] = int32(bi)
		}
	}
	return out, nil
}
