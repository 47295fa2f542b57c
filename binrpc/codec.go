package binrpc

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
)

// Protocol constants from Kamailio's binrpc.h.
const (
	Magic   = 0xA
	Version = 1

	// MinHeaderSize is the size of the smallest header: 2 fixed bytes, one
	// length byte, one cookie byte.
	MinHeaderSize = 4
	// MaxHeaderSize is the size of the largest header.
	MaxHeaderSize = 10

	// MaxDepth bounds the nesting of structs and arrays a reply may have.
	MaxDepth = 64

	recAVP     = 5
	endStruct  = 0x80 | byte(KindStruct)
	endArray   = 0x80 | byte(KindArray)
	sizeFlag   = 8
	maxIntSize = 8
)

// PacketType is the type nibble of a packet header.
type PacketType uint8

// Packet types.
const (
	TypeRequest PacketType = 0
	TypeReply   PacketType = 1
	TypeFault   PacketType = 3
)

func (t PacketType) String() string {
	switch t {
	case TypeRequest:
		return "request"
	case TypeReply:
		return "reply"
	case TypeFault:
		return "fault"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Header is a decoded packet header.
type Header struct {
	Type   PacketType
	Length int // payload length, header excluded
	Cookie uint32
}

// Errors returned by the codec. Decoding errors wrap ErrMalformed.
var (
	ErrMalformed = errors.New("malformed BINRPC packet")
	ErrTooLarge  = errors.New("BINRPC packet larger than the size limit")
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// ReadHeader reads one packet header from a stream and parses it: the
// payload of h.Length bytes follows, at most maxPayload.
func ReadHeader(r io.Reader, maxPayload int) (Header, error) {
	var hb [MaxHeaderSize]byte
	if _, err := io.ReadFull(r, hb[:2]); err != nil {
		return Header{}, err
	}
	n, err := HeaderSize(hb[0], hb[1])
	if err != nil {
		return Header{}, err
	}
	if _, err := io.ReadFull(r, hb[2:n]); err != nil {
		return Header{}, err
	}
	h, _, err := ParseHeader(hb[:n], maxPayload)
	return h, err
}

// HeaderSize returns the full header size announced by the two fixed
// header bytes.
func HeaderSize(b0, b1 byte) (int, error) {
	if b0 != Magic<<4|Version {
		return 0, malformed("bad magic/version byte 0x%02x", b0)
	}
	return 2 + int(b1>>2&3) + 1 + int(b1&3) + 1, nil
}

// ParseHeader decodes a packet header from the start of b and returns it with
// its size. maxPayload bounds the announced payload length (0: no bound).
func ParseHeader(b []byte, maxPayload int) (Header, int, error) {
	if len(b) < 2 {
		return Header{}, 0, malformed("header truncated at %d bytes", len(b))
	}
	n, err := HeaderSize(b[0], b[1])
	if err != nil {
		return Header{}, 0, err
	}
	if len(b) < n {
		return Header{}, 0, malformed("header truncated at %d of %d bytes", len(b), n)
	}
	h := Header{Type: PacketType(b[1] >> 4)}
	switch h.Type {
	case TypeRequest, TypeReply, TypeFault:
	default:
		return Header{}, 0, malformed("unknown packet type %d", h.Type)
	}
	ll := int(b[1]>>2&3) + 1
	var length uint64
	for _, c := range b[2 : 2+ll] {
		length = length<<8 | uint64(c)
	}
	// Kamailio reads the length into a C int: a length with the sign bit
	// set is a corrupt packet there too.
	if length > math.MaxInt32 {
		return Header{}, 0, malformed("payload length %d out of range", length)
	}
	if maxPayload > 0 && length > uint64(maxPayload) {
		return Header{}, 0, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, length, maxPayload)
	}
	h.Length = int(length)
	for _, c := range b[2+ll : n] {
		h.Cookie = h.Cookie<<8 | uint32(c)
	}
	return h, n, nil
}

// beLen returns the minimal number of bytes representing u (0 for 0).
func beLen(u uint64) int {
	n := 0
	for ; u != 0; u >>= 8 {
		n++
	}
	return n
}

func appendBE(dst []byte, u uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*uint(i))))
	}
	return dst
}

// AppendHeader appends a packet header for a payload of length bytes.
func AppendHeader(dst []byte, t PacketType, length int, cookie uint32) []byte {
	ll := max(beLen(uint64(length)), 1)
	cl := max(beLen(uint64(cookie)), 1)
	dst = append(dst, Magic<<4|Version, byte(t)<<4|byte(ll-1)<<2|byte(cl-1))
	dst = appendBE(dst, uint64(length), ll)
	return appendBE(dst, uint64(cookie), cl)
}

