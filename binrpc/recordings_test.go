package binrpc

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .json golden files from the recordings")

// recordings returns the replies recorded from a real Kamailio by
// scripts/record-replies.sh: each NAME.bin holds one whole packet (header
// and payload) as ctl sent it.
func recordings(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/replies/*.bin")
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
		out[strings.TrimSuffix(filepath.Base(f), ".bin")] = b
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
