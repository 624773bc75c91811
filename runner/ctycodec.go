package runner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// A compact binary encoding of known, unmarked cty values with their types,
// for the compiled-pipeline cache: faster to write, read and hash than cty
// JSON, which matters at thousands of stages. A value that is unknown or
// marked, or whose type is a capsule or has optional attributes, cannot be
// encoded (errNotEncodable): the cache then does not hold that stage.

var errNotEncodable = errors.New("value cannot be cached (unknown, marked or of an unsupported type)")

// encoder appends to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) uvarint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *encoder) int(n int64)      { e.b = binary.AppendVarint(e.b, n) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(b []byte)   { e.uvarint(uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) strs(s []string) {
	e.uvarint(uint64(len(s)))
	for _, x := range s {
		e.str(x)
	}
}

// typ encodes a type.
func (e *encoder) typ(t cty.Type) error {
	switch {
	case t == cty.String:
		e.b = append(e.b, 'S')
	case t == cty.Number:
		e.b = append(e.b, 'N')
	case t == cty.Bool:
		e.b = append(e.b, 'B')
	case t == cty.DynamicPseudoType:
		e.b = append(e.b, 'D')
	case t.IsListType():
		e.b = append(e.b, 'L')
		return e.typ(t.ElementType())
	case t.IsMapType():
		e.b = append(e.b, 'M')
		return e.typ(t.ElementType())
	case t.IsSetType():
		e.b = append(e.b, 'E')
		return e.typ(t.ElementType())
	case t.IsObjectType():
		if len(t.OptionalAttributes()) > 0 {
			return errNotEncodable
		}
		at := t.AttributeTypes()
		names := make([]string, 0, len(at))
		for n := range at {
			names = append(names, n)
		}
		sort.Strings(names)
		e.b = append(e.b, 'O')
		e.uvarint(uint64(len(names)))
		for _, n := range names {
			e.str(n)
			if err := e.typ(at[n]); err != nil {
				return err
			}
		}
	case t.IsTupleType():
		et := t.TupleElementTypes()
		e.b = append(e.b, 'T')
		e.uvarint(uint64(len(et)))
		for _, x := range et {
			if err := e.typ(x); err != nil {
				return err
			}
		}
	default:
		return errNotEncodable
	}
	return nil
}

// value encodes v with its type.
func (e *encoder) value(v cty.Value) error {
	if v == cty.NilVal {
		e.b = append(e.b, 'x')
		return nil
	}
	e.b = append(e.b, 'v')
	if err := e.typ(v.Type()); err != nil {
		return err
	}
	return e.val(v)
}

// val encodes v without its type (the decoder knows it).
func (e *encoder) val(v cty.Value) error {
	if v.IsMarked() || !v.IsKnown() {
		return errNotEncodable
	}
	if v.IsNull() {
		e.b = append(e.b, 0)
		return nil
	}
	e.b = append(e.b, 1)
	t := v.Type()
	switch {
	case t == cty.String:
		e.str(v.AsString())
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return errNotEncodable
		}
		e.str(bf.Text('f', -1))
	case t == cty.Bool:
		e.bool(v.True())
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		e.uvarint(uint64(v.LengthInt()))
		for it := v.ElementIterator(); it.Next(); {
			_, x := it.Element()
			if err := e.val(x); err != nil {
				return err
			}
		}
	case t.IsMapType():
		e.uvarint(uint64(v.LengthInt()))
		for it := v.ElementIterator(); it.Next(); {
			k, x := it.Element()
			e.str(k.AsString())
			if err := e.val(x); err != nil {
				return err
			}
		}
	case t.IsObjectType():
		at := t.AttributeTypes()
		names := make([]string, 0, len(at))
		for n := range at {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := e.val(v.GetAttr(n)); err != nil {
				return err
			}
		}
	default:
		return errNotEncodable
	}
	return nil
}

// decoder reads what encoder wrote; the first error sticks. With noCopy
// its strings share the bytes being decoded (no allocation each), which
// must then never change: the cache file's buffer is read once and kept.
type decoder struct {
	b      []byte
	err    error
	noCopy bool
}

var errCorrupt = errors.New("compiled pipeline cache is corrupt")