// AppendValue appends the record encoding of v.
func AppendValue(dst []byte, v Value) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendValue(dst []byte, v Value, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, fmt.Errorf("value nested deeper than %d levels", MaxDepth)
	}
	switch v.Kind {
	case KindInt:
		return appendInt(dst, v.Int), nil
	case KindDouble:
		f := math.Round(v.Double * 1000)
		// Past 2^53 thousandths the product can be an ulp away from the
		// integer that decodes back to v: take the neighbour that does.
		for _, g := range []float64{math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1))} {
			if f/1000 != v.Double && g/1000 == v.Double {
				f = g
			}
		}
		if math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
			return dst, fmt.Errorf("double %v out of BINRPC range", v.Double)
		}
		u := uint64(int64(f))
		n := beLen(u)
		return appendBE(append(dst, byte(n)<<4|byte(KindDouble)), u, n), nil
	case KindString:
		return appendStr(dst, byte(KindString), v.Str, true), nil
	case KindBytes:
		return appendStr(dst, byte(KindBytes), v.Str, false), nil
	case KindStruct, KindArray:
		dst = append(dst, byte(v.Kind))
		var err error
		for _, m := range v.Members {
			if m.Named {
				dst = appendStr(dst, recAVP, m.Name, true)
			}
			if dst, err = appendValue(dst, m.Value, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 0x80|byte(v.Kind)), nil
	}
	return dst, fmt.Errorf("cannot encode kind %d", v.Kind)
}

// appendInt writes ints the way Kamailio does: values that fit a C int on
// at most 4 bytes (negative ones on exactly 4, two's complement), larger
// ones on 8 bytes with an explicit length.
func appendInt(dst []byte, i int64) []byte {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		u := uint64(uint32(int32(i)))
		n := beLen(u)
		return appendBE(append(dst, byte(n)<<4|byte(KindInt)), u, n)
	}
	dst = append(dst, (sizeFlag|1)<<4|byte(KindInt), 8)
	return appendBE(dst, uint64(i), 8)
}

func appendStr(dst []byte, typ byte, s string, nul bool) []byte {
	l := len(s)
	if nul {
		l++
	}
	if l < sizeFlag {
		dst = append(dst, byte(l)<<4|typ)
	} else {
		n := beLen(uint64(l))
		dst = appendBE(append(dst, byte(sizeFlag|n)<<4|typ), uint64(l), n)
	}
	dst = append(dst, s...)
	if nul {
		dst = append(dst, 0)
	}
	return dst
}

// AppendRequest appends a complete request packet: the method name followed
// by args, each a string, an integer type (within Kamailio's C int range),
// a float, or a Value.
func AppendRequest(dst []byte, cookie uint32, method string, args ...any) ([]byte, error) {
	payload := appendStr(make([]byte, 0, 64), byte(KindString), method, true)
	for i, a := range args {
		v, err := argValue(a)
		if err != nil {
			return dst, fmt.Errorf("argument %d: %w", i+1, err)
		}
		if payload, err = AppendValue(payload, v); err != nil {
			return dst, fmt.Errorf("argument %d: %w", i+1, err)
		}
	}
	dst = AppendHeader(dst, TypeRequest, len(payload), cookie)
	return append(dst, payload...), nil
}

func argValue(a any) (Value, error) {
	var i int64
	switch x := a.(type) {
	case Value:
		return x, nil
	case string:
		return String(x), nil
	case float64:
		return Double(x), nil
	case float32:
		return Double(float64(x)), nil
	case int:
		i = int64(x)
	case int8:
		i = int64(x)
	case int16:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	case uint8:
		i = int64(x)
	case uint16:
		i = int64(x)
	case uint32:
		i = int64(x)
	case uint:
		if uint64(x) > math.MaxInt32 {
			return Value{}, fmt.Errorf("int %d out of Kamailio's int range", x)
		}
		i = int64(x)
	case uint64:
		if x > math.MaxInt32 {
			return Value{}, fmt.Errorf("int %d out of Kamailio's int range", x)
		}
		i = int64(x)
	default:
		return Value{}, fmt.Errorf("unsupported argument type %T", a)
	}
	// Kamailio reads int arguments into a C int.
	if i < math.MinInt32 || i > math.MaxInt32 {
		return Value{}, fmt.Errorf("int %d out of Kamailio's int range", i)
	}
	return Int(i), nil
}

