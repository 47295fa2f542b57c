package binrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The encodings documented in Kamailio's binrpc.h.
func TestRecordEncodingsFromBinrpcH(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want []byte
	}{
		{"int 0x1234", Int(0x1234), []byte{0x20, 0x12, 0x34}},
		{"int 7", Int(7), []byte{0x10, 0x07}},
		{"int 0", Int(0), []byte{0x00}},
		{"int -1 as C int", Int(-1), []byte{0x40, 0xff, 0xff, 0xff, 0xff}},
		{"str abcdef", String("abcdef"), append(append([]byte{0x71}, "abcdef"...), 0)},
		{"str abcdefhij", String("abcdefhij"), append(append([]byte{0x91, 0x0a}, "abcdefhij"...), 0)},
		{"empty str", String(""), []byte{0x11, 0x00}},
		{"bytes abcdef", Bytes("abcdef"), append([]byte{0x66}, "abcdef"...)},
		{"array [1 2]", Array(Int(1), Int(2)), []byte{0x04, 0x10, 0x01, 0x10, 0x02, 0x84}},
		{"array [7 abc]", Array(Int(7), String("abc")), []byte{0x04, 0x10, 0x07, 0x41, 'a', 'b', 'c', 0, 0x84}},
		{"struct", Struct(Named("intval", Int(3)), Named("s", String("abc"))),
			[]byte{0x03, 0x75, 'i', 'n', 't', 'v', 'a', 'l', 0, 0x10, 0x03, 0x25, 's', 0, 0x41, 'a', 'b', 'c', 0, 0x83}},
		{"double 1.5", Double(1.5), []byte{0x22, 0x05, 0xdc}},
		{"double 0", Double(0), []byte{0x02}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendValue(nil, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("encode = % x, want % x", got, tt.want)
			}
			dec, err := DecodePayload(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if len(dec) != 1 || !reflect.DeepEqual(dec[0], tt.v) {
				t.Fatalf("decode = %#v, want %#v", dec, tt.v)
			}
		})
	}
}

