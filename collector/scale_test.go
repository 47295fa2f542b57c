package collector

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

// BenchmarkScale scrapes synthetic instances of 1 %, 10 % and 100 % of the
// largest synthetic instance (256 processes, 10 000 dispatcher destinations
// in 100 sets, 500 htables, 5 000 statistics, 1 000 dialog profiles) and
// reports the cost per item: it should stay flat as the instance grows.
// The fake ctl server sends pre-encoded replies, so its share of the
// figures is small (its writes and its decoding of the requests).
func BenchmarkScale(b *testing.B) {
	for _, pct := range []int{1, 10, 100} {
		inst := synthetic.Scaled(pct)
		b.Run(fmt.Sprintf("x%d_items%d", pct, inst.Items()), func(b *testing.B) {
			e := syntheticExporter(b, inst, nil)
			b.ReportAllocs()
			for b.Loop() {
				out := e.scrape(context.Background())
				if out.page.Len() < inst.Items() {
					b.Fatalf("%d samples for %d items", out.page.Len(), inst.Items())
				}
			}
			perItem(b, inst.Items())
		})
	}
}

// syntheticExporter serves inst on a fake ctl server for the benchmark and
// returns an exporter for it running the collectors named (all when none).
func syntheticExporter(b testing.TB, inst synthetic.Instance, collectors []string) *Exporter {
	b.Helper()
	replies, err := inst.Replies()
	if err != nil {
		b.Fatal(err)
	}
	s, err := fakectl.Start("unix", synthetic.Handler(replies))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	addr, _ := binrpc.ParseURI(s.URI())
	var sel Selection
	if len(collectors) > 0 {
		sel = Selection{}
		for _, n := range Names() {
			on := slices.Contains(collectors, n)
			sel[n] = &on
		}
	}
	settings := Settings{AllStatistics: true, DialogProfiles: inst.ProfileNames()}
	e := NewExporter(addr, time.Minute, settings, sel, promslog.NewNopLogger())
	b.Cleanup(e.Close)
	e.scrape(context.Background()) // learn the calls and the method list
	return e
}

// perItem reports time, bytes and allocations per item and per scrape.
func perItem(b *testing.B, items int) {
	n := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/float64(items), "ns/item")
	b.ReportMetric(float64(items), "items")
}

// BenchmarkPerItem isolates the cost of one kind of item, with only its
// collectors running, at 100, 1 000 and 10 000 items: the cost per item
// should stay within 1.5× across the range. "empty" is the same scrape with
// no items (the fixed cost: core.uptime, the collector calls themselves);
// scripts/bench-scale.sh subtracts it to give the marginal cost per item.
func BenchmarkPerItem(b *testing.B) {
	kinds := []struct {
		name       string
		collectors []string
		make       func(n int) synthetic.Instance
	}{
		{"destination", []string{"dispatcher.list"}, func(n int) synthetic.Instance {
			if n < 100 {
				return synthetic.Instance{Sets: n, DestsPerSet: n}
			}
			return synthetic.Instance{Sets: n / 100, DestsPerSet: 100}
		}},
		{"process", []string{"core.psa", "pkg.stats"}, func(n int) synthetic.Instance { return synthetic.Instance{Procs: n} }},
		{"statistic", []string{"stats.fetch"}, func(n int) synthetic.Instance { return synthetic.Instance{Stats: n} }},
	}
	for _, k := range kinds {
		for _, n := range []int{0, 100, 1000, 10000} {
			name := fmt.Sprintf("%s/n=%d", k.name, n)
			if n == 0 {
				name = k.name + "/empty"
			}
			b.Run(name, func(b *testing.B) {
				e := syntheticExporter(b, k.make(n), k.collectors)
				b.ReportAllocs()
				for b.Loop() {
					out := e.scrape(context.Background())
					if out.page.Len() < n {
						b.Fatalf("%d samples for %d items", out.page.Len(), n)
					}
				}
				perItem(b, max(n, 1))
			})
		}
	}
}

// BenchmarkHeapSteadyState scrapes the recorded Kamailio 10 000 times and
// reports the live heap (after GC) at scrape 1 000 and at scrape 10 000:
// a flat heap means nothing accumulates between scrapes.
func BenchmarkHeapSteadyState(b *testing.B) {
	s := replay(b, "unix", nil)
	e := newTestExporter(b, s, 5*time.Second)
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc)
	}
	for b.Loop() {
		var at1k float64
		for i := 1; i <= 10000; i++ {
			e.scrape(context.Background())
			if i == 1000 {
				at1k = heap()
			}
		}
		at10k := heap()
		b.ReportMetric(at1k, "heap-at-1k-B")
		b.ReportMetric(at10k, "heap-at-10k-B")
		b.ReportMetric(at10k-at1k, "heap-growth-B")
	}
}

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	h http.Header
	n int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkScaleHTTP is the 100x scrape as Prometheus gets it: the
// handler's text page (plain and gzipped), written to nowhere.
func BenchmarkScaleHTTP(b *testing.B) {
	inst := synthetic.Scaled(100)
	e := syntheticExporter(b, inst, nil)
	h := e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, promslog.NewNopLogger())
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept-Encoding", enc)
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.n < 100000 {
					b.Fatalf("%d bytes", w.n)
				}
			}
		})
	}
}
