package contracts

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/holiman/uint256"
)

// The binary codec used for transactions and state records. It is canonical: every value has
// exactly one encoding, and the decoder rejects any other (non-minimal varints, amounts with
// leading zero bytes, booleans other than 0 and 1, trailing bytes). Canonical bytes make
// signatures non-malleable and state hashes reproducible.
//
// Layout rules: unsigned integers are uvarints; signed integers zig-zag varints; byte strings
// and strings a uvarint length then the bytes; amounts a length byte (0..32) then the minimal
// big-endian bytes.

type encoder struct{ buf []byte }

func (e *encoder) u8(v uint8) { e.buf = append(e.buf, v) }
func (e *encoder) u64(v uint64) {
	e.buf = binary.AppendUvarint(e.buf, v)
}
func (e *encoder) i64(v int64) {
	e.buf = binary.AppendVarint(e.buf, v)
}
func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) bytes(b []byte) {
	e.u64(uint64(len(b)))
	e.buf = append(e.buf, b...)
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *encoder) fixed(b []byte) { e.buf = append(e.buf, b...) }
func (e *encoder) amount(a *uint256.Int) {
	if a == nil {
		e.u8(0)
		return
	}
	b := a.Bytes()
	e.u8(uint8(len(b)))
	e.buf = append(e.buf, b...)
}

// decoder reads what encoder writes. The first failure sticks in err; later reads return zero
// values, so callers check err once at the end.
type decoder struct {
	buf  []byte
	size int // len(buf) at the start, so failures can say where they happened
	err  error
}

func newDecoder(b []byte) *decoder { return &decoder{buf: b, size: len(b)} }

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = Errorf(CodeMalformed, "the input is malformed at byte %d of %d: %s", d.size-len(d.buf), d.size, msg)
	}
}

func (d *decoder) u8() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 1 {
		d.fail("unexpected end of input")
		return 0
	}
	v := d.buf[0]
	d.buf = d.buf[1:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	// A minimal uvarint never ends in a zero byte, except the single byte 0.
	if n > 1 && d.buf[n-1] == 0 {
		d.fail("non-minimal varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// u32 reads a uvarint that must fit in 32 bits; a larger value is refused rather than
// truncated, which would give one value several encodings.
func (d *decoder) u32() uint32 {
	v := d.u64()
	if d.err == nil && v > math.MaxUint32 {
		d.fail("value does not fit in 32 bits")
		return 0
	}
	return uint32(v)
}

func (d *decoder) i64() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if n > 1 && d.buf[n-1] == 0 {
		d.fail("non-minimal varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) boolean() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("boolean out of range")
		return false
	}
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) || n > math.MaxInt32 {
		d.fail("length past end of input")
		return nil
	}
	out := d.buf[:n:n]
	d.buf = d.buf[n:]
	return out
}

func (d *decoder) bytes(max int) []byte {
	n := d.u64()
	if d.err == nil && n > uint64(max) {
		d.fail("field longer than allowed")
		return nil
	}
	b := d.take(n)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *decoder) str(max int) string { return string(d.bytes(max)) }

func (d *decoder) fixed(n int) []byte {
	b := d.take(uint64(n))
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *decoder) amount() *uint256.Int {
	n := d.u8()
	if d.err == nil && n > 32 {
		d.fail("amount longer than 32 bytes")
		return new(uint256.Int)
	}
	b := d.take(uint64(n))
	if d.err != nil {
		return new(uint256.Int)
	}
	if n > 0 && b[0] == 0 {
		d.fail("amount has leading zero bytes")
		return new(uint256.Int)
	}
	return new(uint256.Int).SetBytes(b)
}

// finish reports the first failure, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.buf)))
	}
	return d.err
}
