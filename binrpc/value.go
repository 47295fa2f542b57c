// Package binrpc implements the BINRPC protocol spoken by Kamailio's ctl
// module: the packet header, the record codec and a client connection over
// unix stream, unix datagram, TCP and UDP sockets; a Session pipelines a
// run of requests on one connection, and a KeptConn keeps one connection
// between sessions.
//
// The wire format follows Kamailio's src/modules/ctl/binrpc.h:
//
//	header:  | MAGIC(4b) VERS(4b) | TYPE(4b) LL(2b) CL(2b) | len (LL+1 bytes) | cookie (CL+1 bytes) |
//	record:  | S(1b) SIZE(3b) TYPE(4b) | [value length (SIZE bytes) if S] | value |
//
// Doubles are fixed point: a big-endian long long holding value*1000, whose
// length is the whole 4-bit size field. Structs are lists of AVPs (a name
// record of type 5 followed by a value) closed by an end tag (0x83); ctl also
// writes unnamed values inside structs when a handler builds an array.
package binrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Kind is the type of a decoded BINRPC value.
type Kind uint8

// Value kinds. The numbers are the BINRPC record type codes.
const (
	KindInt    Kind = 0
	KindString Kind = 1
	KindDouble Kind = 2
	KindStruct Kind = 3
	KindArray  Kind = 4
	KindBytes  Kind = 6
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindString:
		return "string"
	case KindDouble:
		return "double"
	case KindStruct:
		return "struct"
	case KindArray:
		return "array"
	case KindBytes:
		return "bytes"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one decoded BINRPC value. Only the field matching Kind is set:
// Int for KindInt, Double for KindDouble, Str for KindString and KindBytes,
// Members for KindStruct and KindArray, or Str for a struct or array whose
// members were left encoded (Encoded; Walk, Each, Expand and Get decode them).
type Value struct {
	Kind    Kind
	Int     int64
	Double  float64
	Str     string
	Members []Member
}

// Member is one element of a struct or array. Named is false for the
// unnamed values Kamailio writes into arrays (and into structs built with
// rpc->array_add); Name keeps the AVP name otherwise. Members keep their wire
// order and duplicate names (dispatcher.list repeats SET and DEST).
type Member struct {
	Name  string
	Named bool
	Value Value
}

// Int returns an int value.
func Int(i int64) Value { return Value{Kind: KindInt, Int: i} }

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Double returns a double value.
func Double(f float64) Value { return Value{Kind: KindDouble, Double: f} }

// Bytes returns a bytes value.
func Bytes(b string) Value { return Value{Kind: KindBytes, Str: b} }

// Struct returns a struct value with the given members.
func Struct(m ...Member) Value { return Value{Kind: KindStruct, Members: m} }

// Array returns an array value of unnamed members.
func Array(vs ...Value) Value {
	m := make([]Member, len(vs))
	for i, v := range vs {
		m[i] = Member{Value: v}
	}
	return Value{Kind: KindArray, Members: m}
}

// Named returns a named struct member.
func Named(name string, v Value) Member { return Member{Name: name, Named: true, Value: v} }

// Get returns the first member named name of a struct. An encoded struct
// (Encoded) is decoded for it: walk a large one with Walk instead.
func (v Value) Get(name string) (Value, bool) {
	if v.Encoded() {
		var err error
		if v, err = v.Expand(); err != nil {
			return Value{}, false
		}
	}
	for i := range v.Members {
		if v.Members[i].Named && v.Members[i].Name == name {
			return v.Members[i].Value, true
		}
	}
	return Value{}, false
}

// Float returns the numeric value of an int or double, or of a string that
// holds a decimal number (stats.fetch sends its values as strings).
func (v Value) Float() (float64, error) {
	switch v.Kind {
	case KindInt:
		return float64(v.Int), nil
	case KindDouble:
		return v.Double, nil
	case KindString:
		return parseNumber(v.Str)
	}
	return 0, fmt.Errorf("%s is not a number", v.Kind)
}

// parseNumber parses a decimal number exactly: integers that fit 64 bits are
// converted from their integer value, everything else through ParseFloat.
func parseNumber(s string) (float64, error) {
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return float64(u), nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return float64(i), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

// Text returns the value of a string or bytes record, or the decimal form
// of a number.
func (v Value) Text() (string, error) {
	switch v.Kind {
	case KindString, KindBytes:
		return v.Str, nil
	case KindInt:
		return strconv.FormatInt(v.Int, 10), nil
	case KindDouble:
		return strconv.FormatFloat(v.Double, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("%s is not a scalar", v.Kind)
}

// MarshalJSON renders the value as JSON. Structs become objects whose keys
// keep their wire order (and duplicates); arrays, and structs holding only
// unnamed members, become JSON arrays.
func (v Value) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := v.appendJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (v Value) appendJSON(b *bytes.Buffer) error {
	switch v.Kind {
	case KindInt:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindDouble:
		if math.IsInf(v.Double, 0) || math.IsNaN(v.Double) {
			return fmt.Errorf("double %v has no JSON form", v.Double)
		}
		b.WriteString(strconv.FormatFloat(v.Double, 'f', -1, 64))
	case KindString, KindBytes:
		// As kamcmd shows it: "<null string>", not "\u003cnull string\u003e".
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		enc.Encode(v.Str)
		b.Truncate(b.Len() - 1) // Encode's newline
	case KindStruct, KindArray:
		if v.Encoded() {
			x, err := v.Expand()
			if err != nil {
				return err
			}
			return x.appendJSON(b)
		}
		named := false
		for _, m := range v.Members {
			named = named || m.Named
		}
		if v.Kind == KindArray || (!named && len(v.Members) > 0) {
			b.WriteByte('[')
			for i, m := range v.Members {
				if i > 0 {
					b.WriteByte(',')
				}
				if err := m.Value.appendJSON(b); err != nil {
					return err
				}
			}
			b.WriteByte(']')
			return nil
		}
		b.WriteByte('{')
		for i, m := range v.Members {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(m.Name)
			b.Write(k)
			b.WriteByte(':')
			if err := m.Value.appendJSON(b); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unknown kind %d", v.Kind)
	}
	return nil
}