// decoder walks a payload. It never reads past the payload and bounds
// nesting, so hostile input costs at most the payload's own size.
//
// It allocates per reply, not per field: every decoded string (values and
// member names) is a substring of the payload, held as one string, and the
// members of every struct and array are carved from a few shared blocks. A
// caller that keeps one decoded string long after the reply (a cache key,
// say) should strings.Clone it, or it keeps the whole payload alive.
//
// With lazy > 0, containers at level lazy or deeper (a reply's top-level
// values are at level 1) are checked but not built: such a value keeps its
// encoded members in Str (Value.Encoded), and Value.Walk, Each, Expand and Get
// decode them when asked. A large reply can then be converted
// one part at a time, each part's members garbage before the next is built.
type decoder struct {
	s     string // the payload: decoded strings are substrings of it
	off   int
	lazy  int
	stack []Member // members of the containers being decoded, innermost last
	high  int      // the longest the stack has been: what release clears
	arena []Member // the finished containers' members are carved from it
}

// The first member block of a reply is sized from the payload (a member
// takes at least 2 bytes, most take far more); later blocks double.
const (
	minArena       = 4
	bytesPerMember = 32
)

var stackPool = sync.Pool{New: func() any { return new([]Member) }}

// DecodePayload decodes all top-level records of a reply payload.
func DecodePayload(p []byte) ([]Value, error) {
	return decodeString(string(p), 0)
}

// DecodeEncoded decodes the top-level records of a reply payload, leaving
// their structs and arrays encoded, as Pending.WaitEncoded does.
func DecodeEncoded(p []byte) ([]Value, error) {
	return decodeString(string(p), 1)
}

// decodeString decodes all top-level records of the payload s, leaving
// containers at level lazy or deeper undecoded (none when lazy is 0).
func decodeString(s string, lazy int) ([]Value, error) {
	d := newDecoder(s, lazy)
	defer d.release()
	for d.off < len(d.s) {
		v, end, err := d.value(0)
		if err != nil {
			return nil, err
		}
		if end {
			return nil, malformed("end marker outside a struct or array at offset %d", d.off-1)
		}
		d.stack = append(d.stack, Member{Value: v})
	}
	if len(d.stack) == 0 {
		return nil, nil
	}
	out := make([]Value, len(d.stack))
	for i := range d.stack {
		out[i] = d.stack[i].Value
	}
	return out, nil
}

func newDecoder(s string, lazy int) *decoder {
	stack := stackPool.Get().(*[]Member)
	return &decoder{s: s, lazy: lazy, stack: (*stack)[:0]}
}

// release returns the decoder's stack to the pool.
func (d *decoder) release() {
	clear(d.stack[:max(d.high, len(d.stack))]) // drop references into the reply
	stack := d.stack[:0]
	stackPool.Put(&stack)
}

// Encoded reports whether v is a struct or array whose members were left
// encoded (Pending.WaitEncoded, Each, Cursor.Value): Members is nil; Walk,
// Each, Expand and Get decode them.
func (v Value) Encoded() bool {
	return (v.Kind == KindStruct || v.Kind == KindArray) && v.Members == nil && v.Str != ""
}

// Expand returns v with its members decoded when they were left encoded
// (Encoded); any other value is returned as it is. The
// members were checked when the reply was decoded, so an error here means
// a value that was not built by this package.
func (v Value) Expand() (Value, error) {
	if !v.Encoded() {
		return v, nil
	}
	d := newDecoder(v.Str, 0)
	defer d.release()
	out, _, err := d.container(v.Kind, 1)
	if err == nil && d.off != len(d.s) {
		err = malformed("%d bytes after the %s", len(d.s)-d.off, v.Kind)
	}
	return out, err
}

// str returns the payload bytes [from, to) without copying.
func (d *decoder) str(from, to int) string { return d.s[from:to] }

// carve copies ms, the members of one finished container, into the arena
// and returns them with no spare capacity (an append by the caller copies).
func (d *decoder) carve(ms []Member) []Member {
	if len(ms) == 0 {
		return nil
	}
	hint := len(d.s) / bytesPerMember
	if d.lazy > 0 {
		hint = 0 // most of the payload is left encoded
	}
	out := carve(&d.arena, len(ms), max(minArena, hint, 2*cap(d.arena)))
	copy(out, ms)
	return out
}

