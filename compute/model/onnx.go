package model

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The subset of ONNX's protobuf schema (onnx.proto3) this package reads. Field numbers are
// those of the ONNX specification; unknown fields are skipped.

// Graph is a decoded ONNX graph.
type Graph struct {
	Nodes        []Node
	Initializers []RawTensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	Opset        int64 // default-domain opset version; 0 when the model names none
}

// Node is one operator application.
type Node struct {
	OpType  string
	Domain  string
	Name    string
	Inputs  []string
	Outputs []string
	Attrs   map[string]Attr
}

// Attr is a node attribute. Floats are kept as IEEE-754 bit patterns: the runtime never does
// float arithmetic.
type Attr struct {
	Type      int32
	I         int64
	FBits     uint32
	S         []byte
	Ints      []int64
	FloatBits []uint32
	T         *RawTensor
}

// Attribute types of AttributeProto.AttributeType.
const (
	AttrFloat  = 1
	AttrInt    = 2
	AttrString = 3
	AttrTensor = 4
	AttrFloats = 6
	AttrInts   = 7
)

// RawTensor is a TensorProto as stored: dims, element type and data in one of its encodings.
type RawTensor struct {
	Name      string
	Dims      []int64
	DataType  int32
	Raw       []byte
	FloatBits []uint32
	Int32s    []int32
	Int64s    []int64
}

// TensorProto.DataType values this package reads.
const (
	dtFloat = 1
	dtInt32 = 6
	dtInt64 = 7
)

// ValueInfo is a graph input or output: a name and, when declared, a shape (-1 for symbolic
// dimensions).
type ValueInfo struct {
	Name     string
	ElemType int32
	Shape    []int64
}

// Decoding limits: a model is untrusted bytes.
const (
	maxRepeated = 1 << 24
)

// ParseModel decodes a serialized ModelProto.
func ParseModel(b []byte) (*Graph, error) {
	g := &Graph{}
	var graphBytes []byte
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 7: // graph
			if typ != protowire.BytesType {
				return wrongType("ModelProto.graph")
			}
			graphBytes = v
		case 8: // opset_import
			if typ != protowire.BytesType {
				return wrongType("ModelProto.opset_import")
			}
			var domain string
			var version int64
			if err := fields(v, func(n protowire.Number, t protowire.Type, vv []byte, xx uint64) error {
				switch {
				case n == 1 && t == protowire.BytesType:
					domain = string(vv)
				case n == 2 && t == protowire.VarintType:
					version = int64(xx)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain == "" || domain == "ai.onnx" {
				g.Opset = version
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graphBytes == nil {
		return nil, fmt.Errorf("%w: no graph", ErrProto)
	}
	if err := parseGraph(graphBytes, g); err != nil {
		return nil, err
	}
	return g, nil
}

func parseGraph(b []byte, g *Graph) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n, err := parseNode(v)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case 5:
			t, err := parseTensor(v)
			if err != nil {
				return err
			}
			g.Initializers = append(g.Initializers, t)
		case 11, 12:
			vi, err := parseValueInfo(v)
			if err != nil {
				return err
			}
			if num == 11 {
				g.Inputs = append(g.Inputs, vi)
			} else {
				g.Outputs = append(g.Outputs, vi)
			}
		case 15:
			return fmt.Errorf("%w: sparse initializers", ErrUnsupported)
		}
		return nil
	})
}

func parseNode(b []byte) (Node, error) {
	n := Node{Attrs: map[string]Attr{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n.Inputs = append(n.Inputs, string(v))
		case 2:
			n.Outputs = append(n.Outputs, string(v))
		case 3:
			n.Name = string(v)
		case 4:
			n.OpType = string(v)
		case 7:
			n.Domain = string(v)
		case 5:
			name, a, err := parseAttr(v)
			if err != nil {
				return err
			}
			n.Attrs[name] = a
		}
		return nil
	})
	return n, err
}