func (d *decoder) fail() { d.err = errCorrupt; d.b = nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *decoder) int() int64 {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

// count reads a length and checks that at least n*min bytes remain, so a
// corrupt length cannot make a huge allocation.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)) || (min > 0 && n > uint64(len(d.b)/min)) || n > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) str() string {
	b := d.bytes()
	if d.noCopy && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func (d *decoder) bool() bool { return d.byte() == 1 }

func (d *decoder) strs() []string {
	n := d.count(1)
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

const maxDepth = 64

func (d *decoder) typ(depth int) cty.Type {
	if depth > maxDepth {
		d.fail()
		return cty.DynamicPseudoType
	}
	switch d.byte() {
	case 'S':
		return cty.String
	case 'N':
		return cty.Number
	case 'B':
		return cty.Bool
	case 'D':
		return cty.DynamicPseudoType
	case 'L':
		return cty.List(d.typ(depth + 1))
	case 'M':
		return cty.Map(d.typ(depth + 1))
	case 'E':
		return cty.Set(d.typ(depth + 1))
	case 'O':
		n := d.count(2)
		at := make(map[string]cty.Type, n)
		for range n {
			name := d.str()
			at[name] = d.typ(depth + 1)
		}
		return cty.Object(at)
	case 'T':
		n := d.count(1)
		et := make([]cty.Type, n)
		for i := range et {
			et[i] = d.typ(depth + 1)
		}
		return cty.Tuple(et)
	}
	d.fail()
	return cty.DynamicPseudoType
}

// value reads a value written by encoder.value.
func (d *decoder) value() cty.Value {
	switch d.byte() {
	case 'x':
		return cty.NilVal
	case 'v':
		t := d.typ(0)
		if d.err != nil {
			return cty.NilVal
		}
		v := d.val(t, 0)
		if d.err != nil {
			return cty.NilVal
		}
		return v
	}
	d.fail()
	return cty.NilVal
}

func (d *decoder) val(t cty.Type, depth int) (v cty.Value) {
	if d.err != nil || depth > maxDepth {
		d.fail()
		return cty.NilVal
	}
	// cty panics on inconsistent element types; a corrupt file must not
	// reach the user as a panic.
	defer func() {
		if recover() != nil {
			d.fail()
			v = cty.NilVal
		}
	}()
	if d.byte() == 0 {
		return cty.NullVal(t)
	}
	switch {
	case t == cty.String:
		return cty.StringVal(d.str())
	case t == cty.Number:
		n, err := cty.ParseNumberVal(d.str())
		if err != nil {
			d.fail()
			return cty.NilVal
		}
		return n
	case t == cty.Bool:
		return cty.BoolVal(d.bool())
	case t.IsListType() || t.IsSetType():
		n := d.count(1)
		if n == 0 {
			if t.IsListType() {
				return cty.ListValEmpty(t.ElementType())
			}
			return cty.SetValEmpty(t.ElementType())
		}
		elems := make([]cty.Value, n)
		for i := range elems {
			elems[i] = d.val(t.ElementType(), depth+1)
		}
		if d.err != nil {
			return cty.NilVal
		}
		if t.IsListType() {
			return cty.ListVal(elems)
		}
		return cty.SetVal(elems)
	case t.IsTupleType():
		et := t.TupleElementTypes()
		if n := d.count(0); n != len(et) {
			d.fail()
			return cty.NilVal
		}
		elems := make([]cty.Value, len(et))
		for i := range elems {
			elems[i] = d.val(et[i], depth+1)
		}
		return cty.TupleVal(elems)
	case t.IsMapType():
		n := d.count(2)
		if n == 0 {
			return cty.MapValEmpty(t.ElementType())
		}
		m := make(map[string]cty.Value, n)
		for range n {
			k := d.str()
			m[k] = d.val(t.ElementType(), depth+1)
		}
		if d.err != nil {
			return cty.NilVal
		}
		return cty.MapVal(m)
	case t.IsObjectType():
		at := t.AttributeTypes()
		names := make([]string, 0, len(at))
		for n := range at {
			names = append(names, n)
		}
		sort.Strings(names)
		m := make(map[string]cty.Value, len(names))
		for _, n := range names {
			m[n] = d.val(at[n], depth+1)
		}
		if d.err != nil {
			return cty.NilVal
		}
		return cty.ObjectVal(m)
	}
	d.fail()
	return cty.NilVal
}

// encodeValue is the encoding of one value, for tests and hashing.
func encodeValue(v cty.Value) ([]byte, error) {
	var e encoder
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.b, nil
}

// decodeValue reads what encodeValue wrote.
func decodeValue(b []byte) (cty.Value, error) {
	d := decoder{b: b}
	v := d.value()
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return cty.NilVal, fmt.Errorf("decode value: %w", d.err)
	}
	return v, nil
}