// record reads a record's type byte and value length.
// end reports a struct/array end marker.
func (d *decoder) record() (typ byte, length int, end bool, err error) {
	if d.off >= len(d.s) {
		return 0, 0, false, malformed("record truncated at offset %d", d.off)
	}
	c := d.s[d.off]
	d.off++
	typ, size := c&0xf, int(c>>4)
	switch {
	case typ == byte(KindDouble):
		length = size
	case size&sizeFlag != 0:
		n := size & 7
		if n == 0 {
			if typ == byte(KindStruct) || typ == byte(KindArray) {
				return typ, 0, true, nil
			}
			return 0, 0, false, malformed("reserved record 0x%02x at offset %d", c, d.off-1)
		}
		if n > 4 || d.off+n > len(d.s) {
			return 0, 0, false, malformed("bad length-of-length %d at offset %d", n, d.off-1)
		}
		for k := d.off; k < d.off+n; k++ {
			length = length<<8 | int(d.s[k])
		}
		d.off += n
	default:
		length = size
	}
	if length > len(d.s)-d.off {
		return 0, 0, false, malformed("record of %d bytes at offset %d exceeds the payload", length, d.off)
	}
	return typ, length, false, nil
}

// bigEndian reads the payload bytes [from, to) as a big-endian number.
func (d *decoder) bigEndian(from, to int) uint64 {
	var u uint64
	for k := from; k < to; k++ {
		u = u<<8 | uint64(d.s[k])
	}
	return u
}

// value decodes one value outside any container; end reports an end
// marker instead.
func (d *decoder) value(depth int) (v Value, end bool, err error) {
	start := d.off
	typ, length, end, err := d.record()
	if err != nil || end {
		return Value{Kind: Kind(typ)}, end, err
	}
	if err := checkValue(typ, length, start, depth); err != nil {
		return v, false, err
	}
	v, err = d.body(header{kind: Kind(typ), length: length}, depth)
	return v, false, err
}

// body decodes the value whose header h was read, at level depth.
func (d *decoder) body(h header, depth int) (Value, error) {
	if h.container() {
		v, _, err := d.container(h.kind, depth+1)
		return v, err
	}
	return d.scalar(h), nil
}

// scalar decodes the scalar value whose header h was read.
func (d *decoder) scalar(h header) Value {
	from := d.off
	d.off += h.length
	switch h.kind {
	case KindInt:
		u := d.bigEndian(from, d.off)
		if h.length == 4 { // a C int, two's complement
			return Int(int64(int32(uint32(u))))
		}
		return Int(int64(u))
	case KindDouble:
		return Double(float64(int64(d.bigEndian(from, d.off))) / 1000)
	case KindString:
		return String(trimNUL(d.str(from, d.off)))
	}
	return Bytes(d.str(from, d.off))
}

// header is a member's AVP name, if it has one, and its value's record
// type and length.
type header struct {
	name   string
	named  bool
	kind   Kind
	length int
}

func (h header) container() bool { return h.kind == KindStruct || h.kind == KindArray }

// head reads and checks the header of the next member of a container of
// kind k at level depth; end reports the container's end marker instead.
func (d *decoder) head(k Kind, depth int) (h header, end bool, err error) {
	if d.off >= len(d.s) {
		return h, false, malformed("%s not terminated", k)
	}
	avpStart := d.off
	if d.s[d.off]&0xf == recAVP {
		_, length, _, err := d.record()
		if err != nil {
			return h, false, err
		}
		h.name, h.named = trimNUL(d.str(d.off, d.off+length)), true
		d.off += length
	}
	start := d.off
	typ, length, end, err := d.record()
	h.kind, h.length = Kind(typ), length
	switch {
	case err != nil:
		return h, false, err
	case end && h.named:
		return h, false, malformed("AVP %q at offset %d has no value", h.name, avpStart)
	case end && h.kind != k:
		return h, false, malformed("%s closed by a %s end marker at offset %d", k, h.kind, d.off-1)
	case end:
		return h, true, nil
	}
	return h, false, checkValue(typ, length, start, depth)
}

// checkValue checks a value record (not an end marker) of type typ and
// length, at offset start and level depth: the checks of value and skip.
func checkValue(typ byte, length, start, depth int) error {
	switch Kind(typ) {
	case KindInt:
		if length > maxIntSize {
			return malformed("int of %d bytes at offset %d", length, start)
		}
	case KindDouble:
		if length > 8 {
			return malformed("double of %d bytes at offset %d", length, start)
		}
	case KindString, KindBytes:
	case KindStruct, KindArray:
		if length != 0 {
			return malformed("container start with length %d at offset %d", length, start)
		}
		if depth >= MaxDepth {
			return malformed("nesting deeper than %d at offset %d", MaxDepth, start)
		}
	case recAVP:
		return malformed("AVP outside a struct at offset %d", start)
	default:
		return malformed("unknown record type %d at offset %d", typ, start)
	}
	return nil
}