func parseAttr(b []byte) (string, Attr, error) {
	var name string
	var a Attr
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			name = string(v)
		case 20:
			a.Type = int32(x)
		case 2:
			if typ != protowire.Fixed32Type {
				return wrongType("AttributeProto.f")
			}
			a.FBits = uint32(x)
		case 3:
			a.I = int64(x)
		case 4:
			a.S = v
		case 5:
			t, err := parseTensor(v)
			if err != nil {
				return err
			}
			a.T = &t
		case 7:
			return repeatedFixed32(typ, v, x, &a.FloatBits)
		case 8:
			return repeatedVarint(typ, v, x, func(u uint64) { a.Ints = append(a.Ints, int64(u)) }, len(a.Ints))
		}
		return nil
	})
	return name, a, err
}

func parseTensor(b []byte) (RawTensor, error) {
	var t RawTensor
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			return repeatedVarint(typ, v, x, func(u uint64) { t.Dims = append(t.Dims, int64(u)) }, len(t.Dims))
		case 2:
			t.DataType = int32(x)
		case 4:
			return repeatedFixed32(typ, v, x, &t.FloatBits)
		case 5:
			return repeatedVarint(typ, v, x, func(u uint64) { t.Int32s = append(t.Int32s, int32(u)) }, len(t.Int32s))
		case 7:
			return repeatedVarint(typ, v, x, func(u uint64) { t.Int64s = append(t.Int64s, int64(u)) }, len(t.Int64s))
		case 8:
			t.Name = string(v)
		case 9:
			t.Raw = v
		case 13, 14:
			if num == 13 || x != 0 {
				return fmt.Errorf("%w: external tensor data", ErrUnsupported)
			}
		}
		return nil
	})
	return t, err
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			vi.Name = string(v)
		case 2: // TypeProto
			return fields(v, func(n protowire.Number, t protowire.Type, vv []byte, _ uint64) error {
				if n != 1 || t != protowire.BytesType { // tensor_type
					return nil
				}
				return fields(vv, func(n2 protowire.Number, t2 protowire.Type, v2 []byte, x2 uint64) error {
					switch {
					case n2 == 1 && t2 == protowire.VarintType:
						vi.ElemType = int32(x2)
					case n2 == 2 && t2 == protowire.BytesType: // shape
						return fields(v2, func(n3 protowire.Number, t3 protowire.Type, v3 []byte, _ uint64) error {
							if n3 != 1 || t3 != protowire.BytesType {
								return nil
							}
							d := int64(-1)
							err := fields(v3, func(n4 protowire.Number, t4 protowire.Type, _ []byte, x4 uint64) error {
								if n4 == 1 && t4 == protowire.VarintType {
									d = int64(x4)
								}
								return nil
							})
							if len(vi.Shape) >= maxRepeated {
								return fmt.Errorf("%w: too many dims", ErrProto)
							}
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// fields walks the top-level fields of one message. For varint and fixed fields x holds the
// value; for length-delimited fields v holds the bytes. Groups are rejected.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrProto, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("%w: wire type %d", ErrProto, typ)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrProto, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// repeatedVarint reads one element, or a packed run of them.
func repeatedVarint(typ protowire.Type, v []byte, x uint64, add func(uint64), have int) error {
	switch typ {
	case protowire.VarintType:
		if have >= maxRepeated {
			return fmt.Errorf("%w: repeated field too long", ErrProto)
		}
		add(x)
		return nil
	case protowire.BytesType:
		for len(v) > 0 {
			u, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return fmt.Errorf("%w: packed varint: %v", ErrProto, protowire.ParseError(n))
			}
			if have++; have > maxRepeated {
				return fmt.Errorf("%w: repeated field too long", ErrProto)
			}
			add(u)
			v = v[n:]
		}
		return nil
	}
	return wrongType("repeated varint")
}

func repeatedFixed32(typ protowire.Type, v []byte, x uint64, dst *[]uint32) error {
	switch typ {
	case protowire.Fixed32Type:
		*dst = append(*dst, uint32(x))
		return nil
	case protowire.BytesType:
		if len(v)%4 != 0 {
			return fmt.Errorf("%w: packed fixed32 of %d bytes", ErrProto, len(v))
		}
		for ; len(v) > 0; v = v[4:] {
			u, _ := protowire.ConsumeFixed32(v)
			*dst = append(*dst, u)
		}
		return nil
	}
	return wrongType("repeated fixed32")
}

func wrongType(field string) error { return fmt.Errorf("%w: wrong wire type for %s", ErrProto, field) }
