package binrpc

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .json golden files from the recordings")

// recordings returns the replies recorded from real Kamailio releases by
// scripts/record-replies.sh: each RELEASE/NAME.bin holds one whole packet
// (header and payload) as ctl sent it; the map's keys are RELEASE/NAME.
func recordings(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/replies/*/*.bin")
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no recorded replies in testdata/replies; run scripts/record-replies.sh")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		name, _ := filepath.Rel("testdata/replies", strings.TrimSuffix(f, ".bin"))
		out[filepath.ToSlash(name)] = b
	}
	return out
}

func splitPacket(tb testing.TB, name string, b []byte) (Header, []byte) {
	tb.Helper()
	h, n, err := ParseHeader(b, 0)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	if n+h.Length != len(b) {
		tb.Fatalf("%s: %d bytes, header announces %d", name, len(b), n+h.Length)
	}
	return h, b[n:]
}

// Every recorded reply decodes, re-encodes to the very bytes Kamailio sent,
// and matches its golden JSON rendering.
func TestRecordedReplies(t *testing.T) {
	for name, b := range recordings(t) {
		t.Run(name, func(t *testing.T) {
			h, payload := splitPacket(t, name, b)
			vals, err := DecodePayload(payload)
			if err != nil {
				t.Fatal(err)
			}
			if h.Type == TypeFault {
				f := faultFrom(name, vals)
				if f.Code <= 0 || f.Message == "" {
					t.Fatalf("fault without code or message: %+v", f)
				}
			}
			var enc []byte
			for _, v := range vals {
				if enc, err = AppendValue(enc, v); err != nil {
					t.Fatal(err)
				}
			}
			if string(enc) != string(payload) {
				t.Errorf("re-encoding differs from Kamailio's bytes")
			}
			got, err := json.MarshalIndent(vals, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "replies", name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestRecordedReplies -update)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
				t.Errorf("decoded reply differs from %s:\n%s", golden, got)
			}
		})
	}
}

func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for name, b := range recordings(tb) {
		_, payload := splitPacket(tb, name, b)
		seeds = append(seeds, payload)
	}
	return append(seeds, []byte{0x03, 0x25, 'a', 0, 0x40, 0xff, 0xff, 0xff, 0xff, 0x83}, []byte{0x04, 0x84})
}

// BenchmarkDecode reports the cost of decoding each recorded reply.
func BenchmarkDecode(b *testing.B) {
	recs := recordings(b)
	names := make([]string, 0, len(recs))
	for n := range recs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		_, payload := splitPacket(b, name, recs[name])
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodePayload(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fieldsPayload is a struct of n named ints and n named strings, like
// stats.fetch's reply: 2n values and 2n member names.
func fieldsPayload(tb testing.TB, n int) []byte {
	var ms []Member
	for i := range n {
		ms = append(ms, Named(fmt.Sprintf("int_%06d", i), Int(int64(i)-int64(n/2))),
			Named(fmt.Sprintf("str_%06d", i), String(fmt.Sprintf("value %d", i))))
	}
	p, err := AppendValue(nil, Struct(ms...))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkDecodeFields decodes replies of 20 to 200 000 fields and
// reports allocations per decoded field: the allocations of a reply do not
// grow with its fields (one copy of the payload for all strings, a few
// blocks for all members).
func BenchmarkDecodeFields(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		payload := fieldsPayload(b, n)
		b.Run(fmt.Sprintf("fields=%d", 2*n), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodePayload(payload); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(testing.AllocsPerRun(3, func() { DecodePayload(payload) })/float64(2*n), "allocs/field")
		})
	}
}

// The decoder's allocations per reply are a handful, whatever the number
// of fields: not one per string or per member.
func TestDecodeAllocationsDoNotGrowWithFields(t *testing.T) {
	small, large := fieldsPayload(t, 10), fieldsPayload(t, 10000)
	a := testing.AllocsPerRun(5, func() { DecodePayload(small) })
	b := testing.AllocsPerRun(5, func() { DecodePayload(large) })
	// The member blocks double: 20 000 members take a few more blocks.
	// Per-field allocations would be 20 000 more; block doubling and (under
	// -race, which makes sync.Pool drop items) scratch regrowth are O(log n).
	if a > 10 || b > a+40 {
		t.Fatalf("allocations: %v for 20 fields, %v for 20 000 fields", a, b)
	}
	vals, err := DecodePayload(large)
	if err != nil || len(vals) != 1 || len(vals[0].Members) != 20000 {
		t.Fatalf("decoded %d values, err %v", len(vals), err)
	}
	if m := vals[0].Members[19999]; m.Name != "str_009999" || m.Value.Str != "value 9999" {
		t.Fatalf("last member %+v", m)
	}
	if m := vals[0].Members[0]; m.Value.Int != -5000 {
		t.Fatalf("first member %+v", m)
	}
}