func (d *decoder) container(k Kind, depth int) (Value, bool, error) {
	v := Value{Kind: k}
	if d.lazy > 0 && depth >= d.lazy { // checked, not built
		from := d.off
		err := d.skip(k, depth)
		v.Str = d.str(from, d.off) // its members, and its end marker
		return v, false, err
	}
	base := len(d.stack) // this container's members are d.stack[base:]
	for {
		m, end, err := d.member(k, depth)
		if err != nil {
			return v, false, err
		}
		if end {
			v.Members = d.carve(d.stack[base:])
			d.high = max(d.high, len(d.stack))
			d.stack = d.stack[:base]
			return v, false, nil
		}
		d.stack = append(d.stack, m)
	}
}

// skip reads the members of a container of kind k at level depth, up to
// its end marker, with the checks of head but building nothing: a
// container left encoded costs one read of its bytes. It is every encoded
// reply's hot loop, and keeps its own copy of head's reading, which is a
// fifth faster here than calling head (BENCHMARKS.md, the large instance).
func (d *decoder) skip(k Kind, depth int) error {
	for {
		if d.off >= len(d.s) {
			return malformed("%s not terminated", k)
		}
		avp, avpStart, name := d.s[d.off]&0xf == recAVP, d.off, d.off
		if avp {
			_, length, _, err := d.record()
			if err != nil {
				return err
			}
			name = d.off
			d.off += length
		}
		start := d.off
		typ, length, end, err := d.record()
		switch {
		case err != nil:
			return err
		case end && avp:
			return malformed("AVP %q at offset %d has no value", trimNUL(d.str(name, start)), avpStart)
		case end && Kind(typ) != k:
			return malformed("%s closed by a %s end marker at offset %d", k, Kind(typ), d.off-1)
		case end:
			return nil
		}
		if err := checkValue(typ, length, start, depth); err != nil {
			return err
		}
		d.off += length
		if Kind(typ) == KindStruct || Kind(typ) == KindArray {
			if err := d.skip(Kind(typ), depth+1); err != nil {
				return err
			}
		}
	}
}

// member decodes the next member of a container of kind k at level depth;
// end reports the container's end marker instead.
func (d *decoder) member(k Kind, depth int) (m Member, end bool, err error) {
	h, end, err := d.head(k, depth)
	if err != nil || end {
		return m, end, err
	}
	m.Name, m.Named = h.name, h.named
	m.Value, err = d.body(h, depth)
	return m, false, err
}

// Each calls fn with each member of the struct or array v, in order, and
// stops at the first error fn returns: Walk, with every member taken whole
// (a member that is itself a struct or array comes encoded).
func (v Value) Each(fn func(Member) error) error {
	return v.Walk(func(c *Cursor) error {
		m, err := c.Member()
		if err != nil {
			return err
		}
		return fn(m)
	})
}

func trimNUL(s string) string {
	if n := len(s); n > 0 && s[n-1] == 0 {
		return s[:n-1]
	}
	return s
}

// FaultError is a fault reply from Kamailio: the RPC failed with Code and
// Message (e.g. 500 "command foo not found", 404 "Profile not found").
type FaultError struct {
	Method  string
	Code    int
	Message string
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("%s: kamailio fault %d %s", e.Method, e.Code, e.Message)
}

// IsMethodNotFound reports whether err is Kamailio's fault for an RPC
// method that no loaded module exports.
func IsMethodNotFound(err error) bool {
	var f *FaultError
	return errors.As(err, &f) && f.Code == 500 &&
		strings.HasPrefix(f.Message, "command ") && strings.HasSuffix(f.Message, " not found")
}

// IsFault reports whether err carries a Kamailio fault with the given code
// and message (message "" matches any).
func IsFault(err error, code int, message string) bool {
	var f *FaultError
	return errors.As(err, &f) && f.Code == code && (message == "" || f.Message == message)
}

// faultFrom converts a decoded fault payload into a FaultError.
func faultFrom(method string, vals []Value) *FaultError {
	f := &FaultError{Method: method, Code: -1}
	if len(vals) > 0 && vals[0].Kind == KindInt {
		f.Code = int(vals[0].Int)
	}
	if len(vals) > 1 {
		f.Message, _ = vals[1].Text()
	}
	return f
}

// carve returns n elements of *pool with no spare capacity, so an append
// by the caller copies rather than overwrites the next slice. When the
// pool has fewer than n elements left it continues in a new chunk of
// max(n, chunk) elements; the slices already carved keep the old one.
func carve[T any](pool *[]T, n, chunk int) []T {
	p := *pool
	if cap(p)-len(p) < n {
		p = make([]T, 0, max(n, chunk))
	}
	out := p[len(p) : len(p)+n : len(p)+n]
	*pool = p[:len(p)+n]
	return out
}