func TestDecodeAlternateForms(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Value
	}{
		// binrpc.h: suboptimal but legal int encodings.
		{"int 0x1234 via length byte", []byte{0x90, 0x02, 0x12, 0x34}, Int(0x1234)},
		{"int 0x1234 via 2-byte length", []byte{0xA0, 0x00, 0x02, 0x12, 0x34}, Int(0x1234)},
		{"int 0 with a zero byte", []byte{0x10, 0x00}, Int(0)},
		// A C int of 4 bytes is two's complement.
		{"negative 4-byte int", []byte{0x40, 0xff, 0xff, 0xff, 0xfe}, Int(-2)},
		{"min C int", []byte{0x40, 0x80, 0, 0, 0}, Int(math.MinInt32)},
		// 3 bytes: unsigned.
		{"3-byte int", []byte{0x30, 0xff, 0xff, 0xff}, Int(0xffffff)},
		// Doubles are long long fixed point; negatives use 8 bytes.
		{"negative double", []byte{0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18}, Double(-1)},
		{"shm size double", []byte{0x52, 0x0f, 0xa0, 0x00, 0x00, 0x00}, Double(67108864)},
		{"string without NUL", []byte{0x31, 'a', 'b', 'c'}, String("abc")},
		{"unnamed values in a struct", []byte{0x03, 0x10, 0x01, 0x21, 'x', 0, 0x83},
			Value{Kind: KindStruct, Members: []Member{{Value: Int(1)}, {Value: String("x")}}}},
		{"nested struct in AVP", []byte{0x03, 0x25, 'a', 0, 0x03, 0x25, 'b', 0, 0x10, 0x02, 0x83, 0x83},
			Struct(Named("a", Struct(Named("b", Int(2)))))},
		{"duplicate names kept", []byte{0x03, 0x25, 'k', 0, 0x10, 0x01, 0x25, 'k', 0, 0x10, 0x02, 0x83},
			Struct(Named("k", Int(1)), Named("k", Int(2)))},
		{"empty struct", []byte{0x03, 0x83}, Value{Kind: KindStruct}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePayload(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"truncated int", []byte{0x20, 0x12}, "exceeds the payload"},
		{"truncated string", []byte{0x71, 'a'}, "exceeds the payload"},
		{"huge string length", []byte{0xc1, 0x7f, 0xff, 0xff, 0xff, 'a'}, "exceeds the payload"},
		{"length-of-length 5", []byte{0xd1, 1, 2, 3, 4, 5}, "length-of-length"},
		{"unterminated struct", []byte{0x03, 0x25, 'a', 0, 0x10, 0x01}, "not terminated"},
		{"end marker at top level", []byte{0x83}, "end marker outside"},
		{"struct closed by array end", []byte{0x03, 0x84}, "closed by a array end"},
		{"AVP at top level", []byte{0x25, 'a', 0}, "AVP outside a struct"},
		{"AVP without value", []byte{0x03, 0x25, 'a', 0, 0x83}, "has no value"},
		{"unknown type", []byte{0x07}, "unknown record type"},
		{"reserved flagged int", []byte{0x80}, "reserved record"},
		{"int of 9 bytes", []byte{0x90, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "int of 9 bytes"},
		{"double of 9 bytes", []byte{0x92, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "double of 9 bytes"},
		{"too deep", append(bytes.Repeat([]byte{0x04}, MaxDepth+2), bytes.Repeat([]byte{0x84}, MaxDepth+2)...), "nesting deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePayload(tt.in)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	for _, length := range []int{0, 1, 255, 256, 300, 65535, 65536, 1 << 24, math.MaxInt32} {
		for _, cookie := range []uint32{1, 0xff, 0x100, 0xabcdef, 0xdeadbeef} {
			for _, typ := range []PacketType{TypeRequest, TypeReply, TypeFault} {
				b := AppendHeader(nil, typ, length, cookie)
				h, n, err := ParseHeader(b, 0)
				if err != nil {
					t.Fatalf("len %d cookie %#x: %v", length, cookie, err)
				}
				if n != len(b) || h != (Header{Type: typ, Length: length, Cookie: cookie}) {
					t.Fatalf("len %d cookie %#x: got %+v n=%d (% x)", length, cookie, h, n, b)
				}
			}
		}
	}
	// The peer library's bug: a 300-byte request with a 4-byte cookie.
	b := AppendHeader(nil, TypeRequest, 300, 0xdeadbeef)
	if want := []byte{0xa1, 0x07, 0x01, 0x2c, 0xde, 0xad, 0xbe, 0xef}; !bytes.Equal(b, want) {
		t.Fatalf("header = % x, want % x", b, want)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"bad magic", []byte{0xb1, 0x00, 0x00, 0x01}, 0, ErrMalformed},
		{"bad version", []byte{0xa2, 0x00, 0x00, 0x01}, 0, ErrMalformed},
		{"unknown type", []byte{0xa1, 0x20, 0x00, 0x01}, 0, ErrMalformed},
		{"truncated", []byte{0xa1, 0x0f, 0x00}, 0, ErrMalformed},
		{"2 GiB claim", []byte{0xa1, 0x1c, 0x80, 0x00, 0x00, 0x00, 0x01}, 0, ErrMalformed},
		{"over the cap", []byte{0xa1, 0x1c, 0x7f, 0xff, 0xff, 0xff, 0x01}, 1 << 20, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ParseHeader(tt.in, tt.max); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendRequest(t *testing.T) {
	b, err := AppendRequest(nil, 0x1234, "dlg.profile_get_size", "inbound", 7, -3, 2.5)
	if err != nil {
		t.Fatal(err)
	}
	h, n, err := ParseHeader(b, 0)
	if err != nil || h.Type != TypeRequest || h.Cookie != 0x1234 || n+h.Length != len(b) {
		t.Fatalf("header %+v n=%d err=%v", h, n, err)
	}
	vals, err := DecodePayload(b[n:])
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{String("dlg.profile_get_size"), String("inbound"), Int(7), Int(-3), Double(2.5)}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("got %#v", vals)
	}
	for _, bad := range []any{int64(math.MaxInt32) + 1, uint64(1 << 40), struct{}{}, math.Inf(1)} {
		if _, err := AppendRequest(nil, 1, "m", bad); err == nil {
			t.Errorf("argument %v (%T) accepted", bad, bad)
		}
	}
}

func randValue(r *rand.Rand, depth int) Value {
	k := r.IntN(6)
	if depth > 4 && k >= 4 {
		k = r.IntN(4)
	}
	switch k {
	case 0:
		switch r.IntN(3) {
		case 0:
			return Int(int64(int32(r.Uint32())))
		case 1:
			return Int(r.Int64() - r.Int64())
		}
		return Int(int64(r.IntN(300)))
	case 1:
		return String(randString(r))
	case 2:
		return Double(float64(r.Int64N(1<<50)-1<<49) / 1000)
	case 3:
		return Bytes(randString(r))
	case 4:
		n := r.IntN(5)
		v := Value{Kind: KindStruct}
		for range n {
			if r.IntN(4) == 0 {
				v.Members = append(v.Members, Member{Value: randValue(r, depth+1)})
			} else {
				v.Members = append(v.Members, Named(randString(r), randValue(r, depth+1)))
			}
		}
		return v
	default:
		n := r.IntN(5)
		v := Value{Kind: KindArray}
		for range n {
			v.Members = append(v.Members, Member{Value: randValue(r, depth+1)})
		}
		return v
	}
}

func randString(r *rand.Rand) string {
	n := r.IntN(20)
	if r.IntN(10) == 0 {
		n = r.IntN(70000)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(1 + r.IntN(255)) // NUL-free, any other byte
	}
	return string(b)
}

// Property: decode(encode(v)) == v for random values of every kind.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var vals []Value
		var payload []byte
		for range 1 + r.IntN(4) {
			v := randValue(r, 0)
			vals = append(vals, v)
			var err error
			if payload, err = AppendValue(payload, v); err != nil {
				t.Fatal(err)
			}
		}
		got, err := DecodePayload(payload)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(vals)) {
			t.Fatalf("case %d: round trip differs:\n got %#v\nwant %#v", i, got, vals)
		}
	}
}

// normalize maps empty member slices to nil for comparison.
func normalize(vs []Value) []Value {
	for i := range vs {
		if len(vs[i].Members) == 0 {
			vs[i].Members = nil
		}
		for j := range vs[i].Members {
			vs[i].Members[j].Value = normalize([]Value{vs[i].Members[j].Value})[0]
		}
	}
	return vs
}

func TestFaultHelpers(t *testing.T) {
	f := faultFrom("foo.bar", []Value{Int(500), String("command foo.bar not found")})
	if !IsMethodNotFound(f) || !IsFault(f, 500, "") || IsFault(f, 404, "") {
		t.Fatalf("fault helpers wrong for %v", f)
	}
	if got := f.Error(); got != "foo.bar: kamailio fault 500 command foo.bar not found" {
		t.Fatalf("Error() = %q", got)
	}
	if f := faultFrom("x", nil); f.Code != -1 || f.Message != "" {
		t.Fatalf("empty fault = %+v", f)
	}
}

func TestJSON(t *testing.T) {
	v := Struct(Named("a", Int(-1)), Named("b", Double(2.5)), Named("a", String("x\"y")),
		Named("l", Array(Int(1), Bytes("z"))), Named("u", Value{Kind: KindStruct, Members: []Member{{Value: Int(3)}}}))
	got, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":-1,"b":2.5,"a":"x\"y","l":[1,"z"],"u":[3]}`
	if string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		v    Value
		want float64
		ok   bool
	}{
		{String("18446744073709551615"), 18446744073709551615, true},
		{String("9223372036854776000"), 9223372036854776000, true},
		{String("-5"), -5, true},
		{String("1.25"), 1.25, true},
		{String("abc"), 0, false},
		{Int(-3), -3, true},
		{Double(0.5), 0.5, true},
		{Value{Kind: KindStruct}, 0, false},
	}
	for _, tt := range tests {
		got, err := tt.v.Float()
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Float(%#v) = %v, %v", tt.v, got, err)
		}
	}
}

// FuzzDecodePayload: arbitrary payloads never panic, and whatever decodes
// re-encodes to something that decodes to the same values.
func FuzzDecodePayload(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := DecodePayload(b)
		checkLazy(t, b, vals, err)
		if err != nil {
			return
		}
		var enc []byte
		for _, v := range vals {
			if enc, err = AppendValue(enc, v); err != nil {
				return // e.g. a double outside the encodable range
			}
		}
		again, err := DecodePayload(enc)
		if err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(vals)) {
			t.Fatalf("re-encode changed values:\n%#v\n%#v", again, vals)
		}
	})
}

// checkLazy: a lazy decode at any depth accepts what a full decode accepts,
// and expanded gives the same values.
func checkLazy(t *testing.T, b []byte, full []Value, fullErr error) {
	t.Helper()
	for depth := 0; depth <= 3; depth++ {
		lazy, err := decodeString(string(b), depth+1)
		if (err == nil) != (fullErr == nil) {
			t.Fatalf("lazy depth %d: error %v, full decode: %v", depth, err, fullErr)
		}
		if err != nil {
			continue
		}
		for i := range lazy {
			if depth <= 1 && (lazy[i].Kind == KindStruct || lazy[i].Kind == KindArray) {
				checkEach(t, lazy[i], full[i])
			}
			if lazy[i], err = expandAll(lazy[i]); err != nil {
				t.Fatalf("lazy depth %d: expand: %v", depth, err)
			}
		}
		if !reflect.DeepEqual(normalize(lazy), normalize(full)) {
			t.Fatalf("lazy depth %d, expanded:\n%#v\nfull:\n%#v", depth, lazy, full)
		}
	}
}

// checkEach: walking the members of a container, encoded or built, gives
// the members of the full decode, and an error from the callback stops the
// walk and comes back.
func checkEach(t *testing.T, v, full Value) {
	t.Helper()
	var got []Member
	err := v.Each(func(m Member) error {
		var err error
		m.Value, err = expandAll(m.Value)
		got = append(got, m)
		return err
	})
	if err != nil {
		t.Fatalf("Each: %v", err)
	}
	want := full
	want.Members = slices.Clone(full.Members)
	if g := normalize([]Value{{Kind: v.Kind, Members: got}}); !reflect.DeepEqual(g, normalize([]Value{want})) {
		t.Fatalf("Each gave\n%#v\nfull:\n%#v", g, want)
	}
	// A walk that descends into every struct and array, in the same pass,
	// rebuilds the full decode.
	if g, err := walkAll(v.Kind, v.Walk); err != nil {
		t.Fatalf("Walk: %v", err)
	} else if !reflect.DeepEqual(normalize([]Value{g}), normalize([]Value{want})) {
		t.Fatalf("Walk gave\n%#v\nfull:\n%#v", g, want)
	}
	if len(got) > 0 {
		stop := errors.New("stop")
		calls := 0
		if err := v.Each(func(Member) error { calls++; return stop }); err != stop || calls != 1 {
			t.Fatalf("Each after the callback's error: %v, %d calls", err, calls)
		}
	}
}

// walkAll rebuilds a container of kind k by walking it, descending into
// every struct and array with the cursor's Walk.
func walkAll(k Kind, walk func(func(*Cursor) error) error) (Value, error) {
	out := Value{Kind: k}
	err := walk(func(c *Cursor) error {
		var m Member
		var err error
		if k := c.Kind(); k == KindStruct || k == KindArray {
			m = Member{Name: c.Name(), Named: c.Named()}
			m.Value, err = walkAll(k, c.Walk)
		} else {
			m, err = c.Member()
		}
		out.Members = append(out.Members, m)
		return err
	})
	return out, err
}

// expandAll expands v and everything in it.
func expandAll(v Value) (Value, error) {
	v, err := v.Expand()
	if err != nil {
		return v, err
	}
	for i := range v.Members {
		if v.Members[i].Value, err = expandAll(v.Members[i].Value); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Lazy decoding of the recorded replies: containers below the depth are
// left encoded (no members), and expand to the full decode.
func TestLazyDecodeRecorded(t *testing.T) {
	lazyContainers := 0
	for name, b := range recordings(t) {
		_, payload := splitPacket(t, name, b)
		full, err := DecodePayload(payload)
		checkLazy(t, payload, full, err)
		lazy, _ := decodeString(string(payload), 3)
		for _, v := range lazy {
			for _, m := range v.Members {
				for _, x := range m.Value.Members {
					if (x.Value.Kind == KindStruct || x.Value.Kind == KindArray) && x.Value.Members == nil && x.Value.Str != "" {
						lazyContainers++
					}
				}
			}
		}
	}
	if lazyContainers == 0 {
		t.Fatal("no recorded reply had a container left encoded at depth 3")
	}
}

// FuzzParseHeader: arbitrary headers never panic and never announce more
// than the cap.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0xa1, 0x1c, 0x7f, 0xff, 0xff, 0xff, 0x01})
	f.Add(AppendHeader(nil, TypeFault, 300, 0xdeadbeef))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b, 1<<16)
		if err != nil {
			return
		}
		if n > len(b) || n < MinHeaderSize || n > MaxHeaderSize || h.Length > 1<<16 {
			t.Fatalf("header %+v n=%d from % x", h, n, b)
		}
	})
}

// An encoded container never looks empty: Get finds its members and its
// JSON is the full decode's.
func TestEncodedLooksFull(t *testing.T) {
	checked := 0
	for name, b := range recordings(t) {
		_, payload := splitPacket(t, name, b)
		full, err := DecodePayload(payload)
		if err != nil {
			continue // recorded faults and such
		}
		enc, err := decodeString(string(payload), 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, v := range enc {
			if !v.Encoded() {
				continue
			}
			checked++
			if v.Members != nil {
				t.Fatalf("%s: encoded container with members", name)
			}
			for _, m := range full[i].Members {
				if m.Named {
					if got, ok := v.Get(m.Name); !ok || got.Kind != m.Value.Kind {
						t.Fatalf("%s: Get(%q) on the encoded struct: %v %v", name, m.Name, got.Kind, ok)
					}
				}
			}
			a, err1 := json.Marshal(v)
			b, err2 := json.Marshal(full[i])
			if err1 != nil || err2 != nil || string(a) != string(b) {
				t.Fatalf("%s: JSON of the encoded value %.80s (%v), full %.80s (%v)", name, a, err1, b, err2)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d encoded containers", checked)
	}
}
