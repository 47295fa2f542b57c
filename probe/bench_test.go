package probe

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

// BenchmarkProbe probes a synthetic 1 % instance over TCP as Prometheus
// does (its Accept header, gzip), on a kept target: the exporter's cost of
// one probe of a small Kamailio (scripts/bench-fleet.sh measures a fleet).
func BenchmarkProbe(b *testing.B) {
	replies, err := synthetic.Scaled(1).Replies()
	if err != nil {
		b.Fatal(err)
	}
	s, err := fakectl.Start("tcp", synthetic.Handler(replies))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	file := filepath.Join(b.TempDir(), "probe.yml")
	writeConfig(b, file, "targets:\n  - match: \"tcp://127.0.0.1:*\"\n")
	h := newHandlerKeeping(b, file, DefaultMaxTargets)
	path := "/probe?target=" + url.QueryEscape(s.URI())
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept", "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("probe: %d", w.Code)
		}
	}
}
